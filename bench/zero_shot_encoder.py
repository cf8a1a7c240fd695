"""The pretrained encoder with no fine-tuning, as a bi-encoder: nDCG@10 on a carve's test split.

    .venv/bin/python bench/zero_shot_encoder.py --dataset xquad-r [--data-dir ../shared/data]

multilingual-e5-small was pre-trained as a bi-encoder: the mean-pooled output of
"query: q" against that of "passage: item text", by cosine. Scoring the test pairs this
way, with no label seen, shows what the pretrained weights alone know about relevance;
a fine-tuned cross-encoder teacher that scores below it has lost that knowledge rather
than added to it. BM25 (fitted on the carve's labeled rows) is printed beside it.
JSON goes to bench/results/zero_shot_<dataset>.json and stdout: nDCG@10 overall and per
language, pairs scored per second. The encoding is the ItemEmbedder's own
(`components.item_embedder.text_encoder.TextEncoder`: the similarity prior's packing and
pooling, texts batched in length order).
"""

import argparse
import collections
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

import numpy as np  # noqa: E402

import scaling_data  # noqa: E402
from components.item_embedder.text_encoder import TextEncoder  # noqa: E402
from components.item_embedder.texts import item_embedding_text  # noqa: E402
from evaluation import metrics  # noqa: E402
from evaluation.baseline import fit_bm25_baseline  # noqa: E402
from trainer.teacher.presets.registry import resolve_preset  # noqa: E402


def load_bi_encoder(preset: str, sequence_length: int = 128) -> TextEncoder:
    """The preset's encoder as the similarity prior packs and pools it (queries 32
    tokens, items `sequence_length`), for `bi_encoder_cosines`."""
    return TextEncoder(preset, query_length=32, item_length=sequence_length, batch_size=64)


def bi_encoder_cosines(bi_encoder: TextEncoder, rows):
    """Encodes the distinct queries and item texts of `rows` once; returns a function
    from rows (a subset) to their query-item cosines."""
    queries = sorted({row["query"] for row in rows})
    items = sorted({item_embedding_text(row) for row in rows})
    query_vectors = dict(zip(queries, bi_encoder.encode_queries(queries)))
    item_vectors = dict(zip(items, bi_encoder.encode_items(items)))
    return lambda subset: np.array(
        [query_vectors[row["query"]] @ item_vectors[item_embedding_text(row)]
         for row in subset])


def ndcg_by_language(rows, scores):
    grades = np.array([r["grade"] for r in rows])
    queries = [r["query"] for r in rows]
    by_language = collections.defaultdict(list)
    for index, row in enumerate(rows):
        by_language[row.get("language", "en")].append(index)
    result = {"all": round(metrics.mean_ndcg(grades, scores, queries, 10)[0], 4)}
    for language, index in sorted(by_language.items()):
        result[language] = round(metrics.mean_ndcg(
            grades[index], scores[index], [queries[i] for i in index], 10)[0], 4)
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, choices=["crowdflower", "xquad-r"])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--workdir", default="/tmp/zero_shot")
    parser.add_argument("--preset", default="multilingual-e5-small")
    parser.add_argument("--sequence-length", type=int, default=128)
    args = parser.parse_args(argv)

    inputs = scaling_data.prepare(args.dataset, args.data_dir,
                                  os.path.join(args.workdir, args.dataset))
    read = lambda path: [json.loads(line) for line in open(path, encoding="utf-8")]
    labeled, test = read(inputs["labeled"]), read(inputs["test"])
    bi_encoder = load_bi_encoder(resolve_preset(args.preset), args.sequence_length)
    started = time.time()
    cosine = bi_encoder_cosines(bi_encoder, test)(test)
    seconds = time.time() - started

    bm25 = fit_bm25_baseline(labeled, num_grades=inputs["num_grades"])
    bm25_scores = bm25.predict(test).scores
    result = {
        "dataset": args.dataset, "preset": args.preset, "num_test_pairs": len(test),
        "sequence_length": args.sequence_length,
        "zero_shot_ndcg10": ndcg_by_language(test, cosine),
        "bm25_ndcg10": ndcg_by_language(test, bm25_scores),
        "pairs_per_second": round(len(test) / seconds, 1),
        "snapshot_commit": os.environ.get("SNAPSHOT_COMMIT"),
    }
    output = os.path.join(ROOT, "bench", "results", f"zero_shot_{args.dataset}.json")
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w") as out:
        json.dump(result, out, indent=2, sort_keys=True)
    print(json.dumps(result, indent=2, sort_keys=True))
    return result


if __name__ == "__main__":
    main()
