"""Cross-request batching: the batcher's merging rules, its parameters file, and a real
server with batching on answering concurrent clients exactly as the SavedModel does."""

import argparse
import os
import threading

import grpc
import numpy as np
import pytest
import tensorflow as tf

from relevance import contract
from relevance.errors import InputError
from serving.batching_parameters import BatchingParameters
from serving.client import RelevanceClient
from support.serving_models import copy_lexical_model, sample_candidates
from cli.serve_flags import add_serve_parser
from serving.errors import RequestRejected
from serving.server_config import write_batching_parameters
from serving.request_batcher import RequestBatcher
from serving.server import RelevanceServer
from cli.serve import batching_from_args, configure_tf_threads

MODEL = "relevance_student"


class GatedModel:
    """Doubles `x`; the first call blocks until released, so later requests queue up."""

    def __init__(self):
        self.release = threading.Event()
        self.entered = threading.Event()
        self.batch_sizes = []

    def __call__(self, arrays):
        self.batch_sizes.append(len(arrays["x"]))
        self.entered.set()
        self.release.wait(10)
        if np.any(arrays["x"] < 0):
            raise RequestRejected(grpc.StatusCode.INVALID_ARGUMENT, "negative input")
        return {"y": arrays["x"] * 2}


def _submit(batcher, model, values, results, key="k"):
    def run():
        array = np.asarray(values)
        try:
            results[tuple(values)] = batcher.run(key, {"x": array}, len(array), model)["y"].tolist()
        except RequestRejected as rejected:
            results[tuple(values)] = rejected.code

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _queue_behind_a_busy_call(batcher, model, requests, key_of=lambda i: "k"):
    """Occupies the only batch thread, queues `requests`, then lets everything run."""
    results = {}
    first = _submit(batcher, model, [100], results)
    assert model.entered.wait(10)
    threads = [_submit(batcher, model, values, results, key_of(i))
               for i, values in enumerate(requests)]
    while batcher.queued_rows < sum(len(v) for v in requests):
        threading.Event().wait(0.01)
    model.release.set()
    for thread in [first, *threads]:
        thread.join(10)
    return results


def test_requests_queued_while_the_model_is_busy_run_as_one_call():
    model = GatedModel()
    batcher = RequestBatcher(BatchingParameters(batch_timeout_micros=0, num_batch_threads=1))
    results = _queue_behind_a_busy_call(batcher, model, [[1, 2], [3], [4, 5, 6]])
    batcher.stop()
    assert model.batch_sizes == [1, 6]  # the busy call, then the three queued requests at once
    assert results == {(100,): [200], (1, 2): [2, 4], (3,): [6], (4, 5, 6): [8, 10, 12]}
    assert (batcher.calls, batcher.merged_requests) == (2, 3)


def test_batches_respect_max_batch_size_and_never_mix_keys():
    model = GatedModel()
    batcher = RequestBatcher(BatchingParameters(max_batch_size=4, batch_timeout_micros=0,
                                                num_batch_threads=1))
    requests = [[1, 2], [3, 4], [5], [6, 7], [8, 9, 10, 11, 12]]  # the last is larger than 4
    keys = ["a", "a", "b", "a", "a"]
    results = _queue_behind_a_busy_call(batcher, model, requests[:4], key_of=keys.__getitem__)
    alone = batcher.run("a", {"x": np.asarray(requests[4])}, 5, model)["y"].tolist()
    batcher.stop()
    # [1,2]+[3,4] fill a batch of 4; [5] (key b) and [6,7] run separately.
    assert sorted(model.batch_sizes[1:4]) == [1, 2, 4]
    assert results[(6, 7)] == [12, 14] and results[(5,)] == [10]
    assert alone == [16, 18, 20, 22, 24] and model.batch_sizes[-1] == 5


def test_a_bad_request_fails_alone_and_its_batch_neighbours_succeed():
    model = GatedModel()
    batcher = RequestBatcher(BatchingParameters(batch_timeout_micros=0, num_batch_threads=1))
    results = _queue_behind_a_busy_call(batcher, model, [[1], [-1], [2]])
    batcher.stop()
    assert results[(-1,)] == grpc.StatusCode.INVALID_ARGUMENT
    assert results[(1,)] == [2] and results[(2,)] == [4]


