"""The student's word-vector match features as unsupervised rankers, with and without idf.

    PYTHONPATH=. .venv/bin/python bench/word_vector_rankers.py [--data-dir ../shared/data] \\
        [--bi-encoder] [--item-words N]

On the XQuAD-R cross-lingual carve (bench/scaling_data.py), computes in numpy what
`WordVectorInteractions` computes in the student's graph, from the same recipe: the
corpus vocabulary of the labeled and unlabeled rows, one e5 pass per word, PCA to 128
dimensions. Each feature then ranks the candidates of every question on its own, with no
label seen, on the development questions (`scaling_data.xquad_r_dev`: no test
question) and on the test questions:

* BM25 (document frequencies over the labeled and unlabeled rows, as Transform's);
* soft term match: each query word's best cosine over the item's words, averaged
  plainly or weighted by the word's BM25 idf;
* pooled cosine: of the mean query and item word vectors, plainly or with idf-weighted
  query words;
* BM25 + a soft match: their z-scores within the question, summed;
* with `--bi-encoder` (about 7 minutes on 2 cores): the pretrained encoder itself as a
  bi-encoder (`bench/zero_shot_encoder.py`, the teacher's similarity prior before any
  training), alone and fused with BM25 and the idf-weighted soft match the same way: a
  ceiling for what these signals give together, with no label seen.

It shows which features carry cross-lingual signal before any student is trained.
`--item-words N` lets the soft match see N item words instead of Transform's 64.
Writes bench/results/word_vector_rankers.json and prints nDCG@10 per language.
"""

import argparse
import collections
import math
import os
import re
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import carve  # noqa: E402
import scaling  # noqa: E402
import scaling_data  # noqa: E402
from zero_shot_encoder import (  # noqa: E402
    bi_encoder_cosines, load_bi_encoder, ndcg_by_language)
from evaluation.baseline import fit_bm25_baseline, item_text  # noqa: E402
from relevance import contract  # noqa: E402
from trainer.student import text_features as tx  # noqa: E402
from trainer.student.word_vectors import encode_words, principal_axes  # noqa: E402
from trainer.teacher.presets.registry import resolve_preset  # noqa: E402

# The word-vector features' words: lower-cased `\w` runs, each CJK character a word, as
# the BM25 baseline cut them before its own tokens (evaluation.bm25_tokens) replaced
# them. Kept here so that these features' figures stay comparable; BM25 itself uses
# the yardstick's tokens.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


def tokenize(text):
    return _WORD.findall(text.lower())


def corpus_vocabulary(rows):
    counts = collections.Counter()
    for row in rows:
        counts.update(tokenize(row[contract.QUERY]))
        counts.update(tokenize(item_text(row)))
    return [word for word, _ in counts.most_common(tx.CORPUS_WORD_COUNTS_TOP_K)]


def bm25_idf_of(rows):
    """Lucene's BM25 idf over the rows' item texts, as `trainer.student.bm25.bm25_idf`."""
    document_frequency = collections.Counter()
    for row in rows:
        document_frequency.update(set(tokenize(item_text(row))))
    num_documents = len(rows)
    return lambda word: math.log1p(
        (num_documents - document_frequency.get(word, 0) + 0.5)
        / (document_frequency.get(word, 0) + 0.5))


def match_features(rows, vectors, word_index, idf, item_words_kept=tx.MAX_ITEM_VECTOR_WORDS):
    """Per row: plain and idf-weighted soft match and pooled cosine, over the item's
    first `item_words_kept` words (Transform's cut)."""
    names = ("soft_match", "soft_match_idf", "pooled_cosine", "pooled_cosine_idf")
    features = {name: np.zeros(len(rows)) for name in names}
    for index, row in enumerate(rows):
        query_words = [w for w in tokenize(row[contract.QUERY])[:tx.MAX_QUERY_TOKENS]
                       if w in word_index]
        item_words = [w for w in tokenize(item_text(row))[:item_words_kept]
                      if w in word_index]
        if not query_words or not item_words:
            continue
        query = vectors[[word_index[w] for w in query_words]]
        item = vectors[[word_index[w] for w in item_words]]
        weights = np.array([idf(w) for w in query_words])
        best = (query @ item.T).max(axis=1)
        item_mean = item.sum(axis=0) / max(np.linalg.norm(item.sum(axis=0)), 1e-9)

        def cosine(pooled_query):
            return float(pooled_query @ item_mean / max(np.linalg.norm(pooled_query), 1e-9))

        features["soft_match"][index] = best.mean()
        features["soft_match_idf"][index] = (best * weights).sum() / max(weights.sum(), 1e-9)
        features["pooled_cosine"][index] = cosine(query.sum(axis=0))
        features["pooled_cosine_idf"][index] = cosine((query * weights[:, None]).sum(axis=0))
    return features


