"""Scaling experiment: student quality against pseudo-label volume (0x, 1x, 10x, 50x, 100x).

Carves the data set by query into labeled / unlabeled / test (bench/scaling_data.py), runs
the real pipeline (`relevance run`, TFX cache on) once per volume, changing only
`--max-volume-multiple` (so ExampleGen, Transform and the teacher are reused), takes each
volume's student from the StudentTrainer's output in MLMD (not from the serving dir, which
a validation gate may leave empty), and scores teacher, students and the BM25 baseline on
the held-out test split with `relevance evaluate`.

    .venv/bin/python bench/scaling.py --dataset demo|crowdflower|xquad-r \
        [--data-dir ../shared/data] [--volumes 0,1,10,50,100] --workdir DIR \
        [--run-arg=--teacher-similarity-prior ...]

Every student trains for the same number of optimiser steps (--student-train-steps,
default 300), so the volumes differ in data, not in training length.

0x trains the student on human grades only: a multiple of 1e-9 gives the PseudoLabeler a
budget of floor(1e-9 * n) = 0 pseudo-labels (0 itself means "no cap" on the CLI). A volume
whose budget exceeds the unlabeled pairs is run once, uncapped, and plotted at the volume
it reached; larger ones are listed as not reachable.

Writes DIR/scaling.json, DIR/scaling.md, DIR/scaling.png and
bench/results/scaling_<dataset>.json, and prints the table.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional

import scaling_data
import scaling_report

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
ZERO_MULTIPLE = 1e-9  # a positive cap that keeps no pseudo-label: the human-only student
CLI = [sys.executable, "-m", "cli.main"]


def _relevance(argv: List[str], log_path: str) -> None:
    """Run the `relevance` CLI in a child process (fresh TF state per run), logging to a file.

    The child runs in the log's directory, not the repository root: `python -m` puts its
    working directory first on sys.path, which would shadow a code snapshot on PYTHONPATH.
    """
    with open(log_path, "w") as log:
        done = subprocess.run(CLI + argv, stdout=log, stderr=subprocess.STDOUT,
                              cwd=os.path.dirname(log_path))
    if done.returncode != 0:
        raise RuntimeError(f"relevance {argv[0]} failed (exit {done.returncode}); see {log_path}")


def _student_model_dir(pipeline_workdir: str) -> str:
    """The newest StudentTrainer's exported SavedModel, read from MLMD."""
    from ml_metadata.metadata_store import metadata_store
    from tfx import v1 as tfx
    from tfx.utils import path_utils

    from pipeline import pipeline as definition
    from pipeline.config import PipelineConfig
    from pipeline.summary import latest_outputs

    config = PipelineConfig.for_workdir(pipeline_workdir)
    store = metadata_store.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
    )
    model = latest_outputs(store, config.pipeline_name, definition.STUDENT)["model"][0]
    return path_utils.serving_model_path(model.uri)


def _run_volume(args, inputs: Dict, multiple: float, label: str) -> Dict:
    pipeline_workdir = os.path.join(args.workdir, "pipeline")
    started = time.time()
    _relevance([
        "run", "--labeled", inputs["labeled"], "--unlabeled", inputs["unlabeled"],
        "--workdir", pipeline_workdir, "--num-grades", str(inputs["num_grades"]),
        "--eval-percent", str(args.eval_percent),
        *(["--teacher-epochs", str(args.teacher_epochs)] if args.teacher_epochs else []),
        "--student-epochs", str(args.student_epochs),
        "--student-train-steps", str(args.student_train_steps),
        "--max-volume-multiple", repr(multiple),
        *args.run_arg,
    ], os.path.join(args.workdir, "logs", f"run_{label}.log"))
    with open(os.path.join(pipeline_workdir, "run_summary.json")) as handle:
        summary = json.load(handle)
    shutil.copy(os.path.join(pipeline_workdir, "run_summary.json"),
                os.path.join(args.workdir, "logs", f"run_summary_{label}.json"))
    human_train = summary["splits"]["train"]
    return {
        "label": label,
        "cli_multiple": multiple,
        "pseudo_labeled_out": summary["pseudo_labeled_out"],
        "achieved_multiple": summary["pseudo_labeled_out"] / human_train,
        "human_train": human_train,
        "unlabeled": summary["splits"]["unlabeled"],
        "student_model": _student_model_dir(pipeline_workdir),
        "teacher_model": summary["teacher"],
        "pipeline_eval_accuracy": (summary["student_eval"]["overall"] or {}).get("accuracy"),
        "seconds": round(time.time() - started, 1),
    }


def _run_ladder(args, inputs: Dict, volumes: List[float]):
    points, unreached = [], []
    uncapped: Optional[Dict] = None
    for volume in sorted(volumes):
        if uncapped is not None:
            unreached.append({"requested_multiple": volume, "reason": (
                f"needs {int(volume * uncapped['human_train'])} pseudo-labels, only "
                f"{uncapped['unlabeled']} unlabeled pairs; the uncapped run reached "
                f"{uncapped['achieved_multiple']:.1f}x")})
            continue
        point = _run_volume(args, inputs, volume or ZERO_MULTIPLE, f"{volume:g}x")
        point["requested_multiple"] = volume
        if volume == 0 and point["pseudo_labeled_out"] != 0:
            raise RuntimeError(f"the 0x run kept {point['pseudo_labeled_out']} pseudo-labels")
        if int(volume * point["human_train"]) >= point["unlabeled"]:
            uncapped = point
            point["label"] = f"all ({point['achieved_multiple']:.1f}x)"
        print(f"[scaling] {point['label']}: {point['pseudo_labeled_out']} pseudo-labels, "
              f"{point['seconds']} s", flush=True)
        points.append(point)
    return points, unreached


