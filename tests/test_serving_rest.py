"""The REST API: predict in columnar and row form, status, metadata, errors."""

import base64
import json
import os
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

from relevance import contract
from support.serving_models import copy_lexical_model, sample_candidates
from serving.limits import ServingLimits
from serving.server import RelevanceServer

MODEL = "relevance_student"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("models") / MODEL)
    copy_lexical_model(os.path.join(base, "4"))
    limits = ServingLimits(max_candidates=20, max_message_bytes=64 * 1024)
    with RelevanceServer(base, MODEL, port=0, rest_port=0, poll_seconds=0, limits=limits) as running:
        running.local = tf.saved_model.load(os.path.join(base, "4")).signatures
        yield running


def _call(server, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(f"http://127.0.0.1:{server.rest_port}{path}", data=data,
                                     method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _columns(candidates):
    columns = {contract.QUERY: ["red running shoes"]}
    for field in contract.ITEM_TEXT_FIELDS:
        columns[field] = [contract.LIST_SEPARATOR.join(c[field]) if isinstance(c[field], list)
                          else c[field] for c in candidates]
    return columns


def test_rest_predict_columnar_and_rows_match_the_saved_model(server):
    columns = _columns(sample_candidates(5, seed=3))
    expected = server.local[contract.SIGNATURE_RAW](**{k: tf.constant(v) for k, v in columns.items()})

    status, answer = _call(server, f"/v1/models/{MODEL}:predict",
                           {"signature_name": contract.SIGNATURE_RAW, "inputs": columns})
    assert status == 200, answer
    np.testing.assert_allclose(answer["outputs"]["score"], expected["score"].numpy(), rtol=1e-6)

    rows = [{k: (v[i] if k != contract.QUERY else v[0]) for k, v in columns.items()} for i in range(5)]
    rows[0]["title"] = {"b64": base64.b64encode(rows[0]["title"].encode()).decode()}
    status, answer = _call(server, f"/v1/models/{MODEL}/versions/4:predict", {"instances": rows})
    assert status == 200, answer
    np.testing.assert_allclose([p["score"] for p in answer["predictions"]],
                               expected["score"].numpy(), rtol=1e-6)
    assert len(answer["predictions"][0]["probabilities"]) == 5


def test_rest_status_and_metadata(server):
    status, answer = _call(server, f"/v1/models/{MODEL}")
    assert status == 200
    assert answer["model_version_status"] == [
        {"version": "4", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]
    status, answer = _call(server, f"/v1/models/{MODEL}/metadata")
    assert status == 200
    assert contract.SIGNATURE_RAW in answer["metadata"]["signature_def"]["signatureDef"]


@pytest.mark.parametrize("path,body,code,fragment", [
    (f"/v1/models/{MODEL}:predict", {"inputs": {"title": ["a"]}}, 400, "missing input"),
    (f"/v1/models/{MODEL}:predict", {"inputs": {**_columns(sample_candidates(2)), "title": ["a"]}},
     400, "mismatched"),
    (f"/v1/models/{MODEL}:predict", {"inputs": {**_columns(sample_candidates(2)), "title": [1, 2]}},
     400, "strings"),
    (f"/v1/models/{MODEL}:predict", {"inputs": _columns(sample_candidates(21))}, 400, "--max-candidates"),
    (f"/v1/models/{MODEL}:predict", {"inputs": {}, "instances": []}, 400, "exactly one"),
    (f"/v1/models/{MODEL}:predict", {"inputs": {k: [] for k in contract.RAW_SIGNATURE_INPUTS}},
     400, "at least one candidate"),
    (f"/v1/models/{MODEL}:predict", {"signature_name": "nope", "inputs": {}}, 404, "nope"),
    ("/v1/models/other:predict", {"inputs": {}}, 404, "other"),
    (f"/v1/models/{MODEL}/versions/9:predict", {"inputs": _columns(sample_candidates(1))}, 404, "9"),
    ("/v2/unknown", None, 404, "unknown path"),
])
def test_rest_errors(server, path, body, code, fragment):
    status, answer = _call(server, path, body)
    assert status == code, answer
    assert fragment in answer["error"]


def test_rest_garbage_and_oversize_bodies(server):
    status, answer = _call(server, f"/v1/models/{MODEL}:predict", raw=b"\xff{not json")
    assert (status, "not valid JSON" in answer["error"]) == (400, True)
    status, answer = _call(server, f"/v1/models/{MODEL}:predict", raw=b"x" * (65 * 1024))
    assert (status, "--max-message-bytes" in answer["error"]) == (413, True)
    assert _call(server, f"/v1/models/{MODEL}")[0] == 200


def test_rest_undecodable_examples_are_400_without_a_traceback(server, caplog):
    """Issue 19, problem 7: bytes that are no tf.Example answer 400, never 500."""
    garbage = base64.b64encode(b"\xff\xfe\x00 not an Example \xc3\x28").decode()
    status, answer = _call(server, f"/v1/models/{MODEL}:predict",
                           {"signature_name": contract.SIGNATURE_EXAMPLES,
                            "instances": [{"b64": garbage}]})
    assert status == 400, answer
    assert "Traceback" not in caplog.text
    assert _call(server, f"/v1/models/{MODEL}")[0] == 200

