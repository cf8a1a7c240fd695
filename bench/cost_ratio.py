"""Cost per pair of the student versus the teacher, measured in the same process and run.

    .venv/bin/python bench/cost_ratio.py --run WORKDIR          # a run's run_summary.json
    .venv/bin/python bench/cost_ratio.py --teacher DIR --student DIR
    .venv/bin/python bench/cost_ratio.py --demo                 # trains a tiny default teacher and student

Both SavedModels are loaded in this process and called through `serving_default` on the
same requests, alternating teacher and student rounds so that load from other processes
hits both alike:

* latency: one query x --candidates candidates per call (the real-time case);
* throughput: --batch pairs per call, every pair with its own query (so the student
  cannot share query features), as an offline scorer would send them.

Cost is CPU seconds (this process, all threads) per pair, and wall seconds per pair
beside it; the headline is the CPU ratio from the latency case. Writes
bench/results/cost_ratio.json and prints it, then `student is Nx cheaper per pair than
the teacher`. The target (issue 4) is at least 50x.

`--paper-backbones xlm_roberta_base,mdeberta_v3_base,bert_base_multi` also times the
base-size backbones the paper compared (`bench/paper_backbones.py`: random weights, so
cost only; tokeniser and head left out, so a lower bound) and prints the student's ratio
against each.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from typing import Callable, Dict, List, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bench.paper_backbones import PAPER_BACKBONES, backbone_cpu_us_per_pair  # noqa: E402
from bench.demo_student import build_demo_student  # noqa: E402
from bench.student_latency import make_request  # noqa: E402
from relevance import contract  # noqa: E402
from models.export import load_relevance_model  # noqa: E402

RESULTS = os.path.join(ROOT, "bench", "results", "cost_ratio.json")
TARGET_RATIO = 50.0


def read_run_summary(workdir: str) -> Dict:
    """WORKDIR/run_summary.json (or that file given directly)."""
    path = workdir if workdir.endswith(".json") else os.path.join(workdir, "run_summary.json")
    with open(path) as f:
        return json.load(f)


def write_report(report: Dict, output: str) -> None:
    """Writes the JSON report and prints it."""
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))


def models_from_run(workdir: str) -> Tuple[str, str]:
    """(teacher, student) SavedModel directories named by the run's summary."""
    summary = read_run_summary(workdir)
    if not summary.get("student"):
        raise SystemExit(f"error: the run summary of {workdir} names no pushed student "
                         "(not blessed?); pass --student DIR explicitly")
    return summary["teacher"], summary["student"]


def build_demo_teacher(work_dir: str) -> str:
    """The default teacher (built-in preset), trained for one epoch on demo data."""
    from tfx.components.trainer.fn_args_utils import FnArgs

    from bench.teacher_demo import NUM_GRADES, write_splits
    from trainer.teacher import task

    splits = write_splits(os.path.join(work_dir, "data"), num_labeled=300, seed=0)
    fn_args = FnArgs(
        train_files=[splits["train"]], eval_files=[splits["eval"]], transform_output=None,
        serving_model_dir=os.path.join(work_dir, "serving"), model_run_dir=None,
        train_steps=None, eval_steps=None,
        custom_config={"num_grades": NUM_GRADES, "teacher": {"epochs": 1}},
    )
    task.run_fn(fn_args)
    return fn_args.serving_model_dir


def throughput_request(num_pairs: int) -> Dict[str, tf.Tensor]:
    """`num_pairs` pairs, each with its own query (drawn from the candidates' titles)."""
    request = make_request(num_pairs, seed=1)
    titles = [t.decode() for t in request["title"].numpy().tolist()]
    request[contract.QUERY] = tf.constant([" ".join(t.lower().split()[:3]) for t in titles])
    return request


def _timed_calls(serve: Callable, request: Dict, calls: int) -> List[Tuple[float, float]]:
    """(wall, cpu) seconds of each call, outputs fetched to host."""
    times = []
    for _ in range(calls):
        wall, cpu = time.perf_counter(), time.process_time()
        serve(**request)[contract.OUTPUT_PROBABILITIES].numpy()
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def measure(serves: Dict[str, Callable], request: Dict, pairs_per_call: int, rounds: int,
            calls_per_round: Dict[str, int]) -> Dict[str, Dict]:
    """Per-pair wall and CPU cost of each model, rounds alternating between the models."""
    for serve in serves.values():  # warm-up: tracing, table initialisation, allocators
        _timed_calls(serve, request, 3)
    times = {name: [] for name in serves}
    for _ in range(rounds):
        for name, serve in serves.items():
            times[name].extend(_timed_calls(serve, request, calls_per_round[name]))
    out = {}
    for name, samples in times.items():
        wall, cpu = np.array(samples).T
        out[name] = {
            "calls": len(samples),
            "pairs_per_call": pairs_per_call,
            "wall_ms_per_call_p50": round(float(np.median(wall)) * 1e3, 3),
            "wall_us_per_pair": round(float(np.median(wall)) / pairs_per_call * 1e6, 3),
            "cpu_us_per_pair": round(float(np.median(cpu)) / pairs_per_call * 1e6, 3),
            "pairs_per_second": round(pairs_per_call / float(np.median(wall)), 1),
        }
    return out


