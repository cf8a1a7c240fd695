"""The PseudoLabeler's wall time: the whole unlabeled pool scored against the sample a
volume cap needs, on one pipeline run's examples and teacher, back to back.

    .venv/bin/python bench/labeler_cost.py --run WORKDIR [--volumes 3,10] \
        [--old-code DIR] [--label NAME]

For each volume in `--volumes` the real labeling graph (`build_labeling_graph`, in
memory, one worker, as `relevance run` runs it) labels the run's ExampleGen splits with
the run's teacher twice: `score_all_unlabeled` (every unlabeled row scored, the most
confident kept: the path before the sample existed) and the default sample. With
`--old-code DIR` (a checkout of an earlier commit, e.g. `git worktree add DIR <commit>`),
the old path is also run by that code in a child process (its own batching and teacher
calls; the same teacher SavedModel). Beside them: the run's TeacherTrainer and
PseudoLabeler seconds from MLMD, and PseudoLabeler ÷ TeacherTrainer for each path.

Writes bench/results/labeler_cost.json and prints it.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
RESULTS = os.path.join(ROOT, "bench", "results", "labeler_cost.json")


def _patterns(examples_uri: str) -> Dict[str, List[str]]:
    from relevance import contract

    return {split: [os.path.join(examples_uri, f"Split-{split}", "*")]
            for split in (contract.SPLIT_TRAIN, contract.SPLIT_EVAL, contract.SPLIT_UNLABELED)}


def label_once(teacher: str, examples_uri: str, out_dir: str, num_grades: int,
               volume: float, score_all: bool) -> Dict:
    """One labeling graph run with whatever code is first on sys.path."""
    import dataclasses

    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from components.pseudo_labeler import counts
    from components.pseudo_labeler.labeling_pipeline import (
        LabelingConfig, LabelingPaths, build_labeling_graph)

    fields = {field.name for field in dataclasses.fields(LabelingConfig)}
    options = dict(model_path=teacher, teacher_id=teacher, num_grades=num_grades,
                   max_volume_multiple=volume)
    if "score_all_unlabeled" in fields:
        options["score_all_unlabeled"] = score_all
    elif not score_all:
        raise ValueError("this code has no sampled path (it always scores every row)")
    paths = LabelingPaths(
        input_patterns=_patterns(examples_uri),
        output_split_dirs={split: os.path.join(out_dir, f"Split-{split}")
                           for split in ("train", "eval")},
        quarantine_dir=os.path.join(out_dir, "quarantine"),
        scratch_dir=os.path.join(out_dir, "_scratch"))
    started = time.perf_counter()
    with beam.Pipeline(options=PipelineOptions(
            ["--direct_running_mode=in_memory", "--direct_num_workers=1"])) as pipeline:
        build_labeling_graph(pipeline, LabelingConfig(**options), paths)
    seconds = time.perf_counter() - started
    with open(paths.events_path) as handle:
        report = counts.PseudoLabelCounts.from_events(json.loads(handle.read()))
    if not report.reconciles():
        raise RuntimeError(f"pseudo-label counts do not reconcile: {report.to_json()}")
    totals = report.as_dict()
    return {"seconds": round(seconds, 1), "pseudo_labeled_out": totals["pseudo_labeled_out"],
            "unlabeled_in": totals["unlabeled_in"], "filtered": totals["filtered"]}


def _old_code_run(old_code: str, args, summary: Dict, volume: float, out_dir: str) -> Dict:
    """The old path, run by the code in `old_code` in a child process."""
    command = [sys.executable, os.path.abspath(__file__), "--child", "--run", args.run,
               "--volumes", str(volume), "--child-out", out_dir]
    env = dict(os.environ, PYTHONPATH=os.path.abspath(old_code))
    done = subprocess.run(command, env=env, cwd=old_code, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"old code failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _component_seconds(metadata_path: str) -> Dict[str, float]:
    sys.path.insert(0, BENCH)
    from pipeline_demo import component_seconds, component_windows

    return component_seconds(component_windows(metadata_path, "search-relevance"))


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="a `relevance run` WORKDIR")
    parser.add_argument("--volumes", default="3,10", help="comma-separated volume multiples")
    parser.add_argument("--old-code", default=None, help="a checkout of the old code")
    parser.add_argument("--label", default="")
    parser.add_argument("--output", default=RESULTS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    with open(os.path.join(args.run, "run_summary.json")) as handle:
        summary = json.load(handle)
    teacher, examples = summary["teacher"], summary["examples"]
    num_grades = int(summary["num_grades"])
    volumes = [float(v) for v in args.volumes.split(",")]
    if args.child:
        print(json.dumps(label_once(teacher, examples, args.child_out, num_grades,
                                    volumes[0], score_all=True)))
        return {}

    sys.path.insert(0, ROOT)
    scratch = tempfile.mkdtemp(prefix="labeler_cost_")
    components = _component_seconds(summary["metadata"])
    trainer_seconds = components.get("TeacherTrainer") or 0.0
    results = []
    for volume in volumes:
        row = {"volume": volume}
        for name, score_all in (("score_all", True), ("sampled", False)):
            row[name] = label_once(teacher, examples, os.path.join(scratch, f"{name}_{volume}"),
                                   num_grades, volume, score_all)
            print(json.dumps({"volume": volume, name: row[name]}), file=sys.stderr, flush=True)
        if args.old_code:
            row["old_code"] = _old_code_run(args.old_code, args, summary, volume,
                                            os.path.join(scratch, f"old_{volume}"))
            print(json.dumps({"volume": volume, "old_code": row["old_code"]}),
                  file=sys.stderr, flush=True)
        baseline = row.get("old_code", row["score_all"])["seconds"]
        row["speedup_vs_old"] = round(baseline / row["sampled"]["seconds"], 2)
        if trainer_seconds:
            row["labeler_over_trainer"] = {
                name: round(row[name]["seconds"] / trainer_seconds, 2)
                for name in ("score_all", "sampled", "old_code") if name in row}
        results.append(row)
    report = {
        "benchmark": "labeler_cost", "label": args.label, "run": os.path.abspath(args.run),
        "teacher": teacher, "old_code": args.old_code,
        "run_component_seconds": components, "results": results,
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
                    "python": platform.python_version()},
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(report, handle, indent=2)
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
