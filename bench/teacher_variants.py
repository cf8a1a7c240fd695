"""Teachers against each other and against the unsupervised fusion of their own parts,
on the same held-out test rows, per language, with paired-bootstrap standard errors.

Each workdir is a `bench/word_vector_student.py` (or `bench/scaling.py`) run on the same
carve, with one teacher setting each (e.g. `--run-arg=--teacher-lexical-signals`); its
`relevance evaluate` output (`eval/predictions.npz`) holds the teacher's and BM25's
per-row test predictions. The pretrained bi-encoder (the teacher's similarity prior,
no label seen) is scored here: each distinct test query and item text encoded once.
"fusion" sums BM25's raw score and the bi-encoder's cosine, each z-scored within the
query: what the teacher's head could learn from its parts with no label at all.

`--split development` scores each teacher's SavedModel on development queries instead
(`student_variants._development_rows`: XQuAD-R questions neither labeled nor test, in
every language; the CrowdFlower carve's unlabeled queries with their hidden grades),
`--dev-queries` of them sampled: settings are chosen there, and the test split reports.

    PYTHONPATH=SRC .venv/bin/python bench/teacher_variants.py --data-dir ../shared/data \\
        --baseline DIR_A --variant lexical_signals=DIR_B [--split development]

Writes bench/results/teacher_variants_<dataset>.json and prints nDCG@10 per language
and each teacher's paired difference from the baseline teacher, BM25 and the fusion.
"""

import argparse
import json
import os
import random
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
sys.path[:0] = [ROOT, BENCH_DIR]

import numpy as np  # noqa: E402

import carve  # noqa: E402
import scaling  # noqa: E402
import scaling_data  # noqa: E402
import student_variants  # noqa: E402
import volume_ladder  # noqa: E402
from word_vector_rankers import zscores_within_query  # noqa: E402
from zero_shot_encoder import bi_encoder_cosines, load_bi_encoder  # noqa: E402
from evaluation import metrics  # noqa: E402
from evaluation.baseline import fit_bm25_baseline  # noqa: E402
from evaluation.evaluate import BASELINE_NAME, score_with_saved_model  # noqa: E402
from relevance.records import record_to_example  # noqa: E402
from trainer.teacher.presets.registry import resolve_preset  # noqa: E402

RESAMPLES = 2000
# The word_vector_student.py run whose teacher is read (its --volumes 0 run).
RUN_LABEL = "word_vectors_0x"


def _read_jsonl(path: str):
    with open(path) as handle:
        return [json.loads(line) for line in handle]


def read_test(workdir: str):
    """The carve's test rows and their (grade, query id, language) arrays."""
    return split_of(_read_jsonl(os.path.join(workdir, "data", "test.jsonl")))


def split_of(rows):
    """(rows, their grades, query ids and languages)."""
    return rows, {
        "grade": np.array([int(r["grade"]) for r in rows]),
        "query_id": [carve.query_group(r) for r in rows],
        "language": np.array([str(r.get("language") or "und") for r in rows]),
    }


def development(workdir: str, data_dir: str, queries: int):
    """(rows, split) of `queries` development queries (all their languages), seeded."""
    with open(os.path.join(workdir, "data", "inputs.json")) as handle:
        description = json.load(handle)["description"]
    rows = student_variants._development_rows(description, data_dir)
    groups = sorted({carve.language_free_group(row) for row in rows})
    chosen = set(random.Random(scaling_data.SEED).sample(groups, min(queries, len(groups))))
    return split_of([row for row in rows if carve.language_free_group(row) in chosen])


