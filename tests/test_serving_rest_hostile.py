"""Hostile REST clients over raw sockets (issue 19, problems 8-11).

Every test checks that the gateway answers what it should, that the health check still
answers afterwards, that its threads and open connections stay bounded and that the log
holds no traceback. Timeouts are short limits (ServingLimits), not long sleeps.
"""

import dataclasses
import json
import logging
import os
import socket
import threading
import time
import urllib.request

import pytest

from support.serving_models import copy_lexical_model
from serving.limits import ServingLimits
from serving.server import RelevanceServer

MODEL = "relevance_student"
PREDICT = f"/v1/models/{MODEL}:predict"
CAP = 128
WORKERS = 4
LIMITS = ServingLimits(max_message_bytes=64 * 1024, max_json_depth=16, rest_header_timeout_s=2.0,
                       rest_body_timeout_s=1.0, rest_max_connections=CAP)


def _serving(directory, limits: ServingLimits) -> RelevanceServer:
    base = str(directory / MODEL)
    copy_lexical_model(os.path.join(base, "1"))
    return RelevanceServer(base, MODEL, port=0, rest_port=0, poll_seconds=0, limits=limits,
                           max_workers=WORKERS)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with _serving(tmp_path_factory.mktemp("models"), LIMITS) as running:
        yield running


@pytest.fixture
def log_text(caplog):
    """The log of the test (every logger, every thread), checked for tracebacks at the end."""
    caplog.set_level(logging.DEBUG)
    yield
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text


def _connect(server, timeout=10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.rest_port), timeout=timeout)


def _read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _exchange(server, data: bytes) -> bytes:
    """Sends `data`, then reads until the server closes (a 10 s socket timeout fails)."""
    with _connect(server) as sock:
        sock.sendall(data)
        return _read_until_closed(sock)


def _status(response: bytes) -> int:
    assert response.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), response[:200]
    return int(response.split(b" ", 2)[1])


def _post(content_length: str, body: bytes = b"") -> bytes:
    return (f"POST {PREDICT} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {content_length}\r\nConnection: close\r\n\r\n").encode() + body


def _healthy(server) -> bool:
    url = f"http://127.0.0.1:{server.rest_port}/v1/models/{MODEL}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status == 200 and b"AVAILABLE" in response.read()


def _eventually(condition, timeout_s=10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _rest(server):
    return server._rest


@pytest.mark.parametrize("content_length", ["abc", "12x", "1e3", " "])
def test_problem9_non_numeric_content_length_gets_400(server, log_text, content_length):
    assert _status(_exchange(server, _post(content_length, b"{}"))) == 400
    assert _healthy(server)


@pytest.mark.parametrize("content_length", ["-5", "-0", "-99999999999999999999"])
def test_problem10_negative_content_length_gets_400_and_frees_the_connection(
        server, log_text, content_length):
    started = time.monotonic()
    # The client keeps its side open: the server must answer and close by itself.
    assert _status(_exchange(server, _post(content_length))) == 400
    assert time.monotonic() - started < 5
    assert _healthy(server)


def test_problem8_deep_json_gets_400_naming_the_flag(server, log_text):
    for depth in (17, 30_000):  # 30,000: past the recursion limit, within the body limit
        body = b"[" * depth + b"]" * depth
        response = _exchange(server, _post(str(len(body)), body))
        assert _status(response) == 400
        assert b"--max-json-depth" in response
    shallow = json.dumps({"instances": [[[["x"]]]]}).encode()  # depth 5: an ordinary 400
    response = _exchange(server, _post(str(len(shallow)), shallow))
    assert _status(response) == 400 and b"--max-json-depth" not in response
    assert _healthy(server)


def test_oversize_content_length_is_refused_before_the_body_is_read(server, log_text):
    with _connect(server) as sock:
        sock.sendall(_post(str(10 * LIMITS.max_message_bytes)))  # the body never comes
        response = _read_until_closed(sock)
    assert _status(response) == 413 and b"--max-message-bytes" in response


def test_problem11_slow_body_is_timed_out(server, log_text):
    with _connect(server) as sock:
        sock.sendall(_post("100", b'{"instances": '))  # 14 of 100 bytes, then silence
        started = time.monotonic()
        response = _read_until_closed(sock)
    assert _status(response) == 408 and b"--rest-body-timeout-seconds" in response
    assert time.monotonic() - started < LIMITS.rest_body_timeout_s + 5
    assert _healthy(server)


@pytest.fixture
def patient_server(tmp_path):
    """A server whose header timeout outlasts opening 100 connections on a loaded machine:
    with the module's 2 s, the first ones could be closed before the last was counted."""
    with _serving(tmp_path, dataclasses.replace(LIMITS, rest_header_timeout_s=8.0)) as running:
        yield running


def test_problem11_half_open_connections_cost_no_threads(patient_server, log_text):
    server = patient_server
    assert _eventually(lambda: _rest(server).open_connections == 0)
    threads = threading.active_count()
    sockets = [_connect(server, timeout=30.0) for _ in range(100)]
    try:
        for sock in sockets[::2]:  # half send part of a request line, half nothing at all
            sock.sendall(b"GET /v1/models/")
        assert _eventually(lambda: _rest(server).open_connections >= 100, 6)
        assert _healthy(server)
        assert threading.active_count() <= threads + WORKERS
        assert _rest(server).open_connections <= CAP
        # The header timeout closes every one of them from the server's side.
        for sock in sockets:
            assert _read_until_closed(sock) == b""
    finally:
        for sock in sockets:
            sock.close()
    assert _eventually(lambda: _rest(server).open_connections == 0)
    assert threading.active_count() <= threads + WORKERS
    assert _healthy(server)


def test_problem11_connections_beyond_the_cap_get_503(server, log_text):
    assert _eventually(lambda: _rest(server).open_connections == 0)
    sockets = [_connect(server) for _ in range(CAP + 10)]
    try:
        assert _eventually(lambda: _rest(server).open_connections == CAP, 5)
        answers = [_read_until_closed(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    refused = [a for a in answers if a]
    assert len(refused) == 10
    assert all(_status(a) == 503 and b"--rest-max-connections" in a for a in refused)
    assert _eventually(lambda: _rest(server).open_connections == 0)
    assert _healthy(server)


def test_problem11_client_disconnects_log_no_traceback(server, log_text):
    body = json.dumps({"instances": [{"title": "x"}]}).encode()
    for data in (_post(str(len(body)), body),            # whole request, answer never read
                 _post(str(len(body)), body[:5])):       # half a body, then gone
        sock = _connect(server)
        sock.sendall(data)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # SO_LINGER 0: a reset, as a crashed client leaves
    assert _eventually(lambda: _rest(server).open_connections == 0)
    assert _healthy(server)


def test_a_model_call_in_flight_does_not_block_the_event_loop(server, log_text, monkeypatch):
    api = _rest(server).api
    entered, release = threading.Event(), threading.Event()
    answer = api.answer

    def held(method, path, body):  # a predict that takes as long as the test says
        if method == "POST":
            entered.set()
            release.wait(10)
        return answer(method, path, body)

    monkeypatch.setattr(api, "answer", held)
    body = json.dumps({"signature_name": "nope", "inputs": {}}).encode()
    replies = []
    request = _post(str(len(body)), body)
    caller = threading.Thread(target=lambda: replies.append(_exchange(server, request)))
    caller.start()
    try:
        assert entered.wait(10)
        assert _healthy(server)  # answered while the predict still holds its worker
    finally:
        release.set()
        caller.join(10)
    assert _status(replies[0]) == 404
