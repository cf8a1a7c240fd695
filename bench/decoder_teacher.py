"""The decoder-LLM teacher (smollm2-135m, LoRA) against the multilingual-e5 teacher, at
an equal wall-clock training budget, on the CrowdFlower carve.

    PYTHONPATH=SRC .venv/bin/python bench/decoder_teacher.py --workdir DIR \
        [--data-dir ../shared/data] [--train-seconds 300] [--unlabeled-rows 200] \
        [--presets multilingual-e5-small,smollm2-135m]

For each teacher preset the real pipeline runs (`relevance run`: ExampleGen, Transform,
the TeacherTrainer with `--teacher-train-seconds`, the PseudoLabeler over
--unlabeled-rows unlabeled pairs, the student, the gate), so each teacher trains, exports
and pseudo-labels through the same components. The teachers are then scored with
`relevance evaluate` on the held-out test queries beside BM25, and each exported
teacher's inference cost per pair is measured in this process on the same requests
(bench/cost_ratio.py's protocol: one query x 200 candidates, rounds alternating between
the models).

Writes DIR/decoder_teacher.json and bench/results/decoder_teacher.json, and prints them.
"""

import argparse
import json
import os
import sys
import time
from typing import Dict, List

import scaling
import scaling_data

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(BENCH_DIR, "results", "decoder_teacher.json")
PRESETS = "multilingual-e5-small,smollm2-135m"
METRICS = ("accuracy", "qwk", "ndcg@10", "auroc_ge_2", "auroc_ge_3", "ece", "ndcg_queries")


def _small_unlabeled(inputs: Dict, rows: int, workdir: str) -> str:
    """The first `rows` unlabeled pairs: enough to run the PseudoLabeler and time it
    (every teacher pass over all 5,023 would cost the decoder ~10 minutes)."""
    path = os.path.join(workdir, "data", f"unlabeled_first_{rows}.jsonl")
    with open(inputs["unlabeled"]) as source, open(path, "w") as out:
        for index, line in enumerate(source):
            if index >= rows:
                break
            out.write(line)
    return path


def _run_pipeline(args, inputs: Dict, unlabeled: str, preset: str) -> Dict:
    workdir = os.path.join(args.workdir, f"pipeline_{preset}")
    started = time.time()
    scaling._relevance([
        "run", "--labeled", inputs["labeled"], "--unlabeled", unlabeled, "--workdir", workdir,
        "--num-grades", str(inputs["num_grades"]), "--teacher-preset", preset,
        "--teacher-train-seconds", str(args.train_seconds),
        "--teacher-epochs", str(args.max_epochs),
        "--student-train-steps", str(args.student_train_steps),
        *args.run_arg,
    ], os.path.join(args.workdir, "logs", f"run_{preset}.log"))
    with open(os.path.join(workdir, "run_summary.json")) as handle:
        summary = json.load(handle)
    with open(os.path.join(summary["teacher"], "assets.extra", "teacher_config.json")) as handle:
        record = json.load(handle)
    return {
        "preset": preset,
        "teacher_model": summary["teacher"],
        "training": record["training"],
        "lora_rank": record["teacher"]["lora_rank"],
        "learning_rate": record["teacher"]["learning_rate"],
        "sequence_length": record["teacher"]["sequence_length"],
        "pseudo_labeled_out": summary["pseudo_labeled_out"],
        "unlabeled_in": summary["unlabeled_in"],
        "pipeline_seconds": round(time.time() - started, 1),
    }


def _evaluate(args, inputs: Dict, runs: List[Dict]) -> Dict:
    argv = ["evaluate", "--data", inputs["test"], "--format", "jsonl",
            "--num-grades", str(inputs["num_grades"]), "--baseline-train", inputs["labeled"],
            "--output", os.path.join(args.workdir, "eval")]
    for run in runs:
        argv += ["--model", run["teacher_model"], "--model-name", run["preset"]]
    scaling._relevance(argv, os.path.join(args.workdir, "logs", "evaluate.log"))
    with open(os.path.join(args.workdir, "eval", "metrics.json")) as handle:
        return json.load(handle)["models"]


def _inference_cost(runs: List[Dict], candidates: int, rounds: int) -> Dict:
    import cost_ratio
    from models.export import load_relevance_model
    from relevance import contract

    serves = {run["preset"]: load_relevance_model(run["teacher_model"]).signatures[
        contract.SIGNATURE_RAW] for run in runs}
    request = cost_ratio.make_request(candidates)
    return cost_ratio.measure(serves, request, candidates, rounds,
                              {name: 1 for name in serves})


def _quality(models: Dict, name: str) -> Dict:
    overall = models[name]["overall"]
    return {metric: overall.get(metric) for metric in METRICS if metric in overall} | {
        "n": overall.get("n")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--data-dir", default=os.path.join(scaling.REPO_ROOT, "..", "shared", "data"))
    parser.add_argument("--presets", default=PRESETS)
    parser.add_argument("--train-seconds", type=float, default=300.0,
                        help="every teacher's wall-clock training budget")
    parser.add_argument("--max-epochs", type=int, default=100,
                        help="epoch cap (the budget is meant to bind first)")
    parser.add_argument("--unlabeled-rows", type=int, default=200)
    parser.add_argument("--student-train-steps", type=int, default=100)
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--run-arg", action="append", default=[], metavar="ARG",
                        help="extra `relevance run` argument for every teacher, repeatable "
                             "(e.g. --run-arg=--teacher-learning-rate=5e-5)")
    args = parser.parse_args()
    args.workdir = os.path.abspath(args.workdir)
    os.makedirs(os.path.join(args.workdir, "logs"), exist_ok=True)

    inputs = scaling_data.prepare("crowdflower", args.data_dir, os.path.join(args.workdir, "data"))
    unlabeled = _small_unlabeled(inputs, args.unlabeled_rows, args.workdir)
    runs = []
    for preset in args.presets.split(","):
        print(f"[decoder_teacher] {preset}: pipeline with a {args.train_seconds:.0f} s "
              "teacher budget", flush=True)
        runs.append(_run_pipeline(args, inputs, unlabeled, preset))
        print(f"[decoder_teacher] {preset}: {json.dumps(runs[-1]['training'])}", flush=True)
    print("[decoder_teacher] evaluating on the held-out test queries", flush=True)
    models = _evaluate(args, inputs, runs)
    print("[decoder_teacher] timing inference", flush=True)
    cost = _inference_cost(runs, args.candidates, args.rounds)
    for run in runs:
        run["quality"] = _quality(models, run["preset"])
        run["inference"] = cost[run["preset"]]
    document = {
        "command": " ".join(["PYTHONPATH=SRC", ".venv/bin/python", "bench/decoder_teacher.py",
                             *sys.argv[1:]]),
        "code_commit": scaling._snapshot_commit(),
        "data": inputs["description"] if "description" in inputs else inputs,
        "train_seconds": args.train_seconds,
        "teachers": runs,
        "bm25": _quality(models, "bm25_baseline"),
    }
    text = json.dumps(document, indent=2)
    for path in (os.path.join(args.workdir, "decoder_teacher.json"), RESULTS):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as out:
            out.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
