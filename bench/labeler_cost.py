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
    started, cpu_started = time.perf_counter(), time.process_time()
    with beam.Pipeline(options=PipelineOptions(
            ["--direct_running_mode=in_memory", "--direct_num_workers=1"])) as pipeline:
        build_labeling_graph(pipeline, LabelingConfig(**options), paths)
    seconds = time.perf_counter() - started
    # CPU seconds of this process (every thread): steadier than wall time on a shared machine.
    cpu_seconds = time.process_time() - cpu_started
    with open(paths.events_path) as handle:
        report = counts.PseudoLabelCounts.from_events(json.loads(handle.read()))
    if not report.reconciles():
        raise RuntimeError(f"pseudo-label counts do not reconcile: {report.to_json()}")
    totals = report.as_dict()
    return {"seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
            "pseudo_labeled_out": totals["pseudo_labeled_out"],
            "unlabeled_in": totals["unlabeled_in"], "filtered": totals["filtered"]}


def subsample_pool(examples_uri: str, rows: int, out_uri: str) -> str:
    """A copy of the ExampleGen output with the first `rows` unlabeled rows by a stable
    hash of their bytes (train and eval linked as they are)."""
    import hashlib

    import tensorflow as tf

    from relevance import contract

    for split in (contract.SPLIT_TRAIN, contract.SPLIT_EVAL):
        os.makedirs(out_uri, exist_ok=True)
        target = os.path.join(out_uri, f"Split-{split}")
        if not os.path.exists(target):
            os.symlink(os.path.join(examples_uri, f"Split-{split}"), target)
    files = _patterns(examples_uri)[contract.SPLIT_UNLABELED]
    records = [r.numpy() for r in tf.data.TFRecordDataset(tf.io.gfile.glob(files[0]),
                                                          compression_type="GZIP")]
    records.sort(key=lambda r: hashlib.sha256(r).digest())
    directory = os.path.join(out_uri, f"Split-{contract.SPLIT_UNLABELED}")
    os.makedirs(directory, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(directory, "pool.gz"), options="GZIP") as out:
        for record in records[:rows]:
            out.write(record)
    return out_uri


def _old_code_run(old_code: str, args, teacher: str, examples: str, volume: float,
                  out_dir: str) -> Dict:
    """The old path, run by the code in `old_code` in a child process."""
    command = [sys.executable, os.path.abspath(__file__), "--child", "--teacher", teacher,
               "--examples", examples, "--num-grades", str(args.num_grades),
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
    parser.add_argument("--run", help="a `relevance run` WORKDIR (its teacher, examples and "
                                      "TeacherTrainer time)")
    parser.add_argument("--teacher", help="teacher SavedModel dir (instead of --run's)")
    parser.add_argument("--examples", help="ExampleGen output dir (instead of --run's)")
    parser.add_argument("--metadata", help="the run's MLMD sqlite (TeacherTrainer time)")
    parser.add_argument("--num-grades", type=int, default=None)
    parser.add_argument("--unlabeled-rows", type=int, default=0,
                        help="label only this many unlabeled rows (a stable sample; 0: all)")
    parser.add_argument("--volumes", default="3,10", help="comma-separated volume multiples")
    parser.add_argument("--old-code", default=None, help="a checkout of the old code")
    parser.add_argument("--paths", default="score_all,sampled",
                        help="this code's paths to run: score_all and/or sampled")
    parser.add_argument("--label", default="")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    summary = {}
    if args.run:
        with open(os.path.join(args.run, "run_summary.json")) as handle:
            summary = json.load(handle)
    teacher = args.teacher or summary["teacher"]
    examples = args.examples or summary["examples"]
    args.num_grades = num_grades = int(args.num_grades or summary["num_grades"])
    metadata = args.metadata or summary.get("metadata")
    volumes = [float(v) for v in args.volumes.split(",")]
    if args.child:
        print(json.dumps(label_once(teacher, examples, args.child_out, num_grades,
                                    volumes[0], score_all=True)))
        return {}

    sys.path.insert(0, ROOT)
    scratch = tempfile.mkdtemp(prefix="labeler_cost_")
    if args.unlabeled_rows:
        examples = subsample_pool(examples, args.unlabeled_rows, os.path.join(scratch, "pool"))
    components = _component_seconds(metadata) if metadata else {}
    trainer_seconds = components.get("TeacherTrainer") or 0.0
    results, old_path = [], None
    for volume in volumes:
        row = {"volume": volume}
        for name, score_all in (("score_all", True), ("sampled", False)):
            if name not in args.paths.split(","):
                continue
            row[name] = label_once(teacher, examples, os.path.join(scratch, f"{name}_{volume}"),
                                   num_grades, volume, score_all)
            print(json.dumps({"volume": volume, name: row[name]}), file=sys.stderr, flush=True)
        if args.old_code:
            if old_path is None:
                # The old code scores every row whatever the cap: one run serves all volumes.
                old_path = _old_code_run(args.old_code, args, teacher, examples, volume,
                                         os.path.join(scratch, "old"))
                print(json.dumps({"old_code": old_path}), file=sys.stderr, flush=True)
            row["old_code"] = old_path
        baseline = row.get("old_code", row.get("score_all"))
        if baseline and "sampled" in row:
            row["speedup_vs_old"] = {
                unit: round(baseline[unit] / row["sampled"][unit], 2)
                for unit in ("seconds", "cpu_seconds")}
        if trainer_seconds:
            row["labeler_over_trainer"] = {
                name: round(row[name]["seconds"] / trainer_seconds, 2)
                for name in ("score_all", "sampled", "old_code") if name in row}
        results.append(row)
    report = {
        "benchmark": "labeler_cost", "label": args.label, "run": args.run,
        "teacher": teacher, "examples": examples, "unlabeled_rows": args.unlabeled_rows,
        "old_code": args.old_code,
        "run_component_seconds": components, "results": results,
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
                    "python": platform.python_version()},
    }
    from scaling import write_results  # bench/ is the script's directory

    write_results("labeler_cost", report)
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
