"""The student with and without distilled word vectors, at 0x and 10x pseudo-labels.

Runs the real pipeline (bench/scaling.py's runs, TFX cache on) once per (student
variant, volume) in one pipeline workdir, so ExampleGen, Transform, the teacher and the
pseudo-labels are computed once and only the StudentTrainer differs between variants;
then scores the teacher, every student and BM25 on the held-out test split with one
`relevance evaluate`, per language.

    PYTHONPATH=SRC .venv/bin/python bench/word_vector_student.py --dataset xquad-r \\
        --workdir DIR [--volumes 0,10] [--variant plain=--no-student-word-vectors] \\
        [--variant word_vectors=] [--run-arg=...]

Writes DIR/word_vectors[_TAG].json and bench/results/word_vectors_<dataset>[_TAG].json and prints
a table of nDCG@10 (and accuracy / QWK) per language.
"""

import argparse
import json
import os
import shutil
import sys
import time
from typing import Dict, List

import scaling
import scaling_data

DEFAULT_VARIANTS = ("plain=--no-student-word-vectors", "word_vectors=")


def _variants(specs: List[str]) -> Dict[str, List[str]]:
    variants = {}
    for spec in specs:
        name, _, run_args = spec.partition("=")
        variants[name] = run_args.split() if run_args else []
    return variants


def _table(models: Dict, languages: List[str], metric: str) -> str:
    header = f"| model | all | {' | '.join(languages)} |"
    lines = [header, "|" + "---|" * (len(languages) + 2)]
    for name, result in models.items():
        cells = [result["overall"].get(metric)] + [
            result["by_language"].get(language, {}).get(metric) for language in languages]
        lines.append(f"| {name} | " + " | ".join(
            "-" if value is None else f"{value:.3f}" for value in cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True, choices=sorted(scaling_data.RECIPES))
    parser.add_argument("--data-dir", default=os.path.join(scaling.REPO_ROOT, "..", "shared", "data"))
    parser.add_argument("--volumes", default="0,10")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=ARGS",
                        help="a student variant: its name and its extra `relevance run` "
                             "arguments (space-separated); default: "
                             + " and ".join(DEFAULT_VARIANTS))
    parser.add_argument("--teacher-epochs", type=int, default=None)
    parser.add_argument("--student-epochs", type=int, default=3)
    parser.add_argument("--student-train-steps", type=int, default=300)
    parser.add_argument("--eval-percent", type=float, default=10.0)
    parser.add_argument("--run-arg", action="append", default=[], metavar="ARG")
    parser.add_argument("--tag", default="",
                        help="suffix of the output names, to keep several invocations on one "
                             "workdir apart (e.g. --tag trainable)")
    args = parser.parse_args()
    args.workdir = os.path.abspath(args.workdir)
    os.makedirs(os.path.join(args.workdir, "logs"), exist_ok=True)
    variants = _variants(args.variant or list(DEFAULT_VARIANTS))

    suffix = f"_{args.tag}" if args.tag else ""
    started = time.time()
    inputs = scaling_data.prepare(args.dataset, args.data_dir, os.path.join(args.workdir, "data"))
    points = []
    for name, variant_args in variants.items():
        for volume in [float(v) for v in args.volumes.split(",")]:
            run_args = argparse.Namespace(**{**vars(args), "run_arg": args.run_arg + variant_args})
            label = f"{name}_{volume:g}x"
            point = scaling._run_volume(run_args, inputs, volume or scaling.ZERO_MULTIPLE, label)
            point.update(variant=name, requested_multiple=volume, run_args=variant_args)
            print(f"[word vectors] {label}: {point['pseudo_labeled_out']} pseudo-labels, "
                  f"{point['seconds']} s", flush=True)
            points.append(point)

    argv = ["evaluate", "--data", inputs["test"], "--format", "jsonl",
            "--num-grades", str(inputs["num_grades"]), "--baseline-train", inputs["labeled"],
            "--output", os.path.join(args.workdir, "eval" + suffix),
            "--model", points[0]["teacher_model"], "--model-name", "teacher"]
    for point in points:
        argv += ["--model", point["student_model"], "--model-name",
                 f"student_{point['variant']}_{point['requested_multiple']:g}x"]
    scaling._relevance(argv, os.path.join(args.workdir, "logs", f"evaluate{suffix}.log"))
    with open(os.path.join(args.workdir, "eval" + suffix, "metrics.json")) as handle:
        models = json.load(handle)["models"]
    languages = sorted(models["teacher"]["by_language"])

    document = {
        "dataset": args.dataset,
        "command": " ".join(["PYTHONPATH=SRC", ".venv/bin/python", "bench/word_vector_student.py",
                             *sys.argv[1:]]),
        "code_commit": scaling._snapshot_commit(),
        "data": inputs,
        "variants": variants,
        "setup": {"student_train_steps": args.student_train_steps,
                  "student_epochs": args.student_epochs, "run_args": args.run_arg,
                  "eval_percent": args.eval_percent},
        "points": points,
        "languages": languages,
        "models": models,
        "elapsed_seconds": round(time.time() - started, 1),
    }
    output = os.path.join(args.workdir, f"word_vectors{suffix}.json")
    with open(output, "w") as handle:
        json.dump(document, handle, indent=2)
    os.makedirs(scaling.RESULTS_DIR, exist_ok=True)
    results = os.path.join(scaling.RESULTS_DIR, f"word_vectors_{args.dataset}{suffix}.json")
    shutil.copy(output, results)
    ordered = {"bm25_baseline": models["bm25_baseline"], "teacher": models["teacher"],
               **{k: v for k, v in models.items() if k.startswith("student_")}}
    for metric in ("ndcg@10", "accuracy", "qwk"):
        if any(metric in result["overall"] for result in ordered.values()):
            print(f"\n{metric} (test queries: {models['teacher']['overall'].get('n')} pairs)")
            print(_table(ordered, languages, metric))
    print(f"\nwrote {output} and {results} ({document['elapsed_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
