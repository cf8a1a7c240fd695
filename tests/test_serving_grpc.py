"""The gRPC server against real clients: parity with the SavedModel, bad requests, TLS."""

import argparse
import json
import os
import ssl
import subprocess
import threading
import time
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from relevance import contract
from serving.batching_parameters import BatchingParameters
from cli.score_flags import add_score_parser
from serving.client import RelevanceClient
from cli.score import score_main
from support.serving_models import copy_lexical_model, sample_candidates
from serving.errors import ServingError
from models.export_layout import write_warmup_requests
from serving.health import SERVING, check_health
from serving.limits import ServingLimits
from serving.server import RelevanceServer
from models.tensor_codec import string_vector_proto

MODEL = "relevance_student"
LIMITS = ServingLimits(max_candidates=50, max_string_bytes=1024, max_message_bytes=256 * 1024)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("models") / MODEL)
    version_dir = copy_lexical_model(os.path.join(base, "3"))
    write_warmup_requests(version_dir, MODEL, num_candidates=(1, 5))
    return base


# Every test against the server runs with TF Serving's default (each request alone) and
# with cross-request batching, which must not change any answer or status.
@pytest.fixture(scope="module", params=[None, BatchingParameters(batch_timeout_micros=0)],
                ids=["unbatched", "batching"])
def server(model_dir, request):
    with RelevanceServer(model_dir, MODEL, port=0, poll_seconds=0, limits=LIMITS,
                         batching=request.param) as running:
        yield running


@pytest.fixture(scope="module")
def stub(server):
    channel = grpc.insecure_channel(server.target)
    yield prediction_service_pb2_grpc.PredictionServiceStub(channel)
    channel.close()


def _raw_inputs(candidates, query="red running shoes"):
    inputs = {contract.QUERY: [query]}
    for field in contract.ITEM_TEXT_FIELDS:
        inputs[field] = [contract.LIST_SEPARATOR.join(c[field]) if isinstance(c[field], list)
                         else c[field] for c in candidates]
    return inputs


def _request(inputs=None, name=MODEL, signature=contract.SIGNATURE_RAW, version=None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for key, values in (inputs if inputs is not None else _raw_inputs(sample_candidates(3))).items():
        request.inputs[key].CopyFrom(string_vector_proto(values))
    return request


def _status_of(call, request):
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=10)
    return caught.value.code(), caught.value.details()


def test_grpc_predictions_equal_the_saved_model(server, stub, model_dir):
    candidates = sample_candidates(40, seed=1)
    inputs = _raw_inputs(candidates)
    local = tf.saved_model.load(os.path.join(model_dir, "3"))
    expected = local.signatures[contract.SIGNATURE_RAW](
        **{k: tf.constant(v) for k, v in inputs.items()})

    response = stub.Predict(_request(inputs), timeout=10)
    assert response.model_spec.version.value == 3
    np.testing.assert_allclose(tf.make_ndarray(response.outputs["probabilities"]),
                               expected["probabilities"].numpy(), rtol=1e-6)

    with RelevanceClient(server.target, MODEL, batch_size=7) as client:  # 6 calls
        scored = client.score("red running shoes", candidates)
    assert [s["item_id"] for s in scored] == [c["item_id"] for c in candidates]
    np.testing.assert_allclose([s["score"] for s in scored], expected["score"].numpy(), rtol=1e-6)
    np.testing.assert_allclose([s["probabilities"] for s in scored],
                               expected["probabilities"].numpy(), rtol=1e-6)

    with RelevanceClient(server.target, MODEL, signature_name=contract.SIGNATURE_EXAMPLES) as client:
        by_examples = client.score("red running shoes", candidates)
    np.testing.assert_allclose([s["score"] for s in by_examples], expected["score"].numpy(),
                               rtol=1e-6)


def test_client_fills_missing_fields_and_joins_lists(server, model_dir):
    local = tf.saved_model.load(os.path.join(model_dir, "3")).signatures[contract.SIGNATURE_RAW]
    inputs = {k: tf.constant([""]) for k in contract.RAW_SIGNATURE_INPUTS}
    inputs.update(query=tf.constant(["tea cup"]), title=tf.constant(["tea"]),
                  board_titles=tf.constant(["cup\nmug"]))
    with RelevanceClient(server.target, MODEL) as client:
        [scored] = client.score("tea cup", [{"title": "tea", "board_titles": ["cup", "mug"]}])
    assert scored["score"] == pytest.approx(float(local(**inputs)["score"][0]), rel=1e-6)