def _evaluate(args, inputs: Dict, points: List[Dict]) -> Dict:
    models = [points[0]["teacher_model"]] + [p["student_model"] for p in points]
    names = ["teacher"] + [f"student_{p['requested_multiple']:g}x" for p in points]
    argv = ["evaluate", "--data", inputs["test"], "--format", "jsonl",
            "--num-grades", str(inputs["num_grades"]), "--baseline-train", inputs["labeled"],
            "--output", os.path.join(args.workdir, "eval")]
    for model, name in zip(models, names):
        argv += ["--model", model, "--model-name", name]
    _relevance(argv, os.path.join(args.workdir, "logs", "evaluate.log"))
    with open(os.path.join(args.workdir, "eval", "metrics.json")) as handle:
        return json.load(handle)


def write_results(name: str, document: Dict) -> str:
    """Writes `document` as bench/results/NAME.json and returns the path."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    output = os.path.join(RESULTS_DIR, f"{name}.json")
    with open(output, "w") as handle:
        json.dump(document, handle, indent=2)
    return output


def _snapshot_commit() -> Optional[str]:
    """The commit the code on PYTHONPATH was extracted from (SNAPSHOT_COMMIT), else HEAD."""
    if os.environ.get("SNAPSHOT_COMMIT"):
        return os.environ["SNAPSHOT_COMMIT"]
    done = subprocess.run(["git", "-C", REPO_ROOT, "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or None


def build_document(args, inputs: Dict, points: List[Dict], unreached: List[Dict], evaluation: Dict) -> Dict:
    models = evaluation["models"]
    for point in points:
        point["metrics"] = models[f"student_{point['requested_multiple']:g}x"]
    references = {"teacher": models["teacher"], "bm25_baseline": models["bm25_baseline"]}
    languages = sorted(models["teacher"]["by_language"])
    return {
        "dataset": args.dataset,
        "command": " ".join(["PYTHONPATH=SRC", ".venv/bin/python", "bench/scaling.py", *sys.argv[1:]]),
        "code_commit": _snapshot_commit(),
        "code_path": os.environ.get("PYTHONPATH", REPO_ROOT),
        "data": inputs,
        "setup": {"teacher_epochs": args.teacher_epochs or "preset default", "student_epochs": args.student_epochs,
                  "student_train_steps": args.student_train_steps, "run_args": args.run_arg,
                  "eval_percent": args.eval_percent, "human_train": points[0]["human_train"],
                  "unlabeled": points[0]["unlabeled"], "zero_multiple": ZERO_MULTIPLE},
        "points": points,
        "unreached": unreached,
        "references": references,
        "references_n": models["teacher"]["overall"]["n"],
        "languages": languages,
        "evaluation": os.path.join(args.workdir, "eval"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True, choices=sorted(scaling_data.RECIPES))
    parser.add_argument("--data-dir", default=os.path.join(REPO_ROOT, "..", "shared", "data"))
    parser.add_argument("--volumes", default="0,1,10,50,100",
                        help="pseudo-labels per human train label, comma-separated")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--teacher-epochs", type=int, default=None,
                        help="teacher epochs (default: the teacher preset's own, 3 for the "
                             "pretrained multilingual-e5-small)")
    parser.add_argument("--student-epochs", type=int, default=3)
    # Every volume's student gets the same optimiser steps, so volumes differ in data
    # only: by epochs, 88 human rows would get 3 steps and 100x about 100.
    parser.add_argument("--student-train-steps", type=int, default=300,
                        help="optimiser steps of every student (0: --student-epochs passes "
                             "over each volume's rows)")
    parser.add_argument("--eval-percent", type=float, default=10.0,
                        help="labeled queries the pipeline holds out for its own Evaluator")
    parser.add_argument("--run-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for every `relevance run`, repeatable, e.g. "
                             "--run-arg=--teacher-similarity-prior")
    parser.add_argument("--report-only", action="store_true",
                        help="only redraw the table and plot from an existing DIR/scaling.json")
    args = parser.parse_args()
    args.workdir = os.path.abspath(args.workdir)
    os.makedirs(os.path.join(args.workdir, "logs"), exist_ok=True)
    outputs = {ext: os.path.join(args.workdir, f"scaling.{ext}") for ext in ("json", "md", "png")}

    if args.report_only:
        with open(outputs["json"]) as handle:
            document = json.load(handle)
    else:
        started = time.time()
        inputs = scaling_data.prepare(args.dataset, args.data_dir, os.path.join(args.workdir, "data"))
        points, unreached = _run_ladder(args, inputs, [float(v) for v in args.volumes.split(",")])
        evaluation = _evaluate(args, inputs, points)
        document = build_document(args, inputs, points, unreached, evaluation)
        document["elapsed_seconds"] = round(time.time() - started, 1)
        with open(outputs["json"], "w") as handle:
            json.dump(document, handle, indent=2)
    scaling_report.write_markdown(document, outputs["md"])
    scaling_report.write_plot(document, outputs["png"])
    os.makedirs(RESULTS_DIR, exist_ok=True)
    shutil.copy(outputs["json"], os.path.join(RESULTS_DIR, f"scaling_{args.dataset}.json"))
    shutil.copy(outputs["png"], os.path.join(RESULTS_DIR, f"scaling_{args.dataset}.png"))
    print(scaling_report.markdown(document))
    print(f"wrote {', '.join(outputs.values())} and bench/results/scaling_{args.dataset}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
