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
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cli import main as cli  # noqa: E402  (no TensorFlow import: the demo runs in a child)

RESULTS = os.path.join(ROOT, "bench", "results", "pipeline_demo.json")


def component_seconds(metadata_path: str, pipeline_name: str) -> dict:
    """Seconds each component's newest execution took, from MLMD timestamps."""
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
        timings[node] = round(
            (latest.last_update_time_since_epoch - latest.create_time_since_epoch) / 1000.0, 1
        )
    return dict(sorted(timings.items(), key=lambda kv: -kv[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default=None, help="default: a fresh temporary directory")
    parser.add_argument("--num-labeled", type=int, default=cli.DEMO_NUM_LABELED)
    parser.add_argument("--num-unlabeled", type=int, default=cli.DEMO_NUM_UNLABELED)
    args = parser.parse_args()

    workdir = args.workdir or tempfile.mkdtemp(prefix="relevance_demo_bench_")
    shutil.rmtree(workdir, ignore_errors=True)
    command = [
        os.path.join(os.path.dirname(sys.executable), "relevance"), "demo", "--workdir", workdir,
        "--num-labeled", str(args.num_labeled), "--num-unlabeled", str(args.num_unlabeled),
    ]
    started = time.time()
    with open(os.path.join(tempfile.gettempdir(), "pipeline_demo_bench.log"), "w") as log:
        subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT)
    wall = time.time() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    with open(os.path.join(workdir, "run_summary.json")) as f:
        summary = json.load(f)
    figures = {
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": round(peak_kib / 1024.0, 1),
        "cpu_count": os.cpu_count(),
        "num_labeled": args.num_labeled,
        "num_unlabeled": args.num_unlabeled,
        "component_seconds": component_seconds(summary["metadata"], "search-relevance"),
        "student_eval": summary.get("student_eval"),
        "workdir": workdir,
    }
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(figures, f, indent=2)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