def test_a_full_queue_is_resource_exhausted():
    model = GatedModel()
    batcher = RequestBatcher(BatchingParameters(max_batch_size=2, batch_timeout_micros=0,
                                                num_batch_threads=1, max_enqueued_batches=1))
    results = {}
    first = _submit(batcher, model, [1], results)
    assert model.entered.wait(10)
    queued = _submit(batcher, model, [2, 3], results)
    while batcher.queued_rows < 2:
        threading.Event().wait(0.01)
    with pytest.raises(RequestRejected) as caught:
        batcher.run("k", {"x": np.asarray([4])}, 1, model)
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_enqueued_batches" in caught.value.message
    model.release.set()
    for thread in (first, queued):
        thread.join(10)
    batcher.stop()
    assert results == {(1,): [2], (2, 3): [4, 6]}


def test_parameters_file_round_trip_and_errors(tmp_path, caplog):
    path = write_batching_parameters(str(tmp_path / "batching.txt"), max_batch_size=512,
                                     batch_timeout_micros=500, allowed_batch_sizes=(128, 512))
    parsed = BatchingParameters.from_file(path)
    assert (parsed.max_batch_size, parsed.batch_timeout_micros) == (512, 500)
    assert parsed.allowed_batch_sizes == (128, 512)
    text = "max_batch_size { value: 8 }\npad_variable_length_inputs { value: true }\n"
    assert BatchingParameters.from_text(text).max_batch_size == 8
    assert "pad_variable_length_inputs" in caplog.text  # unknown: named, then ignored
    with pytest.raises(ValueError, match="cannot parse"):
        BatchingParameters.from_text("max_batch_size = 8")
    with pytest.raises(ValueError, match="num_batch_threads must be >= 1"):
        BatchingParameters.from_text("num_batch_threads { value: 0 }")
    with pytest.raises(ValueError, match="allowed_batch_sizes"):
        BatchingParameters(max_batch_size=64, allowed_batch_sizes=(32,))


def test_serve_flags_select_batching(tmp_path):
    parser = add_serve_parser(argparse.ArgumentParser().add_subparsers())
    path = write_batching_parameters(str(tmp_path / "b.txt"), max_batch_size=300)
    base = ["--model-base-path", "m"]
    assert batching_from_args(parser.parse_args(base)) is None
    assert batching_from_args(parser.parse_args([*base, "--enable-batching"])).batch_timeout_micros == 0
    chosen = batching_from_args(parser.parse_args(
        [*base, "--enable-batching", "--batching-parameters-file", path]))
    assert chosen.max_batch_size == 300
    with pytest.raises(InputError, match="needs --enable-batching"):
        batching_from_args(parser.parse_args([*base, "--batching-parameters-file", path]))
    (tmp_path / "bad.txt").write_text("max_batch_size: many\n")
    with pytest.raises(InputError, match="max_batch_size must be an integer"):
        batching_from_args(parser.parse_args(
            [*base, "--enable-batching", "--batching-parameters-file", str(tmp_path / "bad.txt")]))


def test_thread_flags_must_not_be_negative():
    with pytest.raises(InputError, match="must be >= 0"):
        configure_tf_threads(-1, 0)


def test_batching_server_answers_concurrent_clients_like_the_saved_model(tmp_path):
    base = str(tmp_path / MODEL)
    version_dir = copy_lexical_model(os.path.join(base, "1"))
    signature = tf.saved_model.load(version_dir).signatures[contract.SIGNATURE_RAW]
    # A 20 ms window makes concurrent requests meet in one batch even on a busy machine.
    batching = BatchingParameters(batch_timeout_micros=20_000, num_batch_threads=1)
    jobs = [(f"query {i} red shoes", sample_candidates(5 + i, seed=i)) for i in range(8)]
    scored, errors = {}, []
    with RelevanceServer(base, MODEL, port=0, poll_seconds=0, batching=batching) as server:
        start = threading.Barrier(len(jobs))

        def worker(index):
            query, candidates = jobs[index]
            with RelevanceClient(server.target, MODEL, timeout_s=30) as client:
                client.score("connect", candidates[:1])
                start.wait()
                try:
                    scored[index] = client.score(query, candidates)
                except Exception as error:  # collected, so the assertion names it
                    errors.append(repr(error))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        merged = server.batcher.merged_requests
    assert errors == []
    assert merged > 1  # some requests really were answered by a shared model call
    for index, (query, candidates) in enumerate(jobs):
        inputs = {contract.QUERY: [query] * len(candidates)}
        for field in contract.ITEM_TEXT_FIELDS:
            inputs[field] = [contract.LIST_SEPARATOR.join(c[field]) if isinstance(c[field], list)
                             else c[field] for c in candidates]
        expected = signature(**{k: tf.constant(v) for k, v in inputs.items()})
        np.testing.assert_allclose([s["score"] for s in scored[index]],
                                   expected[contract.OUTPUT_SCORE].numpy(), rtol=1e-6)