BAD_REQUESTS = {
    "missing input": (lambda: _request({k: v for k, v in _raw_inputs(sample_candidates(2)).items()
                                        if k != "board_titles"}),
                      grpc.StatusCode.INVALID_ARGUMENT, "board_titles"),
    "unknown input": (lambda: _request({**_raw_inputs(sample_candidates(2)), "price": ["1", "2"]}),
                      grpc.StatusCode.INVALID_ARGUMENT, "price"),
    "mismatched lengths": (lambda: _request({**_raw_inputs(sample_candidates(3)), "title": ["a", "b"]}),
                           grpc.StatusCode.INVALID_ARGUMENT, "mismatched"),
    "empty batch": (lambda: _request({k: [] for k in contract.RAW_SIGNATURE_INPUTS}),
                    grpc.StatusCode.INVALID_ARGUMENT, "at least one candidate"),
    "oversize string": (lambda: _request({**_raw_inputs(sample_candidates(1)), "description": ["x" * 2000]}),
                        grpc.StatusCode.INVALID_ARGUMENT, "--max-string-bytes"),
    "too many candidates": (lambda: _request(_raw_inputs(sample_candidates(51))),
                            grpc.StatusCode.INVALID_ARGUMENT, "--max-candidates"),
    "message too large": (lambda: _request({k: ["y" * 1000] * 40 for k in contract.RAW_SIGNATURE_INPUTS}),
                          grpc.StatusCode.RESOURCE_EXHAUSTED, ""),
    "unknown model": (lambda: _request(name="nope"), grpc.StatusCode.NOT_FOUND, "relevance_student"),
    "unknown version": (lambda: _request(version=99), grpc.StatusCode.NOT_FOUND, "version 99"),
    "unknown signature": (lambda: _request(signature="nope"), grpc.StatusCode.NOT_FOUND, "serving_default"),
    "model rejects examples": (lambda: _request({"examples": ["not a tf.Example"]},
                                                signature=contract.SIGNATURE_EXAMPLES),
                               grpc.StatusCode.INVALID_ARGUMENT, "model rejected"),
}


def _wrong_dtype():
    request = _request(_raw_inputs(sample_candidates(2)))
    request.inputs["title"].CopyFrom(tf.make_tensor_proto(np.array([1.0, 2.0], np.float32)))
    return request


def _wrong_rank():
    request = _request(_raw_inputs(sample_candidates(2)))
    request.inputs["title"].CopyFrom(tf.make_tensor_proto(np.array([[b"a"], [b"b"]], dtype=object)))
    return request


def _shape_disagrees_with_values():
    request = _request(_raw_inputs(sample_candidates(2)))
    request.inputs["title"].tensor_shape.dim[0].size = 5
    return request


def _version_label():
    request = _request()
    request.model_spec.version_label = "stable"
    return request


def _unknown_output():
    request = _request()
    request.output_filter.append("logits")
    return request


BAD_REQUESTS.update({
    "wrong dtype": (_wrong_dtype, grpc.StatusCode.INVALID_ARGUMENT, "must be string but float"),
    "wrong rank": (_wrong_rank, grpc.StatusCode.INVALID_ARGUMENT, "shape"),
    "shape disagrees with values": (_shape_disagrees_with_values, grpc.StatusCode.INVALID_ARGUMENT, "5"),
    "version label": (_version_label, grpc.StatusCode.INVALID_ARGUMENT, "stable"),
    "unknown output": (_unknown_output, grpc.StatusCode.INVALID_ARGUMENT, "logits"),
})


@pytest.mark.parametrize("kind", sorted(BAD_REQUESTS))
def test_bad_request_gets_tf_serving_status_and_server_keeps_answering(stub, kind):
    build, code, fragment = BAD_REQUESTS[kind]
    got_code, details = _status_of(stub.Predict, build())
    assert got_code == code, details
    assert fragment in details
    assert len(tf.make_ndarray(stub.Predict(_request(), timeout=10).outputs["score"])) == 3


