"""`cli.serve.serve_main` in its own process: SIGTERM lets the request in flight finish, then exits 0."""

import argparse
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import grpc
import pytest

from relevance.errors import InputError
from serving.client import RelevanceClient
from support.serving_models import copy_lexical_model, sample_candidates
from serving.errors import ServingError
from cli.serve_flags import add_serve_parser
from cli.serve import limits_from_args

MODEL = "relevance_teacher"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# `relevance serve`'s serve_main, with one change for the test: the third request to
# reach the batcher is held there, its arrival announced on stdout, until the server
# begins to stop. So it is in flight when SIGTERM arrives, however fast the machine.
HELD = "held in the batcher"
LAUNCH = textwrap.dedent(f"""
    import argparse, sys, threading
    from cli.serve_flags import add_serve_parser
    from cli import serve
    from serving import request_batcher, server as server_lib

    stopping, arrivals = threading.Event(), []
    stop, wait_for_company = server_lib.RelevanceServer.stop, \\
        request_batcher.RequestBatcher._wait_for_company

    def stop_and_release(self, *args, **kwargs):
        stopping.set()
        return stop(self, *args, **kwargs)

    def hold_the_third(self, first):
        if not any(task is first for task in arrivals):
            arrivals.append(first)
            if len(arrivals) == 3:
                print("{HELD}", flush=True)
                while not stopping.is_set():
                    self._condition.wait(0.05)
        return wait_for_company(self, first)

    server_lib.RelevanceServer.stop = stop_and_release
    request_batcher.RequestBatcher._wait_for_company = hold_the_third
    p = argparse.ArgumentParser()
    add_serve_parser(p.add_subparsers(dest="command"))
    sys.exit(serve.serve_main(p.parse_args(sys.argv[1:])))
""")


def test_serve_parser_defaults():
    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--model-base-path", "/m/x", "--max-message-bytes", "4MiB"])
    assert (args.host, args.port, args.rest_port, args.poll_seconds) == ("127.0.0.1", 8500, None, 2.0)
    assert (args.max_candidates, args.max_string_bytes, args.max_message_bytes) == (1000, 65536, 4 << 20)


@pytest.mark.parametrize("flag,value", [("--rest-max-connections", "0"),
                                        ("--rest-body-timeout-seconds", "-1"),
                                        ("--max-json-depth", "0"), ("--grace-seconds", "-2"),
                                        ("--rest-port", "70000")])
def test_serve_flags_out_of_range_name_the_flag(flag, value):
    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--model-base-path", "/m/x", flag, value])
    with pytest.raises(InputError, match=flag):
        limits_from_args(args)


def test_sigterm_finishes_requests_in_flight_then_exits(tmp_path):
    base = str(tmp_path / MODEL)
    # Dense layers make one 1000-candidate request slow enough to be caught in flight.
    copy_lexical_model(os.path.join(base, "1"), hidden_layers=3, hidden_size=2048)
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "serve", "--model-base-path", base, "--port", "0",
         "--poll-seconds", "0", "--grace-seconds", "20",
         # The request in flight is inside the batcher, which must drain it too.
         "--enable-batching", "--intra-op-threads", "1", "--inter-op-threads", "1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        line = process.stdout.readline()  # "serving NAME on HOST:PORT" once the model is loaded
        assert line.startswith(f"serving {MODEL} on "), line
        target = line.split(" on ")[1].split(",")[0].strip()
        candidates = sample_candidates(1000)
        with RelevanceClient(target, MODEL, batch_size=1000, timeout_s=60) as client:
            client.score("warm", candidates)
            started = time.monotonic()
            client.score("red shoes", candidates)
            one_call = time.monotonic() - started
            print(f"one 1000-candidate call: {one_call:.2f}s")

            finished = {}

            def slow_request():
                finished["result"] = client.score("red shoes", candidates)
                finished["at"] = time.monotonic()

            thread = threading.Thread(target=slow_request)
            thread.start()
            assert process.stdout.readline().strip() == HELD  # in flight, held until the stop
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            thread.join(timeout=60)
            assert len(finished["result"]) == 1000
            assert finished["at"] > signalled

            time.sleep(0.2)
            late = RelevanceClient(target, MODEL, max_retries=0, timeout_s=5)
            with pytest.raises(ServingError) as caught:
                late.score("tea", [{"title": "tea"}])
            late.close()
            assert caught.value.code == grpc.StatusCode.UNAVAILABLE
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize("busy_flag", ["--port", "--rest-port"])
def test_serve_on_a_busy_port_is_a_one_line_error(tmp_path, busy_flag):
    """Issue 19, problem 12: exit code 2 and one error line naming the port and the flag."""
    base = str(tmp_path / MODEL)
    copy_lexical_model(os.path.join(base, "1"))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = taken.getsockname()[1]
        ports = {"--port": "0", "--rest-port": "0", busy_flag: str(busy)}
        finished = subprocess.run(
            [sys.executable, "-m", "cli.main", "serve", "--model-base-path", base,
             "--poll-seconds", "0", *[part for flag, port in ports.items() for part in (flag, port)]],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2, finished.stderr
    assert "Traceback" not in finished.stderr
    errors = [line for line in finished.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(busy) in errors[0] and busy_flag in errors[0], finished.stderr
