"""Issue 38, cases 5-9: the last edges of `relevance serve` and `relevance score`.

One module-wide server answers the request cases; the start-up and shutdown cases need
their own registry or server, each on the tiny lexical model.
"""

import json
import logging
import os
import shutil
import socket
import threading
import time

import grpc
import pytest
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_service_pb2_grpc

from cli import main as cli
from relevance import contract
from support.serving_models import copy_lexical_model
from serving.model_registry import ModelRegistry
from serving.server import RelevanceServer

MODEL = "relevance_student"


def _base_with(directory, *versions) -> str:
    base = str(directory / MODEL)
    for version in versions:
        copy_lexical_model(os.path.join(base, str(version)))
    return base


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = _base_with(tmp_path_factory.mktemp("models"), 1)
    with RelevanceServer(base, MODEL, port=0, rest_port=0, poll_seconds=0,
                         max_workers=4) as running:
        yield running


def _http(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def _status_and_body(response: bytes):
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# ---------------------------------------------------------------- 5: lone surrogate


def test_score_with_a_lone_surrogate_in_the_candidates_is_one_line(tmp_path, capsys):
    candidates = tmp_path / "candidates.jsonl"
    candidates.write_text('{"item_id": "a", "title": "bad \\ud800 text"}\n', encoding="utf-8")
    code = cli.main(["score", "--server", "127.0.0.1:1", "--model-name", MODEL,
                     "--query", "lamp", "--candidates", str(candidates)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "line 1" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


# ---------------------------------------------------------------- 6: echoed values capped


def test_grpc_errors_cap_the_client_values_they_echo(server):
    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(
        name=MODEL, signature_name="s" * 10_000))
    with grpc.insecure_channel(server.target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND, caught.value.details()
        assert len(caught.value.details()) < 1000
        assert "10000 characters" in caught.value.details()
        request.model_spec.name = "m" * 10_000
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert len(caught.value.details()) < 1000


# ---------------------------------------------------------------- 7: huge version number


@pytest.mark.parametrize("suffix", ["", ":predict"])
def test_rest_version_of_5000_digits_is_a_client_error(server, suffix, caplog):
    path = f"/v1/models/{MODEL}/versions/{'9' * 5000}{suffix}"
    method, body = ("POST", b'{"instances": [{"query": "x"}]}') if suffix else ("GET", b"")
    response = _http(server.rest_port, (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    status, payload = _status_and_body(response)
    assert status == 400, payload[:300]
    assert len(json.loads(payload)["error"]) < 1000
    assert "Traceback" not in caplog.text


# ---------------------------------------------------------------- 8: a broken newest version


def test_a_broken_newest_version_falls_back_to_the_newest_that_loads(tmp_path, caplog):
    base = _base_with(tmp_path, 900, 950)
    # Version 950 was cut short while copying: its variables are gone.
    shutil.rmtree(os.path.join(base, "950", "variables"))
    registry = ModelRegistry(MODEL, base, poll_seconds=0)
    with caplog.at_level(logging.INFO, logger="serving.model_registry"):
        registry.start()
    try:
        assert registry.current_version == 900
        states = {state.version: state for state in registry.version_states()}
        assert states[950].state == "END" and "failed to load" in states[950].error
        assert states[900].state == "AVAILABLE"
        assert "version 950" in caplog.text and "failed to load" in caplog.text
        # Polling again does not retry 950 (unchanged) nor drop 900.
        assert registry.poll_once() is False and registry.current_version == 900
    finally:
        registry.stop()


# ---------------------------------------------------------------- 9: SIGTERM mid-upload


def test_stop_while_a_body_is_uploading_still_answers_it(tmp_path):
    base = _base_with(tmp_path, 1)
    running = RelevanceServer(base, MODEL, port=0, rest_port=0, poll_seconds=0,
                              grace_seconds=10).start()
    instance = {name: "" for name in contract.RAW_SIGNATURE_INPUTS}
    instance.update(query="red shoes", title="red shoes")
    body = json.dumps({"instances": [instance]}).encode()
    try:
        with socket.create_connection(("127.0.0.1", running.rest_port), timeout=15) as sock:
            sock.sendall((f"POST /v1/models/{MODEL}:predict HTTP/1.1\r\nHost: x\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:10])
            time.sleep(0.3)  # the headers are in: the request is in flight
            stopper = threading.Thread(target=running.stop)
            stopper.start()
            time.sleep(1.5)  # past the 0.5 s after which the connection used to close
            sock.sendall(body[10:])
            response = b""
            while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                response += chunk
        status, payload = _status_and_body(response)
        assert status == 200, response[:300]
        assert len(json.loads(payload)["predictions"]) == 1
        stopper.join(15)
        assert not stopper.is_alive()
    finally:
        running.stop(grace_s=0)
