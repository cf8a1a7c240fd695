"""How to turn the pretrained encoder into word vectors: measured by translation retrieval.

For 20 everyday words in English, Spanish, German and Chinese (one Han character each
for Chinese, as the student's tokeniser splits Chinese), embeds them with the encoder
among the 3,000 most frequent XQuAD-R tokens of the four languages (the PCA is fitted on
all of them, as it is on a corpus vocabulary), and counts how often a word's nearest
neighbour among the 20 words of another language is its translation (top-1, averaged
over the 12 language pairs). Variants: with or without e5's "query: " prefix, pooling
all tokens (e5's own) or the word's own tokens only, and 64 or 128 PCA dimensions.

    PYTHONPATH=. .venv/bin/python bench/word_vector_recipe.py [--data-dir ../shared/data]

Writes bench/results/word_vector_recipe.json and prints the table.
"""

import argparse
import collections
import json
import os
import re
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# (en, es, de, zh): the student lower-cases, and splits Chinese into characters.
TRANSLATIONS = [
    ("dog", "perro", "hund", "狗"), ("cat", "gato", "katze", "猫"), ("car", "coche", "auto", "车"),
    ("house", "casa", "haus", "房"), ("red", "rojo", "rot", "红"),
    ("apple", "manzana", "apfel", "果"), ("water", "agua", "wasser", "水"),
    ("king", "rey", "könig", "王"), ("city", "ciudad", "stadt", "城"),
    ("war", "guerra", "krieg", "战"), ("river", "río", "fluss", "河"),
    ("book", "libro", "buch", "书"), ("year", "año", "jahr", "年"),
    ("mountain", "montaña", "berg", "山"), ("school", "escuela", "schule", "校"),
    ("music", "música", "musik", "乐"), ("church", "iglesia", "kirche", "教"),
    ("money", "dinero", "geld", "钱"), ("fire", "fuego", "feuer", "火"), ("sea", "mar", "meer", "海"),
]
LANGUAGES = ("en", "es", "de", "zh")
VOCABULARY_SIZE = 3000
_HAN = re.compile(r"[\u4e00-\u9fff]")


def corpus_vocabulary(data_dir: str) -> list:
    counts = collections.Counter()
    for language in LANGUAGES:
        with open(os.path.join(data_dir, "xquad-r", f"{language}.json"), encoding="utf-8") as f:
            text = json.dumps(json.load(f), ensure_ascii=False).lower()
        for token in re.findall(r"\w+", text):
            counts.update(list(token) if _HAN.search(token) else [token])
    return [word for word, _ in counts.most_common(VOCABULARY_SIZE)]


def translation_top1(vectors: np.ndarray) -> float:
    per_language = vectors[:4 * len(TRANSLATIONS)].reshape(len(TRANSLATIONS), 4, -1)
    hits = []
    for source in range(4):
        for target in range(4):
            if source != target:
                similarity = per_language[:, source] @ per_language[:, target].T
                hits.append(np.mean(similarity.argmax(1) == np.arange(len(TRANSLATIONS))))
    return float(np.mean(hits))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--preset", default="multilingual-e5-small")
    args = parser.parse_args()

    from trainer.student.word_vectors import _load_encoder, encode_words, principal_axes
    from trainer.teacher.presets.registry import resolve_preset

    tested = [word for group in TRANSLATIONS for word in group]
    words = tested + [w for w in corpus_vocabulary(args.data_dir) if w not in set(tested)]
    preset = resolve_preset(args.preset)
    encoder = _load_encoder(preset)
    rows = []
    for prefix in ("query: ", ""):
        for own_tokens_only in (False, True):
            raw = encode_words(words, preset, encoder=encoder, prefix=prefix,
                               own_tokens_only=own_tokens_only)
            for dims in (64, 128):
                rows.append({"prefix": prefix, "own_tokens_only": own_tokens_only, "dims": dims,
                             "translation_top1": round(translation_top1(
                                 principal_axes(raw, dims)), 3)})
                print(rows[-1], flush=True)
    report = {"preset": args.preset, "words_in_pca": len(words),
              "translations": len(TRANSLATIONS), "languages": LANGUAGES, "rows": rows}
    output = os.path.join(ROOT, "bench", "results", "word_vector_recipe.json")
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