def test_garbage_bytes_are_invalid_argument(server, stub):
    with grpc.insecure_channel(server.target) as channel:
        raw = channel.unary_unary("/tensorflow.serving.PredictionService/Predict")
        with pytest.raises(grpc.RpcError) as caught:
            raw(b"\x0a\xff\xff\xff\xff\x0f garbage", timeout=10)  # field 1, absurd length
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid protobuf" in caught.value.details()
    assert stub.Predict(_request(), timeout=10).model_spec.version.value == 3


# Issue 19, problem 7: bytes that are no tf.Example; TF's error message quotes them, so
# it is not UTF-8 either.
UNDECODABLE_EXAMPLES = [b"\xff\xfe\x00 not an Example \xc3\x28", b"\x0a\x05\xff\xfe\xfd\xfc\xfb"]


def test_undecodable_examples_are_invalid_argument_without_a_traceback(server, stub, caplog):
    for serialized in UNDECODABLE_EXAMPLES:
        request = _request({"examples": [serialized]}, signature=contract.SIGNATURE_EXAMPLES)
        code, details = _status_of(stub.Predict, request)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, details
        assert "Could not parse example input" in details
    # A well-formed Example whose text is not UTF-8 is the model's to score.
    latin1 = tf.train.Example(features=tf.train.Features(feature={
        "title": tf.train.Feature(bytes_list=tf.train.BytesList(value=["café".encode("latin-1")]))}))
    request = _request({"examples": [latin1.SerializeToString()]},
                       signature=contract.SIGNATURE_EXAMPLES)
    assert len(tf.make_ndarray(stub.Predict(request, timeout=10).outputs["score"])) == 1
    assert "Traceback" not in caplog.text


def test_metadata_status_and_health(server, stub):
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = MODEL
    metadata = stub.GetModelMetadata(request, timeout=10)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    metadata.metadata["signature_def"].Unpack(signatures)
    assert set(signatures.signature_def) == {contract.SIGNATURE_RAW, contract.SIGNATURE_EXAMPLES,
                                             contract.SIGNATURE_LABELS}
    assert set(signatures.signature_def[contract.SIGNATURE_RAW].inputs) == set(contract.RAW_SIGNATURE_INPUTS)

    with grpc.insecure_channel(server.target) as channel:
        models = model_service_pb2_grpc.ModelServiceStub(channel)
        status_request = get_model_status_pb2.GetModelStatusRequest()
        status_request.model_spec.name = MODEL
        [status] = models.GetModelStatus(status_request, timeout=10).model_version_status
        assert (status.version, status.state) == (3, get_model_status_pb2.ModelVersionStatus.AVAILABLE)
        status_request.model_spec.name = "nope"
        assert _status_of(models.GetModelStatus, status_request)[0] == grpc.StatusCode.NOT_FOUND
        assert check_health(channel) == SERVING
        assert check_health(channel, MODEL) == SERVING


def test_concurrent_clients_for_three_seconds_without_errors(server):
    errors, calls = [], []
    deadline = time.monotonic() + 3.0

    def worker(seed):
        candidates = sample_candidates(50, seed=seed)
        with RelevanceClient(server.target, MODEL, batch_size=50) as client:
            while time.monotonic() < deadline:
                try:
                    assert len(client.score("wool scarf", candidates)) == 50
                    calls.append(1)
                except Exception as error:  # counted, not raised, so every worker runs to the end
                    errors.append(repr(error))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(calls) > 20


def test_client_errors_name_the_server_and_retry_only_unavailable(server):
    with RelevanceClient(server.target, "nope") as client:
        with pytest.raises(ServingError) as caught:
            client.score("q", [{"title": "t"}])
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    assert server.target in str(caught.value) and "relevance_student" in str(caught.value)

    with RelevanceClient("127.0.0.1:1", MODEL, max_retries=2, backoff_s=0.01, timeout_s=2) as client:
        started = time.monotonic()
        with pytest.raises(ServingError) as caught:
            client.score("q", [{"title": "t"}])
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert "127.0.0.1:1" in str(caught.value) and "3 attempts" in str(caught.value)
    assert time.monotonic() - started < 10


