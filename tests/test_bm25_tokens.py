"""The BM25 yardstick's tokens: combining marks stay inside words, and a query in a script
written without spaces matches the item that contains it."""

import unicodedata

import pytest

from evaluation.baseline import fit_bm25_baseline
from evaluation.bm25_tokens import tokenize

# (text, a word it must keep whole): each word holds combining marks, except the Latin,
# Cyrillic and Hangul ones, which must come out whole too.
_WHOLE_WORDS = [
    ("हिन्दी किताबें", "हिन्दी"),  # Devanagari: vowel signs and virama are marks (Mc, Mn)
    ("मैं पुस्तक पढ़ता हूँ", "पढ़ता"),
    ("Ελληνική γλώσσα", "γλώσσα"),
    ("Русский язык", "русский"),
    ("الكِتَابُ العربي", "الكِتَابُ"),  # Arabic with its vowel marks (harakat)
    ("서울에서 만나요", "서울에서"),  # Hangul is written with spaces
    ("Oak TABLE, 2-seat", "table"),
]


@pytest.mark.parametrize("text, word", _WHOLE_WORDS)
def test_words_keep_their_combining_marks(text, word):
    assert f"#{word}#" in tokenize(text)


def test_no_token_starts_a_word_on_a_mark():
    # Python's \w split "हिन्दी" into "ह", "न", "द": words that begin with a mark.
    for text, _ in _WHOLE_WORDS:
        for token in tokenize(text):
            if token.startswith("#") and len(token) > 1:
                assert not unicodedata.category(token[1]).startswith("M"), token


def test_decomposed_and_full_width_text_gives_the_same_tokens():
    assert tokenize("γλω\u0301σσα") == tokenize("γλώσσα")
    assert tokenize("ＴＡＢＬＥ Straße") == tokenize("table STRASSE")


def test_words_give_padded_trigrams():
    assert tokenize("Lamp") == ["#lamp#", "#la", "lam", "amp", "mp#"]
    assert tokenize("a") == ["#a#"]


def test_scripts_without_spaces_give_character_ngrams():
    assert tokenize("我喜欢猫") == ["我", "喜", "欢", "猫", "我喜", "喜欢", "欢猫"]
    # A Thai vowel sign stays with its consonant (one grapheme cluster).
    assert "สื" in tokenize("หนังสือ")
    # The kana prolonged sound mark belongs to the katakana word.
    assert "ヒー" in tokenize("コーヒー")
    # A Latin brand inside a Chinese phrase is a word of its own.
    assert tokenize("iPhone手机")[0] == "#iphone#"


# (query, the item that contains it, an item that does not): no spaces in any of them.
_SPACELESS_PAIRS = [
    ("ภาษาไทย", "หนังสือภาษาไทยสำหรับเด็ก", "รองเท้าวิ่งสีดำ"),  # Thai
    ("ພາສາລາວ", "ປຶ້ມພາສາລາວສຳລັບເດັກ", "ເກີບແລ່ນສີດຳ"),  # Lao
    ("ភាសាខ្មែរ", "សៀវភៅភាសាខ្មែរសម្រាប់កុមារ", "ស្បែកជើងរត់ពណ៌ខ្មៅ"),  # Khmer
    ("မြန်မာစာ", "ကလေးများအတွက်မြန်မာစာအုပ်", "အနက်ရောင်ပြေးဖိနပ်"),  # Myanmar
    ("コーヒー", "おいしいコーヒーをのむ", "くろいくつをかう"),  # Japanese kana
    ("猫", "我喜欢猫和狗", "黑色跑鞋"),  # Han: a one-character word
    ("台灯", "红色台灯", "黑色跑鞋"),
]


@pytest.mark.parametrize("query, match, other", _SPACELESS_PAIRS)
def test_a_query_without_spaces_matches_its_item(query, match, other):
    records = [{"query": query, "title": match, "grade": 2},
               {"query": query, "title": other, "grade": 1}]
    model = fit_bm25_baseline(records, num_grades=2)
    matching, unrelated = model.normalised_scores(records)
    # The unrelated item may share a letter or two (unigrams); the query's phrase it lacks.
    assert matching > unrelated + 0.5
