"""Language detection: fastText's bundled lite model, deterministic, thread-safe, never raising."""

import concurrent.futures

import pytest

from relevance import language
from relevance.language import MIN_LETTERS, detect_language, normalise_language_code

SENTENCES = {
    "en": "The quick brown fox jumps over the lazy dog while the children watch.",
    "es": "El perro corre por el parque mientras los niños juegan con la pelota.",
    "ru": "Мы гуляли по парку и разговаривали о новых книгах и фильмах.",
    "ja": "今日はとても良い天気なので、公園で散歩をしました。",
    "zh": "我们今天在公园里散步，天气非常好，大家都很开心。",
    "de": "Wir sind heute mit dem Fahrrad durch den schönen Wald gefahren.",
    "fr": "Nous avons mangé une délicieuse tarte aux pommes chez ma grand-mère.",
    "ko": "오늘은 날씨가 좋아서 친구들과 함께 공원에서 산책을 했습니다.",
}

# Short texts, as search queries and product titles are.
SHORT = [
    ("en", "wireless headphones with microphone"),
    ("en", "How many people live in Warsaw?"),
    ("es", "zapatos rojos de mujer"),
    ("es", "¿Cuántas personas viven en Varsovia?"),
    ("de", "Wie viele Menschen leben in Warschau?"),
    ("de", "Kinderfahrrad mit Stützrädern"),
    ("zh", "红色真皮鞋子"),
    ("zh", "手机"),
    ("zh", "华沙有多少人口？"),
    ("ja", "東京大学に行きました"),
    ("ja", "赤い靴"),  # kanji + kana
    ("ko", "서울에 갑니다"),
    ("ko", "빨간 신발"),
]


@pytest.mark.parametrize("code,text", sorted(SENTENCES.items()))
def test_clear_sentences(code, text):
    assert detect_language(text) == code


@pytest.mark.parametrize("code,text", SHORT)
def test_short_texts(code, text):
    assert detect_language(text) == code


@pytest.mark.parametrize(
    "text", ["", "   ", "12345 !!! ...", None, 42, b"\xff\xfe", "\u200b\u200b", "42 - 7 = 35 €"]
)
def test_undetectable_input_never_raises(text):
    assert detect_language(text) == "und"


def test_und_below_min_letters():
    assert MIN_LETTERS == 2
    assert detect_language("a") == "und"
    assert detect_language("  X 2000 !! ") == "und"  # one letter among digits and punctuation
    assert detect_language("本") == "und"
    assert detect_language("tv") != "und"  # MIN_LETTERS letters are enough
    assert detect_language("手机") == "zh"


def test_letters_are_counted_with_isalpha(monkeypatch):
    monkeypatch.setattr(language, "MIN_LETTERS", 10)
    assert detect_language("12 shoes !") == "und"  # 5 letters
    assert detect_language("wireless headphones") == "en"


def test_bytes_input_is_decoded():
    assert detect_language("Die Katze schläft auf dem Sofa.".encode("utf-8")) == "de"
    assert detect_language("我们去公园吧".encode("utf-8")) == "zh"


def test_newlines_and_long_text():
    assert detect_language("The cat\nsleeps on the\r\nsofa\tall day.") == "en"
    assert detect_language("El gato duerme en el sofá todo el día. " * 2000) == "es"


def test_short_chinese_is_chinese():
    # Short Han text: the lite model answers "ja"/"ko" or, knowing none of its n-grams,
    # its prior "en"; the script decides.
    for text in ("红色真皮鞋子", "免疫", "估计", "促进植被生长"):
        assert detect_language(text) == "zh", text


def test_chinese_varieties_fold_to_zh():
    assert detect_language("哪些实体在立法过程中拥有修改和否决的权力？") == "zh"  # lite model: "wuu"


def test_explicit_codes_are_not_folded_beyond_variants():
    assert normalise_language_code("yue") == "yue"


def test_deterministic():
    text = "red shoes zapatos rojos"  # ambiguous on purpose
    assert len({detect_language(text) for _ in range(20)}) == 1


def test_threads_agree_with_serial():
    texts = [text for _, text in SHORT] + list(SENTENCES.values())
    texts = texts * 20
    serial = [detect_language(text) for text in texts]
    language._detector = None  # threads race to load the model
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(detect_language, texts))
    assert threaded == serial


def test_failure_gives_und(monkeypatch, caplog):
    class Broken:
        def detect(self, *args, **kwargs):
            raise RuntimeError("boom")

    monkeypatch.setattr(language, "_detector", Broken())
    assert detect_language("The quick brown fox") == "und"
    assert "language detection failed" in caplog.text


def test_normalise_language_code():
    assert normalise_language_code(" ZH-TW ") == "zh"
    assert normalise_language_code("pt") == "pt"
    assert normalise_language_code("") == ""