def ratios(case: Dict[str, Dict]) -> Dict[str, float]:
    teacher, student = case["teacher"], case["student"]
    return {
        "cpu": round(teacher["cpu_us_per_pair"] / max(student["cpu_us_per_pair"], 1e-9), 1),
        "wall": round(teacher["wall_us_per_pair"] / max(student["wall_us_per_pair"], 1e-9), 1),
    }


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="a run's WORKDIR (or its run_summary.json)")
    parser.add_argument("--teacher", help="teacher SavedModel dir (overrides --run's)")
    parser.add_argument("--student", help="student SavedModel dir (overrides --run's)")
    parser.add_argument("--demo", action="store_true",
                        help="train a tiny default teacher and student on demo data and use them")
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--batch", type=int, default=512, help="pairs per throughput call")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--paper-backbones", default="",
                        help="comma-separated, from " + ", ".join(PAPER_BACKBONES) + ": also "
                             "measure these base-size backbones (random weights: cost only) "
                             "and print the student's ratio against each")
    parser.add_argument("--paper-pairs", type=int, default=16,
                        help="pairs per forward pass of a paper backbone (default 16)")
    parser.add_argument("--paper-sequence-length", type=int, default=128,
                        help="tokens per pair for the paper backbones (default 128)")
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    paper = [name for name in args.paper_backbones.split(",") if name]
    unknown = sorted(set(paper) - set(PAPER_BACKBONES))
    if unknown:
        parser.error(f"unknown --paper-backbones {', '.join(unknown)}; "
                     f"choose from {', '.join(PAPER_BACKBONES)}")

    teacher_dir, student_dir = models_from_run(args.run) if args.run else (None, None)
    teacher_dir, student_dir = args.teacher or teacher_dir, args.student or student_dir
    built_seconds = None
    if args.demo and not (teacher_dir and student_dir):
        started = time.perf_counter()
        scratch = tempfile.mkdtemp(prefix="cost_ratio_")
        teacher_dir = teacher_dir or build_demo_teacher(os.path.join(scratch, "teacher"))
        student_dir = student_dir or build_demo_student(os.path.join(scratch, "student"))
        built_seconds = round(time.perf_counter() - started, 1)
    if not (teacher_dir and student_dir):
        parser.error("give --run, --teacher and --student, or --demo")

    serves = {name: load_relevance_model(path).signatures[contract.SIGNATURE_RAW]
              for name, path in (("teacher", teacher_dir), ("student", student_dir))}
    # The teacher is far slower: fewer calls per round keep both rounds of similar length.
    latency = measure(serves, make_request(args.candidates), args.candidates, args.rounds,
                      {"teacher": 4, "student": 40})
    throughput = measure(serves, throughput_request(args.batch), args.batch, args.rounds,
                         {"teacher": 1, "student": 10})
    report = {
        "benchmark": "cost_ratio",
        "teacher": os.path.abspath(teacher_dir),
        "student": os.path.abspath(student_dir),
        "demo_models_built_seconds": built_seconds,
        "latency_one_query": latency,
        "throughput_distinct_queries": throughput,
        "teacher_over_student": {"latency_one_query": ratios(latency),
                                 "throughput_distinct_queries": ratios(throughput)},
        "target_ratio": TARGET_RATIO,
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
                    "python": platform.python_version(), "tensorflow": tf.__version__},
    }
    student_cpu = latency["student"]["cpu_us_per_pair"]
    report["paper_backbones"] = []
    for name in paper:
        cost = backbone_cpu_us_per_pair(name, args.paper_pairs, args.paper_sequence_length)
        cost["over_student_cpu"] = round(cost["cpu_us_per_pair"] / max(student_cpu, 1e-9), 1)
        report["paper_backbones"].append(cost)
    write_report(report, args.output)
    for cost in report["paper_backbones"]:
        print(f"student is {cost['over_student_cpu']}x cheaper per pair than a "
              f"{cost['backbone']} backbone alone ({cost['cpu_us_per_pair']:.0f} us CPU per pair "
              f"at {cost['sequence_length']} tokens; random weights, cost only)")
    headline = report["teacher_over_student"]["latency_one_query"]["cpu"]
    batch = report["teacher_over_student"]["throughput_distinct_queries"]["cpu"]
    print(f"student is {headline}x cheaper per pair than the teacher "
          f"(CPU time, 1 query x {args.candidates}; {batch}x at {args.batch} distinct pairs; "
          f"target >= {TARGET_RATIO:g}x)")
    print(f"wrote {args.output}")
    return report


if __name__ == "__main__":
    main()
