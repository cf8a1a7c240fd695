"""New versions dropped into the base path are served without failing a single request."""

import os
import shutil
import threading
import time

import grpc
from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

from serving.client import RelevanceClient
from support.serving_models import copy_lexical_model, sample_candidates
from serving.server import RelevanceServer

MODEL = "relevance_student"


def _wait_for(condition, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_new_versions_are_swapped_in_under_load_with_zero_failures(tmp_path):
    base = str(tmp_path / MODEL)
    # The versions hold the same weights: responses tell them apart by model_spec.version.
    copy_lexical_model(os.path.join(base, "1"))
    staged_v2 = copy_lexical_model(str(tmp_path / "staging" / "2"))
    staged_v3 = copy_lexical_model(str(tmp_path / "staging" / "3"))
    stop = threading.Event()
    seen_versions, errors, calls = set(), [], []

    with RelevanceServer(base, MODEL, port=0, poll_seconds=0.1) as server:

        def worker(seed):
            candidates = sample_candidates(30, seed=seed)
            with RelevanceClient(server.target, MODEL, max_retries=0) as client:
                while not stop.is_set():
                    try:
                        outputs = client._stub.Predict(
                            _predict_request(client, candidates), timeout=10)
                        seen_versions.add(outputs.model_spec.version.value)
                        calls.append(1)
                        time.sleep(0.01)  # continuous, yet leaves the loader some GIL time
                    except Exception as error:
                        errors.append(repr(error))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        try:
            # Each version is dropped in only once the one before it has been served.
            assert _wait_for(lambda: 1 in seen_versions), "version 1 was never served"
            # Version 2 arrives the careless way: copied file by file into the watched path.
            shutil.copytree(staged_v2, os.path.join(base, "2"))
            assert _wait_for(lambda: 2 in seen_versions), "version 2 was never served"
            # Version 3 arrives the recommended way: written aside, then renamed in at once.
            os.rename(staged_v3, os.path.join(base, "3"))
            assert _wait_for(lambda: 3 in seen_versions), "version 3 was never served"
            assert _wait_for(lambda: len(calls) > 20)
        finally:
            stop.set()
            for thread in threads:
                thread.join()

        assert errors == []
        assert seen_versions == {1, 2, 3}
        assert len(calls) > 20
        # Retired versions are dropped once their last request finished.
        assert _wait_for(lambda: server.registry.draining_versions() == [])
        states = {s.version: s.state for s in server.registry.version_states()}
        assert states[3] == "AVAILABLE" and states[1] == "END"

        with grpc.insecure_channel(server.target) as channel:
            request = get_model_status_pb2.GetModelStatusRequest()
            request.model_spec.name = MODEL
            statuses = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request)
            available = [s.version for s in statuses.model_version_status
                         if s.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE]
            assert available == [3]


def test_a_broken_version_is_skipped_and_the_current_one_keeps_serving(tmp_path):
    base = str(tmp_path / MODEL)
    copy_lexical_model(os.path.join(base, "1"))
    with RelevanceServer(base, MODEL, port=0, poll_seconds=0.1) as server:
        broken = os.path.join(base, "2")
        os.makedirs(broken)
        with open(os.path.join(broken, "saved_model.pb"), "wb") as f:
            f.write(b"not a saved model")
        assert _wait_for(lambda: any(s.version == 2 and s.error
                                     for s in server.registry.version_states()))
        with RelevanceClient(server.target, MODEL) as client:
            assert len(client.score("tea", [{"title": "tea"}])) == 1
        assert server.registry.current_version == 1
        # Replacing the broken directory with a good model is picked up.
        shutil.rmtree(broken)
        copy_lexical_model(os.path.join(tmp_path, "good"))
        os.rename(os.path.join(tmp_path, "good"), broken)
        assert _wait_for(lambda: server.registry.current_version == 2)


def test_requests_wait_out_an_empty_base_path_with_unavailable(tmp_path):
    base = str(tmp_path / MODEL)
    with RelevanceServer(base, MODEL, port=0, poll_seconds=0.1) as server:
        with RelevanceClient(server.target, MODEL, max_retries=0) as client:
            try:
                client.score("tea", [{"title": "tea"}])
                raise AssertionError("expected UNAVAILABLE")
            except Exception as error:
                assert error.code == grpc.StatusCode.UNAVAILABLE
                assert "no loaded version" in error.details
        copy_lexical_model(os.path.join(base, "1"))
        # The client's retries on UNAVAILABLE ride out the load.
        with RelevanceClient(server.target, MODEL, max_retries=8, backoff_s=0.2) as client:
            assert len(client.score("tea", [{"title": "tea"}])) == 1


def _predict_request(client, candidates):
    from tensorflow_serving.apis import model_pb2, predict_pb2

    from models.tensor_codec import string_vector_proto

    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name=MODEL))
    for name, values in client._inputs("red shoes", candidates).items():
        request.inputs[name].CopyFrom(string_vector_proto(values))
    return request
