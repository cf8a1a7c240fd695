"""Pairs per second of the PseudoLabeler's Beam graph, with 1 and 2 Beam workers.

    .venv/bin/python bench/pseudo_label_throughput.py --run WORKDIR      # that run's teacher
    .venv/bin/python bench/pseudo_label_throughput.py --teacher DIR [--num-unlabeled 3000]

Writes demo data (`demo.data`) as canonical gzip TFRecords in the three input
splits (train / eval: graded English pairs; unlabeled: all languages), then runs the real
graph (`components.pseudo_labeler.labeling_pipeline.build_labeling_graph`: read, parse,
teacher scoring, selection, sharded write, counts) on the DirectRunner:

* 1 worker: `--direct_running_mode=in_memory --direct_num_workers=1` (the local default);
* N workers: `--direct_running_mode=multi_processing --direct_num_workers=N`.

Each configuration's wall time covers the whole pipeline, teacher loading per worker
included; pairs/s counts every pair the teacher scored (all three splits). The counts
must reconcile, as the component checks. For reference, the same pairs are also scored
by the teacher in a plain loop without Beam (`teacher_alone_no_beam`). Writes bench/results/pseudo_label_throughput.json
and prints it.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from typing import Dict, List, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import apache_beam as beam  # noqa: E402
import tensorflow as tf  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from bench.cost_ratio import read_run_summary, write_report  # noqa: E402
from components.pseudo_labeler import counts  # noqa: E402
from components.pseudo_labeler.labeling_pipeline import (  # noqa: E402
    LabelingConfig,
    LabelingPaths,
    build_labeling_graph,
)
from relevance import contract  # noqa: E402
from demo.data import write_demo_data  # noqa: E402
from evaluation.evaluate import score_with_saved_model  # noqa: E402
from relevance.readers import read_rows  # noqa: E402
from relevance.records import record_to_example, to_record  # noqa: E402

RESULTS = os.path.join(ROOT, "bench", "results", "pseudo_label_throughput.json")
EVAL_EVERY = 5  # every fifth labeled pair goes to the eval split


def write_input_splits(base: str, num_labeled: int, num_unlabeled: int,
                       num_grades: int) -> Tuple[Dict[str, List[str]], List[bytes]]:
    """Demo data as canonical examples, as ExampleGen writes them: ({split: [file
    pattern]}, every serialized example)."""
    paths = write_demo_data(os.path.join(base, "demo"), num_labeled=num_labeled,
                            num_unlabeled=num_unlabeled, num_grades=num_grades)
    splits = {contract.SPLIT_TRAIN: [], contract.SPLIT_EVAL: [], contract.SPLIT_UNLABELED: []}
    for key in ("labeled", "unlabeled"):
        for index, row in enumerate(read_rows(paths[key])):
            if row.fields is None:
                continue
            record = to_record(row.fields, num_grades, detect_missing_language=False)
            if key == "unlabeled":
                record[contract.GRADE] = None
                split = contract.SPLIT_UNLABELED
            else:
                split = contract.SPLIT_EVAL if index % EVAL_EVERY == 0 else contract.SPLIT_TRAIN
            splits[split].append(record_to_example(record).SerializeToString())
    patterns = {}
    for split, rows in splits.items():
        directory = os.path.join(base, "examples", f"Split-{split}")
        os.makedirs(directory, exist_ok=True)
        with tf.io.TFRecordWriter(os.path.join(directory, "data.gz"), options="GZIP") as out:
            for row in rows:
                out.write(row)
        patterns[split] = [os.path.join(directory, "*")]
    return patterns, [row for rows in splits.values() for row in rows]


def teacher_alone(teacher: str, serialized: List[bytes], num_grades: int) -> Dict:
    """The same pairs scored in a plain loop (model load included), in the graph's batches:
    the share of the graph's time that is the teacher's own."""
    started = time.perf_counter()
    score_with_saved_model(teacher, serialized, num_grades, batch_size=LabelingConfig.batch_size)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 1), "pairs_per_second": round(len(serialized) / seconds, 1)}


def run_graph(teacher: str, patterns: Dict[str, List[str]], out_dir: str, num_grades: int,
              beam_args: List[str]) -> Dict:
    """Runs the labeling graph once; returns wall seconds and the reconciled counts."""
    shutil.rmtree(out_dir, ignore_errors=True)
    paths = LabelingPaths(
        input_patterns=patterns,
        output_split_dirs={split: os.path.join(out_dir, f"Split-{split}")
                           for split in (contract.SPLIT_TRAIN, contract.SPLIT_EVAL)},
        quarantine_dir=os.path.join(out_dir, "quarantine"),
        scratch_dir=os.path.join(out_dir, "_scratch"),
    )
    config = LabelingConfig(model_path=teacher, teacher_id=teacher, num_grades=num_grades)
    started = time.perf_counter()
    with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
        build_labeling_graph(pipeline, config, paths)
    seconds = time.perf_counter() - started
    with open(paths.events_path) as f:
        report = counts.PseudoLabelCounts.from_events(json.loads(f.read()))
    if not report.reconciles():
        raise RuntimeError(f"pseudo-label counts do not reconcile: {report.to_json()}")
    return {"seconds": seconds, "counts": json.loads(report.to_json())}


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="a run's WORKDIR (or run_summary.json): its teacher")
    parser.add_argument("--teacher", help="teacher SavedModel dir (overrides --run's)")
    parser.add_argument("--num-labeled", type=int, default=200)
    parser.add_argument("--num-unlabeled", type=int, default=3000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)

    teacher = args.teacher or (read_run_summary(args.run)["teacher"] if args.run else None)
    if not teacher:
        parser.error("give --run WORKDIR or --teacher DIR")
    num_grades = contract.DEFAULT_NUM_GRADES
    scratch = tempfile.mkdtemp(prefix="pseudo_label_throughput_")
    patterns, serialized = write_input_splits(scratch, args.num_labeled, args.num_unlabeled,
                                              num_grades)
    reference = teacher_alone(teacher, serialized, num_grades)
    print(f"teacher alone: {json.dumps(reference)}", file=sys.stderr, flush=True)

    results = []
    for workers in args.workers:
        mode = "in_memory" if workers == 1 else "multi_processing"
        beam_args = [f"--direct_running_mode={mode}", f"--direct_num_workers={workers}"]
        run = run_graph(teacher, patterns, os.path.join(scratch, f"out_{workers}"), num_grades,
                        beam_args)
        totals, filtered = run["counts"], run["counts"]["filtered"]
        # Unparseable and already-labeled pairs are dropped before the teacher sees them.
        scored = (totals[counts.HUMAN_TRAIN] + totals[counts.HUMAN_EVAL] + totals[counts.UNLABELED_IN]
                  - filtered.get(counts.UNPARSEABLE, 0) - filtered.get(counts.ALREADY_LABELED, 0))
        result = {"workers": workers, "beam_args": beam_args,
                  "seconds": round(run["seconds"], 1), "pairs_scored": scored,
                  "pairs_per_second": round(scored / run["seconds"], 1),
                  "pseudo_labeled_out": totals[counts.PSEUDO_LABELED_OUT]}
        print(json.dumps(result), file=sys.stderr, flush=True)
        results.append(result)
    shutil.rmtree(scratch, ignore_errors=True)

    report = {
        "benchmark": "pseudo_label_throughput",
        "teacher": os.path.abspath(teacher),
        "num_labeled": args.num_labeled,
        "num_unlabeled": args.num_unlabeled,
        "results": results,
        "teacher_alone_no_beam": reference,
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
                    "python": platform.python_version(), "beam": beam.__version__},
    }
    write_report(report, args.output)
    for result in results:
        print(f"{result['workers']} worker(s): {result['pairs_per_second']} pairs/s "
              f"({result['pairs_scored']} pairs in {result['seconds']} s)")
    print(f"wrote {args.output}")
    return report


if __name__ == "__main__":
    main()