def test_tls(model_dir, tmp_path):
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", key, "-out", cert], check=True, capture_output=True)
    with RelevanceServer(model_dir, MODEL, port=0, rest_port=0, poll_seconds=0,
                         tls_cert=cert, tls_key=key) as tls:
        root = open(cert, "rb").read()
        context = ssl.create_default_context(cafile=cert)
        with urllib.request.urlopen(f"https://localhost:{tls.rest_port}/v1/models/{MODEL}",
                                    context=context, timeout=10) as response:
            assert json.loads(response.read())["model_version_status"][0]["state"] == "AVAILABLE"
        with RelevanceClient(f"localhost:{tls.port}", MODEL, root_certificates=root) as client:
            assert len(client.score("tea", [{"title": "tea"}])) == 1
        with RelevanceClient(f"localhost:{tls.port}", MODEL, max_retries=0, timeout_s=3) as plain:
            with pytest.raises(ServingError):
                plain.score("tea", [{"title": "tea"}])


def test_score_command_prints_one_json_line_per_candidate(server, tmp_path, capsys):
    path = tmp_path / "candidates.jsonl"
    rows = [{"item_id": "a", "title": "red shoes"}, {"item_id": "b", "title": "green tea",
                                                      "board_titles": ["tea", "cups"]}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    parser = argparse.ArgumentParser()
    add_score_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["score", "--server", server.target, "--model-name", MODEL,
                              "--query", "red shoes", "--candidates", str(path)])
    assert score_main(args) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["item_id"] for line in lines] == ["a", "b"]
    assert lines[0]["score"] > lines[1]["score"]
    assert len(lines[0]["probabilities"]) == 5

    args.model_name = "nope"
    assert score_main(args) == 2
    assert "NOT_FOUND" in capsys.readouterr().err


@pytest.mark.parametrize("batching", [None, BatchingParameters(batch_timeout_micros=0)],
                         ids=["unbatched", "batching"])
def test_item_embeddings_travel_with_candidates_over_grpc(tmp_path, capsys, batching):
    """A student with item embeddings: `serving_embedded` takes them as a float matrix,
    `serving_examples` in each candidate's tf.Example, and every answer says whether the
    row's embedding was used."""
    base = str(tmp_path / MODEL)
    copy_lexical_model(os.path.join(base, "1"), embedding_dims=2)
    rows = [{"item_id": "a", "title": "red shoes", "item_embedding": [1.0, 0.5]},
            {"item_id": "b", "title": "red shoes", "item_embedding": [0.0, 0.0]}]
    with RelevanceServer(base, MODEL, port=0, poll_seconds=0, limits=LIMITS,
                         batching=batching) as running:
        with RelevanceClient(running.target, MODEL,
                             signature_name=contract.SIGNATURE_EMBEDDED) as client:
            embedded = client.score("red shoes", rows)
        with RelevanceClient(running.target, MODEL,
                             signature_name=contract.SIGNATURE_EXAMPLES) as client:
            examples = client.score("red shoes", rows + [{"item_id": "c", "title": "red shoes"}])
        path = tmp_path / "candidates.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        parser = argparse.ArgumentParser()
        add_score_parser(parser.add_subparsers(dest="command"))
        assert score_main(parser.parse_args([
            "score", "--server", running.target, "--model-name", MODEL, "--query", "red shoes",
            "--candidates", str(path), "--signature", contract.SIGNATURE_EMBEDDED])) == 0
    assert [r[contract.OUTPUT_EMBEDDING_USED] for r in embedded] == [True, True]
    assert embedded[0]["score"] > embedded[1]["score"]  # the embedding moved it
    assert [r[contract.OUTPUT_EMBEDDING_USED] for r in examples] == [True, True, False]
    np.testing.assert_allclose([r["score"] for r in examples[:2]],
                               [r["score"] for r in embedded], rtol=1e-5)
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line[contract.OUTPUT_EMBEDDING_USED] for line in printed] == [True, True]
    with pytest.raises(ValueError, match="item_embedding of one width"):
        RelevanceClient("localhost:1", MODEL, signature_name=contract.SIGNATURE_EMBEDDED) \
            .score("red shoes", [{"title": "red shoes"}])
