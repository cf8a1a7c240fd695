"""Every custom Keras layer of the teacher and the student through one harness
(`support.layer_test_case.run_layer_test`): output shape and dtype, config round trip,
and a `.keras` save / load of a model holding it. Tiny inputs: the whole file takes
seconds. What each layer computes is tested beside its model (test_teacher_backbones.py,
test_word_vectors.py, test_student.py)."""

import numpy as np
import pytest

from support.layer_test_case import run_layer_test
from trainer.student.ngram_overlap import NgramOverlap
from trainer.student.pooled_embedding import MeanPooledEmbedding
from trainer.student.word_vector_interactions import WordVectorInteractions
from trainer.student.word_vector_table import WordVectorTable
from trainer.teacher.heads import TokenPooling
from trainer.teacher.scaled_dense import ScaledDense
from trainer.teacher.similarity_prior import MaskedMeanCosine, NormalizedMean

RNG = np.random.default_rng(0)
SEQUENCE = RNG.normal(size=(2, 3, 4)).astype("float32")
MASK = np.array([[1, 1, 0], [1, 0, 0]], "int32")
IDS = np.array([[1, 3, 0], [0, 0, 0]], "int32")
VECTORS = RNG.normal(size=(4, 2)).astype("float32")


def test_scaled_dense():
    run_layer_test(ScaledDense, {"units": 3, "scale": 10.0, "activation": "tanh"},
                   SEQUENCE[:, 0], expected_output_shape=(2, 3))


@pytest.mark.parametrize("mode", ["first", "last"])
def test_token_pooling(mode):
    run_layer_test(TokenPooling, {"mode": mode}, (SEQUENCE, MASK), expected_output_shape=(2, 4))


def test_masked_mean_cosine():
    run_layer_test(MaskedMeanCosine, {}, (SEQUENCE, MASK, SEQUENCE[:, :2], MASK[:, :2]),
                   expected_output_shape=(2, 1))


def test_normalized_mean():
    run_layer_test(NormalizedMean, {}, (SEQUENCE, MASK), expected_output_shape=(2, 4))


def test_mean_pooled_embedding():
    run_layer_test(MeanPooledEmbedding, {"input_dim": 5, "output_dim": 2}, IDS,
                   expected_output_shape=(2, 2))


def test_ngram_overlap():
    run_layer_test(NgramOverlap, {}, (IDS, np.array([[3, 4], [0, 1]], "int32")),
                   expected_output_shape=(2, 1))


@pytest.mark.parametrize("trainable", [False, True])
def test_word_vector_table(trainable):
    run_layer_test(WordVectorTable, {"vectors": VECTORS, "trainable": trainable}, IDS,
                   expected_output_shape=(2, 3, 2))


@pytest.mark.parametrize("products", [True, False])
def test_word_vector_interactions(products):
    query_vectors = VECTORS[None, :2].repeat(2, axis=0)
    run_layer_test(
        WordVectorInteractions,
        {"table": WordVectorTable(VECTORS, trainable=True), "products": products},
        (query_vectors, np.ones((2, 2), "float32"), np.full((2, 2), 1.5, "float32"),
         np.array([[1, 2, 0], [4, 0, 0]], "int32"), np.full((2, 1), 2.0, "float32")),
        expected_output_shape=(2, (2 if products else 0) + 6))