def zscores_within_query(rows, values):
    """Each query's values minus their mean, over their standard deviation: the terms
    a no-label fusion of rankers sums."""
    out = np.zeros(len(values))
    positions = collections.defaultdict(list)
    for index, row in enumerate(rows):
        positions[carve.query_group(row)].append(index)
    for index in positions.values():
        group = values[index]
        out[index] = (group - group.mean()) / (group.std() + 1e-6)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--preset", default="multilingual-e5-small")
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--item-words", type=int, default=tx.MAX_ITEM_VECTOR_WORDS,
                        help="item words the soft match sees (default: the student's, "
                             "%(default)s)")
    parser.add_argument("--bi-encoder", action="store_true",
                        help="also rank with the pretrained encoder as a bi-encoder, alone "
                             "and fused with BM25 and the soft match")
    args = parser.parse_args()
    started = time.time()
    rest, labeled, test, num_grades = scaling_data.xquad_r_carve(args.data_dir)
    development, _ = scaling_data.xquad_r_dev(args.data_dir)
    corpus = labeled + [row for row in rest if row[contract.LANGUAGE] != "en"]
    words = corpus_vocabulary(corpus)
    print(f"{len(words):,} corpus words; encoding them with {args.preset}", flush=True)
    vectors = principal_axes(
        encode_words(words, resolve_preset(args.preset), progress=print), args.dims)
    word_index = {word: index for index, word in enumerate(words)}
    idf = bm25_idf_of(corpus)
    bm25 = fit_bm25_baseline(corpus, num_grades)

    document = {"command": "PYTHONPATH=. .venv/bin/python bench/word_vector_rankers.py "
                           + " ".join(sys.argv[1:]),
                "code_commit": scaling._snapshot_commit(), "preset": args.preset,
                "dims": args.dims, "item_words": args.item_words, "corpus_words": len(words),
                "splits": {}}
    if args.bi_encoder:
        print("encoding the development and test pairs as a bi-encoder", flush=True)
        cosines = bi_encoder_cosines(load_bi_encoder(resolve_preset(args.preset)),
                                     development + test)
    for split, rows in (("development", development), ("test", test)):
        features = {"bm25": bm25.normalised_scores(rows),
                    **match_features(rows, vectors, word_index, idf, args.item_words)}
        fusions = [("bm25", "soft_match"), ("bm25", "soft_match_idf")]
        if args.bi_encoder:
            features["bi_encoder"] = cosines(rows)
            fusions += [("bm25", "bi_encoder"), ("bm25", "soft_match_idf", "bi_encoder")]
        for names in fusions:
            features["+".join(names)] = sum(zscores_within_query(rows, features[name])
                                            for name in names)
        result = {name: ndcg_by_language(rows, values) for name, values in features.items()}
        document["splits"][split] = {"pairs": len(rows), "ndcg@10": result}
        print(f"\n{split} ({len(rows):,} pairs), nDCG@10")
        languages = sorted(next(iter(result.values())))
        print("| ranker | " + " | ".join(languages) + " |")
        for name, by_language in result.items():
            print(f"| {name} | " + " | ".join(f"{by_language[k]:.3f}" for k in languages) + " |")
    document["elapsed_seconds"] = round(time.time() - started, 1)
    output = scaling.write_results("word_vector_rankers", document)
    print(f"\nwrote {output} ({document['elapsed_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
