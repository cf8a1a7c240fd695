"""PositionalSignature: the server's way of calling a signature gives the keyword call's
outputs, for every signature of a real SavedModel."""

import grpc
import numpy as np
import pytest
import tensorflow as tf

from relevance import contract
from serving.client import example_bytes, raw_inputs
from support.serving_models import sample_candidates, write_lexical_model
from serving.errors import RequestRejected
from serving.loaded_version import LoadedVersion
from serving.positional_signature import PositionalSignature


@pytest.fixture(scope="module")
def version(tmp_path_factory):
    path = write_lexical_model(str(tmp_path_factory.mktemp("model") / "1"), weight=0.7)
    return LoadedVersion.load(1, path)


def _inputs_for(signature_name, candidates):
    if signature_name == contract.SIGNATURE_RAW:
        return {name: tf.constant(values)
                for name, values in raw_inputs("red running shoes", candidates).items()}
    return {"examples": tf.constant([example_bytes("wool hat", c) for c in candidates])}


def test_every_signature_gives_the_keyword_calls_outputs(version):
    candidates = sample_candidates(7, seed=3)
    assert set(version.signature_names()) >= {contract.SIGNATURE_RAW, contract.SIGNATURE_EXAMPLES}
    for name in version.signature_names():
        inputs = _inputs_for(name, candidates)
        expected = version.signature(name)(**inputs)
        got = version.positional(name)(inputs)
        assert sorted(got) == sorted(expected), name
        for key in expected:
            np.testing.assert_array_equal(got[key].numpy(), expected[key].numpy(), err_msg=name)


def test_inputs_are_in_sorted_name_order_and_batch_size_is_free(version):
    signature = PositionalSignature(version.signature(contract.SIGNATURE_RAW))
    assert signature.input_names == tuple(sorted(contract.RAW_SIGNATURE_INPUTS))
    for rows in (1, 5):
        inputs = {name: tf.constant(["wool"] * rows) for name in signature.input_names}
        assert signature(inputs)[contract.OUTPUT_PROBABILITIES].shape == (rows, 5)


def test_the_graph_still_rejects_bad_values(version):
    inputs = {name: tf.constant(["wool"] * 3) for name in version.positional(
        contract.SIGNATURE_RAW).input_names}
    inputs["title"] = tf.constant(["wool"] * 2)  # mismatched lengths reach the graph's checks
    with pytest.raises(tf.errors.InvalidArgumentError):
        version.positional(contract.SIGNATURE_RAW)(inputs)


def test_an_unknown_signature_is_not_found(version):
    with pytest.raises(RequestRejected) as caught:
        version.positional("nope")
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    assert contract.SIGNATURE_RAW in caught.value.message
