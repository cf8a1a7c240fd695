"""gRPC serving latency and throughput of the student and the teacher.

    python bench/serving_latency.py --student BASE/relevance_student --teacher BASE/relevance_teacher
    python bench/serving_latency.py --demo        # builds two tiny stand-in models itself

For each model and each --batching mode it starts the real server, `relevance serve`,
in its own process on loopback (`--enable-batching` in the "on" mode), then runs 1, 4
and 16 concurrent clients (threads of this process, each its own gRPC channel) for
--seconds each, every call one query with --candidates candidates. `--clients library`
(default) calls `RelevanceClient.score`, building each request; `--clients replay` re-sends
one serialized request, as a load generator does, so that the clients take little of the
cores the server runs on (as callers on other machines would). It records p50 / p99
latency, throughput and the server process's CPU time per request. The JSON goes to
bench/results/serving_latency.json and to stdout, followed by the teacher / student
ratios.

Clients and server share the machine's cores, as they do on a 2-core box; the clients'
own CPU time (building requests, reading answers) is reported beside the server's. With
--demo the "teacher" is the lexical model plus dense layers, a stand-in for cost only,
not the real cross-encoder.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Tuple

import grpc
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # lets `python bench/serving_latency.py` run from a checkout
    sys.path.insert(0, ROOT)

from serving.client import RelevanceClient  # noqa: E402
from tests.support.serving_models import copy_lexical_model, sample_candidates  # noqa: E402
from models.export_layout import SAVED_MODEL_FILES, latest_version, write_warmup_requests  # noqa: E402

DEFAULT_OUTPUT = os.path.join(ROOT, "bench", "results", "serving_latency.json")


def serving_layout(model_dir: str, model_name: str, scratch: str) -> Tuple[str, int]:
    """(BASE/MODEL_NAME, version) for a layout directory or a bare version directory."""
    model_dir = os.path.abspath(model_dir)
    if any(os.path.exists(os.path.join(model_dir, f)) for f in SAVED_MODEL_FILES):
        base = os.path.join(scratch, model_name)
        os.makedirs(base, exist_ok=True)
        os.symlink(model_dir, os.path.join(base, "1"))
        return base, 1
    found = latest_version(model_dir)
    if found is None:
        raise SystemExit(f"error: {model_dir} is neither a SavedModel directory nor a TF Serving "
                         "model directory with integer version subdirectories")
    return model_dir, found[0]


QUERY = "red running shoes"
PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"


class LibraryCaller:
    """One call = `RelevanceClient.score`: the request is built from the candidate dicts
    and the answer decoded every time, as a Python caller of the library pays."""

    def __init__(self, target: str, model_name: str, candidates: List[Dict]):
        self._client = RelevanceClient(target, model_name, batch_size=len(candidates),
                                       timeout_s=60)
        self._candidates = candidates
        self._client.score(QUERY, candidates[:1])  # connect before the clock starts

    def __call__(self) -> None:
        self._client.score(QUERY, self._candidates)

    def close(self) -> None:
        self._client.close()


class ReplayCaller:
    """One call = the same serialized PredictRequest sent again on a raw channel, as a
    load generator (e.g. ghz) does: the client's own CPU is a fraction of a millisecond,
    which approximates callers on other machines. The request bytes come from
    `RelevanceClient.scoring_request`; each answer is parsed and its length checked.
    """

    def __init__(self, target: str, model_name: str, candidates: List[Dict]):
        from tensorflow_serving.apis import predict_pb2

        from relevance import contract

        with RelevanceClient(target, model_name) as builder:
            self._request = builder.scoring_request(QUERY, candidates).SerializeToString()
        self._parse = predict_pb2.PredictResponse.FromString
        self._score = contract.OUTPUT_SCORE
        self._expected = len(candidates)
        self._channel = grpc.insecure_channel(target, options=[
            ("grpc.max_send_message_length", len(self._request) + 1024),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024)])
        self._predict = self._channel.unary_unary(PREDICT_METHOD)
        self()  # connect before the clock starts

    def __call__(self) -> None:
        response = self._parse(self._predict(self._request, timeout=60))
        dims = response.outputs[self._score].tensor_shape.dim
        scores = dims[0].size if dims else 0
        if scores != self._expected:
            raise RuntimeError(f"{scores} scores for {self._expected} candidates")

    def close(self) -> None:
        self._channel.close()


CALLERS = {"library": LibraryCaller, "replay": ReplayCaller}


def run_clients(target: str, model_name: str, concurrency: int, seconds: float,
                candidates: List[Dict], caller_class=LibraryCaller) -> Dict:
    latencies: List[float] = []
    errors: List[str] = []
    lock = threading.Lock()
    start_barrier = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def client_loop():
        call = caller_class(target, model_name, candidates)
        try:
            start_barrier.wait()
            mine, failed = [], []
            while time.monotonic() < deadline[0]:
                began = time.perf_counter()
                try:
                    call()
                    mine.append(time.perf_counter() - began)
                except Exception as error:  # counted, so one failure does not hide the rest
                    failed.append(repr(error))
        finally:
            call.close()
            with lock:
                latencies.extend(mine)
                errors.extend(failed)

    threads = [threading.Thread(target=client_loop) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + seconds
    start_barrier.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    ms = np.array(latencies) * 1000.0 if latencies else np.array([np.nan])
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "seconds": round(elapsed, 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        # Below ~100 samples the 99th percentile is just the slowest call or two.
        "p99_from_few_samples": len(latencies) < 100,
        "mean_ms": round(float(np.mean(ms)), 2),
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "candidates_per_s": round(len(latencies) * len(candidates) / elapsed, 0),
    }


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerProcess:
    """`relevance serve` in a child process on a free loopback port."""

    def __init__(self, base: str, model_name: str, batching: bool, workers: int,
                 extra_args: List[str] = ()):
        command = [sys.executable, "-m", "cli.main", "serve", "--model-base-path", base,
                   "--model-name", model_name, "--port", "0", "--poll-seconds", "0",
                   "--workers", str(workers), *extra_args]
        command += ["--enable-batching"] if batching else []
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=self.log, text=True)
        line = self.process.stdout.readline()  # "serving NAME on HOST:PORT" once it is up
        match = re.search(r" on (\S+?)(?:,|$)", line.strip())
        if not match:
            self.stop()
            self.log.seek(0)
            raise SystemExit(f"error: the server did not start: {line!r}\n{self.log.read()[-3000:]}")
        self.target = match.group(1)

    def cpu_seconds(self) -> float:
        return _process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def bench_model(label: str, model_dir: str, model_name: str, args, scratch: str) -> Dict:
    base, version = serving_layout(model_dir, model_name, scratch)
    candidates = sample_candidates(args.candidates, seed=11)
    results = []
    for batching in args.batching:
        server = ServerProcess(base, model_name, batching == "on", max(args.concurrency) + 2,
                               args.server_arg)
        try:
            with RelevanceClient(server.target, model_name, batch_size=args.candidates) as warm:
                for _ in range(3):
                    warm.score("warm up", candidates)
            for concurrency in args.concurrency:
                server_cpu = server.cpu_seconds()
                client_cpu = time.process_time()
                result = run_clients(server.target, model_name, concurrency, args.seconds,
                                     candidates, CALLERS[args.clients])
                requests = max(result["requests"], 1)
                result["batching"] = batching
                result["clients"] = args.clients
                result["server_cpu_ms_per_request"] = round(
                    (server.cpu_seconds() - server_cpu) * 1000 / requests, 2)
                result["client_cpu_ms_per_request"] = round(
                    (time.process_time() - client_cpu) * 1000 / requests, 2)
                print(f"{label}: {json.dumps(result)}", file=sys.stderr, flush=True)
                results.append(result)
        finally:
            server.stop()
    return {"model_dir": os.path.abspath(model_dir), "served_version": version, "results": results}


def ratios(teacher: Dict, student: Dict) -> List[Dict]:
    out = []
    for t, s in zip(teacher["results"], student["results"]):
        def ratio(key):
            return round(t[key] / s[key], 2) if s[key] else None
        out.append({"concurrency": t["concurrency"], "batching": t["batching"],
                    "p50_latency": ratio("p50_ms"),
                    "p99_latency": ratio("p99_ms"), "throughput": ratio("throughput_rps")})
    return out


def build_demo_models(scratch: str) -> Tuple[str, str]:
    student = copy_lexical_model(os.path.join(scratch, "demo", "relevance_student", "1"))
    teacher = copy_lexical_model(os.path.join(scratch, "demo", "relevance_teacher", "1"),
                                 hidden_layers=4, hidden_size=1024)
    for path, name in ((student, "relevance_student"), (teacher, "relevance_teacher")):
        write_warmup_requests(path, name, num_candidates=(1, 200))
    return os.path.dirname(student), os.path.dirname(teacher)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--student", help="student: BASE/MODEL_NAME or a SavedModel version dir")
    parser.add_argument("--teacher", help="teacher: BASE/MODEL_NAME or a SavedModel version dir")
    parser.add_argument("--demo", action="store_true", help="build tiny stand-in models and use them")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration per concurrency level")
    parser.add_argument("--candidates", type=int, default=200, help="candidates per request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--batching", nargs="+", choices=["off", "on"], default=["off", "on"],
                        help="server modes to measure: without and with --enable-batching")
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="extra `relevance serve` argument, repeatable "
                             "(e.g. --server-arg=--intra-op-threads=1)")
    parser.add_argument("--clients", choices=sorted(CALLERS), default="library",
                        help="library: each call builds its request with RelevanceClient "
                             "(default); replay: one serialized request re-sent on a raw "
                             "channel, so the clients hardly use the cores the server runs on")
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if not args.demo and not (args.student and args.teacher):
        parser.error("give --student and --teacher, or --demo")

    with tempfile.TemporaryDirectory(prefix="serving_latency_") as scratch:
        student_dir, teacher_dir = (build_demo_models(scratch) if args.demo
                                    else (args.student, args.teacher))
        student = bench_model("student", student_dir, "relevance_student", args, scratch)
        teacher = bench_model("teacher", teacher_dir, "relevance_teacher", args, scratch)

    report = {
        "benchmark": "serving_latency",
        "demo_models": bool(args.demo),
        "transport": "gRPC Predict over loopback to `relevance serve` in its own process",
        "candidates_per_request": args.candidates,
        "server_args": args.server_arg,
        "clients": args.clients,
        "seconds_per_level": args.seconds,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "student": student,
        "teacher": teacher,
        "teacher_over_student": ratios(teacher, student),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))
    for row in report["teacher_over_student"]:
        print(f"teacher/student at concurrency {row['concurrency']}, batching "
              f"{row['batching']}: p50 x{row['p50_latency']}, "
              f"p99 x{row['p99_latency']}, throughput x{row['throughput']}")
    print(f"wrote {args.output}")
    return 1 if any(r["errors"] for m in (student, teacher) for r in m["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