def teacher_predictions(workdir: str, rows, split_name: str, num_grades: int) -> np.ndarray:
    """The workdir's teacher on `rows`: its evaluate output for the test split, else
    scored here with its SavedModel."""
    if split_name == "test":
        return np.load(os.path.join(workdir, "eval", "predictions.npz"))["teacher"]
    with open(os.path.join(workdir, "logs", f"run_summary_{RUN_LABEL}.json")) as handle:
        model_dir = json.load(handle)["teacher"]
    started = time.time()
    probabilities = score_with_saved_model(
        model_dir, [record_to_example(row).SerializeToString() for row in rows], num_grades)
    print(f"{workdir}: {len(rows)} rows scored in {time.time() - started:.0f} s", flush=True)
    return probabilities


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", required=True, help="workdir of the baseline teacher")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=WORKDIR")
    parser.add_argument("--preset", default="multilingual-e5-small")
    parser.add_argument("--dataset", default=None, help="name in the output file")
    parser.add_argument("--split", choices=("test", "development"), default="test")
    parser.add_argument("--dev-queries", type=int, default=60)
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data"))
    args = parser.parse_args()
    with open(os.path.join(args.baseline, "data", "inputs.json")) as handle:
        num_grades = int(json.load(handle)["num_grades"])
    if args.split == "test":
        rows, split = read_test(args.baseline)
        bm25 = np.load(os.path.join(args.baseline, "eval", "predictions.npz"))[
            f"{BASELINE_NAME}.scores"]
    else:
        rows, split = development(args.baseline, args.data_dir, args.dev_queries)
        labeled = _read_jsonl(os.path.join(args.baseline, "data", "labeled.jsonl"))
        bm25 = fit_bm25_baseline(labeled, num_grades).predict(rows).scores
    rankings = {"bm25": np.asarray(bm25, dtype=np.float64)}
    # Cached in the baseline workdir: later comparisons on the same rows skip the encoder.
    cache = os.path.join(args.baseline, f"bi_encoder_{args.split}_{len(rows)}.npy")
    if not os.path.exists(cache):
        started = time.time()
        np.save(cache, bi_encoder_cosines(load_bi_encoder(resolve_preset(args.preset)), rows)(rows))
        print(f"bi-encoder: {len(rows)} rows scored in {time.time() - started:.0f} s", flush=True)
    rankings["bi_encoder"] = np.load(cache)
    rankings["fusion"] = (zscores_within_query(rows, rankings["bm25"])
                          + zscores_within_query(rows, rankings["bi_encoder"]))
    teachers = {"teacher": teacher_predictions(args.baseline, rows, args.split, num_grades)}
    carved = read_test(args.baseline)[1]["query_id"]
    for spec in args.variant:
        name, _, workdir = spec.partition("=")
        if read_test(workdir)[1]["query_id"] != carved:
            raise SystemExit(f"{workdir}: not the baseline's carve")
        teachers[f"teacher_{name}"] = teacher_predictions(workdir, rows, args.split, num_grades)
    rankings.update({name: metrics.expected_grade(p) for name, p in teachers.items()})

    per_query = {name: metrics.ndcg_by_query(split["grade"], scores, split["query_id"], 10)
                 for name, scores in rankings.items()}
    results = {}
    for name, scores in rankings.items():
        result = {"ndcg@10": student_variants.ndcg_by_language(split, scores)}
        result["ndcg@10"]["all"] = metrics.mean_ndcg(split["grade"], scores, split["query_id"], 10)[0]
        if name in teachers:
            result["accuracy"] = metrics.accuracy(split["grade"], metrics.predicted_grade(teachers[name]))
            for other in ("bm25", "bi_encoder", "fusion",
                          *(["teacher"] if name != "teacher" else [])):
                result[f"vs_{other}"] = volume_ladder.by_language_differences(
                    per_query[name], per_query[other], split, RESAMPLES)
        results[name] = result

    languages = sorted(set(split["language"]))
    print("| nDCG@10 | all | " + " | ".join(languages) + " |")
    for name, result in results.items():
        cells = [result["ndcg@10"]["all"]] + [result["ndcg@10"][lang] for lang in languages]
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in cells) + " |")
    for name, result in results.items():
        for key in (k for k in result if k.startswith("vs_")):
            cells = [result[key][lang] for lang in ["all", *languages]]
            print(f"| {name} {key.replace('_', ' ')} | " + " | ".join(
                f"{c['difference']:+.3f} ± {c['se']:.3f}" for c in cells) + " |")
    document = {"command": " ".join(["PYTHONPATH=SRC", ".venv/bin/python",
                                     "bench/teacher_variants.py", *sys.argv[1:]]),
                "code_commit": scaling._snapshot_commit(), "split": args.split, "rows": len(rows),
                "languages": languages, "results": results}
    os.makedirs(scaling.RESULTS_DIR, exist_ok=True)
    output = os.path.join(scaling.RESULTS_DIR,
                          f"teacher_variants{'_' + args.dataset if args.dataset else ''}"
                          f"_{args.split}.json")
    with open(output, "w") as handle:
        json.dump(document, handle, indent=2)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
