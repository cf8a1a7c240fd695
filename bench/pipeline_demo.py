"""Benchmark: wall time and peak memory of `relevance demo`, with time per component.

Runs the demo in a child process (so its peak RSS is measurable), then reads each
component's execution start and end from MLMD.

    .venv/bin/python bench/pipeline_demo.py [--workdir DIR] [--num-labeled N] [--num-unlabeled N]

Writes bench/results/pipeline_demo.json and prints it.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cli import main as cli  # noqa: E402  (no TensorFlow import: the demo runs in a child)

RESULTS = os.path.join(ROOT, "bench", "results", "pipeline_demo.json")


def component_windows(metadata_path: str, pipeline_name: str) -> dict:
    """(start, end) epoch seconds of each component's newest execution, from MLMD."""
    from ml_metadata.metadata_store import metadata_store
    from tfx import v1 as tfx

    store = metadata_store.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path)
    )
    timings = {}
    for context in store.get_contexts_by_type("node"):
        executions = store.get_executions_by_context(context.id)
        if not executions:
            continue
        latest = max(executions, key=lambda e: e.id)
        node = context.name.split(".", 1)[-1] if context.name.startswith(pipeline_name) else context.name
        timings[node] = (latest.create_time_since_epoch / 1000.0,
                         latest.last_update_time_since_epoch / 1000.0)
    return timings


def component_seconds(windows: dict) -> dict:
    """Seconds each component took, longest first."""
    seconds = {node: round(end - start, 1) for node, (start, end) in windows.items()}
    return dict(sorted(seconds.items(), key=lambda kv: -kv[1]))


class RssSampler(threading.Thread):
    """Samples the resident memory of a process tree every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples = []  # (epoch seconds, MiB)
        self._done = threading.Event()

    def _tree_mib(self) -> float:
        pids, total_kib = [self.pid], 0
        while pids:
            pid = pids.pop()
            try:
                with open(f"/proc/{pid}/status") as status:
                    total_kib += next((int(line.split()[1]) for line in status
                                       if line.startswith("VmRSS:")), 0)
                with open(f"/proc/{pid}/task/{pid}/children") as children:
                    pids += [int(child) for child in children.read().split()]
            except (OSError, ValueError):
                continue
        return total_kib / 1024.0

    def run(self):
        while not self._done.wait(self.interval):
            self.samples.append((time.time(), self._tree_mib()))

    def stop(self):
        self._done.set()
        self.join()

    def peak_within(self, start: float, end: float) -> float:
        inside = [mib for when, mib in self.samples if start <= when <= end]
        return round(max(inside), 1) if inside else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default=None, help="default: a fresh temporary directory")
    parser.add_argument("--num-labeled", type=int, default=cli.DEMO_NUM_LABELED)
    parser.add_argument("--num-unlabeled", type=int, default=cli.DEMO_NUM_UNLABELED)
    parser.add_argument("--label", default="", help="a name for this run in the results")
    args = parser.parse_args()

    workdir = args.workdir or tempfile.mkdtemp(prefix="relevance_demo_bench_")
    shutil.rmtree(workdir, ignore_errors=True)
    command = [
        os.path.join(os.path.dirname(sys.executable), "relevance"), "demo", "--workdir", workdir,
        "--num-labeled", str(args.num_labeled), "--num-unlabeled", str(args.num_unlabeled),
    ]
    started = time.time()
    with open(os.path.join(tempfile.gettempdir(), "pipeline_demo_bench.log"), "w") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        sampler = RssSampler(child.pid)
        sampler.start()
        if child.wait() != 0:
            raise RuntimeError(f"relevance demo failed (exit {child.returncode}); see {log.name}")
        sampler.stop()
    wall = time.time() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    with open(os.path.join(workdir, "run_summary.json")) as f:
        summary = json.load(f)
    windows = component_windows(summary["metadata"], "search-relevance")
    figures = {
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": round(peak_kib / 1024.0, 1),
        "cpu_count": os.cpu_count(),
        "num_labeled": args.num_labeled,
        "num_unlabeled": args.num_unlabeled,
        "component_seconds": component_seconds(windows),
        # Sampled every 0.5 s: the process's memory while each component ran.
        "component_peak_rss_mib": {node: sampler.peak_within(*window)
                                   for node, window in windows.items()},
        "student_eval": summary.get("student_eval"),
        "workdir": workdir,
        "label": args.label,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(figures, f, indent=2)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
