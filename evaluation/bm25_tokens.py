"""The BM25 yardstick's tokens: words that keep their combining marks, character n-grams,
and n-grams in place of words for scripts written without spaces.

Text is NFKC-normalised (full-width Latin, composed accents) and case-folded, then cut
into *word runs*: maximal runs of letters, digits and combining marks (Unicode L*, N*,
M*). Python's `\\w` leaves marks out, which cut a Devanagari word at every vowel sign
("हिन्दी" became "ह", "न", "द").

* A run in a script written with spaces gives the word as one token, `#word#`, and the
  character trigrams of `#word#` (a word of n characters gives n of them: `#wo`, `wor`,
  `ord`, `rd#`), so inflected and compound forms still share most of their tokens.
  The padded whole word never equals a trigram, so a word match and a trigram match
  stay separate terms with their own document frequencies.
* A run in a script written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar) is a
  phrase, not a word: it gives the n-grams of its grapheme clusters (a letter with its
  marks), n = 1 and 2 (`SPACELESS_NGRAMS`), as Lucene's CJK analyser does with bigrams;
  the unigrams let a one-character word (common in Chinese) match.

Example:
    >>> tokenize("Red lamp")
    ['#red#', '#re', 'red', 'ed#', '#lamp#', '#la', 'lam', 'amp', 'mp#']
    >>> tokenize("台灯")
    ['台', '灯', '台灯']
"""

import unicodedata
from typing import List

import regex

# Script_Extensions, so that the kana prolonged sound mark and the Han iteration mark
# (script Common) stay inside the phrase they belong to.
_SPACELESS = (r"\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Thai}\p{scx=Lao}"
              r"\p{scx=Khmer}\p{scx=Myanmar}")
_RUN = regex.compile(
    rf"(?P<spaceless>(?:[{_SPACELESS}]\p{{M}}*)+)"
    rf"|(?P<word>(?:(?![{_SPACELESS}])[\p{{L}}\p{{N}}\p{{M}}])+)"
)
_CLUSTER = regex.compile(r"\X")
WORD_NGRAM = 3
SPACELESS_NGRAMS = (1, 2)


def word_tokens(word: str) -> List[str]:
    """`#word#` and the character trigrams of `#word#` (one-character words: `#w#` only).

    Example:
        >>> word_tokens("हिन्दी")[:3]
        ['#हिन्दी#', '#हि', 'हिन']
    """
    padded = f"#{word}#"
    if len(word) < 2:
        return [padded]
    return [padded] + [padded[i : i + WORD_NGRAM] for i in range(len(padded) - WORD_NGRAM + 1)]


def spaceless_tokens(phrase: str) -> List[str]:
    """The n-grams (n in `SPACELESS_NGRAMS`) of the phrase's grapheme clusters.

    Example:
        >>> spaceless_tokens("ภาษา")
        ['ภ', 'า', 'ษ', 'า', 'ภา', 'าษ', 'ษา']
    """
    clusters = _CLUSTER.findall(phrase)
    return ["".join(clusters[i : i + n])
            for n in SPACELESS_NGRAMS for i in range(len(clusters) - n + 1)]


def tokenize(text: str) -> List[str]:
    """BM25 tokens of `text`, in text order within each run (see the module docstring).

    Example:
        >>> tokenize("ＴＶ 4k")
        ['#tv#', '#tv', 'tv#', '#4k#', '#4k', '4k#']
    """
    tokens: List[str] = []
    for match in _RUN.finditer(unicodedata.normalize("NFKC", text).casefold()):
        if match.lastgroup == "word":
            tokens.extend(word_tokens(match.group()))
        else:
            tokens.extend(spaceless_tokens(match.group()))
    return tokens
