"""How sure is "model beats BM25"? A paired bootstrap of nDCG@10 over test queries, per language.

    .venv/bin/python bench/paired_bootstrap.py --model TEACHER_DIR --data TEST \\
        --baseline-train LABELED [--format jsonl] [--num-grades 2] [--resamples 10000]

Scores the test pairs with the SavedModel (its `serving_examples` signature, as
`relevance evaluate` does) and with BM25 fitted on `--baseline-train`, takes each query's
nDCG@10 for both (queries with at least two distinct grades, as in the reports), and
resamples the queries of each language with replacement. Per language: the mean of
each, their difference, its standard error and 95% interval, and the share of resamples
in which the model is ahead. A difference smaller than about two standard errors is not
evidence either way. JSON goes to bench/results/paired_bootstrap.json and stdout.
The scaling run's inputs are `WORKDIR/data/test.jsonl` and `WORKDIR/data/labeled.jsonl`.
"""

import argparse
import json
import os
import sys
from typing import Dict, List, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from relevance import contract  # noqa: E402
from evaluation import bootstrap, metrics  # noqa: E402
from evaluation.evaluate import (  # noqa: E402
    _baseline_predictions, load_labeled_records, score_with_saved_model,
)
from relevance.records import record_to_example  # noqa: E402

NDCG_CUTOFF = 10


def per_query_ndcg(records: List[dict], scores: np.ndarray) -> Dict[Tuple[str, str], float]:
    """{(language, query id): nDCG@10 ranked by `scores`} over queries with two or more
    distinct grades, sorted by language then query id."""
    keys = [f"{r[contract.LANGUAGE] or 'und'}\t{r[contract.QUERY_ID]}" for r in records]
    values = metrics.ndcg_by_query([r[contract.GRADE] for r in records], scores, keys,
                                   NDCG_CUTOFF)
    return {tuple(key.split("\t", 1)): values[key] for key in sorted(values)}


def paired_bootstrap(model: np.ndarray, baseline: np.ndarray, resamples: int, seed: int = 0) -> dict:
    """Mean difference (model - baseline) of paired per-query values, with its spread."""
    differences = model - baseline
    means = bootstrap.paired_bootstrap_differences(model, baseline, resamples, seed)
    return {
        "queries": int(len(differences)),
        "model": round(float(model.mean()), 4),
        "baseline": round(float(baseline.mean()), 4),
        "difference": round(float(differences.mean()), 4),
        "standard_error": round(float(means.std()), 4),
        "ci95": [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)],
        "share_model_ahead": round(float((means > 0).mean()), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="SavedModel directory (teacher or student)")
    parser.add_argument("--data", required=True, help="labeled test data")
    parser.add_argument("--baseline-train", required=True, help="labeled data BM25 is fitted on")
    parser.add_argument("--format", default="jsonl")
    parser.add_argument("--num-grades", type=int, default=None)
    parser.add_argument("--resamples", type=int, default=10000)
    parser.add_argument("--output", default=os.path.join(ROOT, "bench", "results", "paired_bootstrap.json"))
    args = parser.parse_args()

    records, num_grades = load_labeled_records(args.data, args.format, args.num_grades)
    serialized = [record_to_example(r).SerializeToString() for r in records]
    model = per_query_ndcg(records, metrics.expected_grade(
        score_with_saved_model(args.model, serialized, num_grades)))
    # BM25 ranks by its own score, as in `relevance evaluate`.
    baseline = per_query_ndcg(records, _baseline_predictions(
        args.baseline_train, args.format, num_grades, None, records).scores)
    result = {"model": args.model, "data": args.data, "metric": f"ndcg@{NDCG_CUTOFF}",
              "resamples": args.resamples, "by_language": {}}
    for language in ["all", *sorted({language for language, _ in model})]:
        queries = [key for key in model if language in ("all", key[0])]
        result["by_language"][language] = paired_bootstrap(
            np.array([model[q] for q in queries]), np.array([baseline[q] for q in queries]),
            args.resamples)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as out:
        json.dump(result, out, indent=2)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
