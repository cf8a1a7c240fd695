"""Word vectors distilled for the student: PCA, the table, the interaction features."""

import numpy as np
import pytest
import tensorflow as tf

from trainer.student import text_features as tx
from trainer.student.config import StudentConfig
from trainer.student.model import (
    MODEL_INPUT_WIDTHS, QUERY_INPUTS, WORD_VECTOR_INPUT_WIDTHS, build_student_model,
    encode_queries_once)
from trainer.student.word_vector_interactions import WordVectorInteractions
from trainer.student.word_vector_table import WordVectorTable
from trainer.student.word_vectors import principal_axes, table_megabytes


def test_principal_axes_keep_the_directions_of_largest_variance():
    rng = np.random.default_rng(0)
    # Variance 100 along axis 0, 1 elsewhere: the first component is axis 0.
    data = rng.normal(size=(500, 6)) * np.array([10.0, 1, 1, 1, 1, 1])
    reduced = principal_axes(data, 1)
    assert reduced.shape == (500, 1)
    # One unit dimension: each row's side of the axis, which is axis 0 (up to sign).
    agreement = np.mean(reduced[:, 0] == np.sign(data[:, 0] - data[:, 0].mean()))
    assert max(agreement, 1 - agreement) > 0.95
    with pytest.raises(ValueError, match="dimensions need at least"):
        principal_axes(data[:3], 4)


def test_table_size_at_the_vocabulary_cap_fits_the_budget():
    # Frozen (the default) at the cap: far under the 100 MB SavedModel budget, with the
    # hashed n-gram tables (25 MB) beside it.
    assert table_megabytes(tx.CORPUS_WORD_COUNTS_TOP_K, StudentConfig().word_vector_dims) < 30


def test_soft_match_finds_a_translation_that_shares_no_token():
    # Word 1 ("dog") and a translation share a vector; word 2 ("cat") is unrelated.
    dog, cat = [1.0, 0.0], [0.0, 1.0]
    layer = WordVectorInteractions(WordVectorTable(np.array([dog, cat], "float32"),
                                                   trainable=True))
    query, query_known = tf.constant([[dog, [0, 0]]]), tf.constant([[1.0, 0.0]])
    length = tf.constant([[1.0]])

    def features(item_ids):
        return layer(query, query_known, tf.constant([[2.0, 0.0]]), tf.constant([item_ids]),
                     length).numpy()[0]

    match, no_match = features([1, 2, 0]), features([2, 2, 0])
    # [query * item (2), pooled cosine, mean best, top best, idf mean best, idf cosine,
    #  known share]
    assert match[3] == pytest.approx(1.0) and no_match[3] == pytest.approx(0.0)
    assert match[4] == pytest.approx(1.0) and match[7] == pytest.approx(1.0)
    assert match[5] == pytest.approx(1.0) and no_match[5] == pytest.approx(0.0)
    assert match[2] > no_match[2] and match[6] > no_match[6]


def test_without_products_only_the_six_similarities_remain():
    dog, cat = [1.0, 0.0], [0.0, 1.0]
    table = WordVectorTable(np.array([dog, cat], "float32"))
    inputs = (tf.constant([[dog, [0, 0]]]), tf.constant([[1.0, 0.0]]),
              tf.constant([[2.0, 0.0]]), tf.constant([[1, 2, 0]]), tf.constant([[1.0]]))
    with_products = WordVectorInteractions(table)(*inputs).numpy()[0]
    similarities = WordVectorInteractions(table, products=False)
    assert similarities.compute_output_shape((1, 2, 2)) == (1, 6)
    np.testing.assert_allclose(similarities(*inputs).numpy()[0], with_products[2:], atol=1e-6)


def test_idf_weighted_soft_match_counts_the_rare_word_more():
    # Query "what" (common, idf 0.1) + "dog" (rare, idf 3.0); one item matches "what"
    # only, the other "dog" only: unweighted they tie, weighted the "dog" item wins.
    what, dog, other = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]
    layer = WordVectorInteractions(WordVectorTable(np.array([what, dog, other], "float32"),
                                                   trainable=True))
    query = tf.constant([[what, dog]] * 2)
    known, idf = tf.constant([[1.0, 1.0]] * 2), tf.constant([[0.1, 3.0]] * 2)
    items = tf.constant([[1, 3], [2, 3]])  # "what other", "dog other"
    features = layer(query, known, idf, items, tf.constant([[2.0]] * 2)).numpy()
    mean_best, idf_mean_best, idf_cosine = features[:, 4], features[:, 6], features[:, 7]
    assert mean_best[0] == pytest.approx(mean_best[1])
    assert idf_mean_best[1] == pytest.approx(3.0 / 3.1) and idf_mean_best[0] == pytest.approx(0.1 / 3.1)
    assert idf_cosine[1] > idf_cosine[0]


def test_one_query_shortcut_gives_the_per_row_features():
    vectors = principal_axes(np.random.default_rng(4).normal(size=(30, 5)), 5)
    layer = WordVectorInteractions(WordVectorTable(vectors))
    rng = np.random.default_rng(5)
    query = tf.constant(np.repeat(vectors[None, [3, 7, 0, 0]], 3, axis=0))
    known = tf.constant([[1.0, 1.0, 0.0, 0.0]] * 3)
    idf = known * tf.constant([[1.5, 0.5, 0.0, 0.0]])
    item_ids = tf.constant(rng.integers(0, 31, size=(3, 6)))
    length = tf.constant([[2.0]] * 3)
    one_query = layer(query, known, idf, item_ids, length).numpy()  # the shortcut
    other = tf.constant(vectors[None, [5, 0, 0, 0]])
    mixed = layer(tf.concat([query, other], 0), tf.concat([known, [[1.0, 0, 0, 0]]], 0),
                  tf.concat([idf, [[2.0, 0, 0, 0]]], 0),
                  tf.concat([item_ids, item_ids[:1]], 0), tf.concat([length, [[1.0]]], 0))
    np.testing.assert_allclose(one_query, mixed.numpy()[:3], atol=1e-5)


def test_model_with_word_vectors_encodes_each_query_once_with_the_same_result():
    vectors = np.random.default_rng(1).normal(size=(20, 4)).astype("float32")
    model = build_student_model(StudentConfig(embedding_dim=8, dropout=0.0), 5, vectors)
    rng = np.random.default_rng(2)
    rows = 6
    features = {
        name: rng.integers(0, 20, size=(rows, width)).astype("int64")
        if name in model.input and "ids" in name else rng.random((rows, width)).astype("float32")
        for name, width in {**MODEL_INPUT_WIDTHS, **WORD_VECTOR_INPUT_WIDTHS}.items()
    }
    query_of_row = np.array([0, 0, 0, 1, 1, 1])
    for name in QUERY_INPUTS:
        features[name] = features[name][query_of_row * 3]  # same query within a group
    features[tx.QUERY_LENGTH] = np.full((rows, 1), 3.0, "float32")
    features = {name: tf.constant(value) for name, value in features.items()}
    direct = model(features, training=False).numpy()
    once = encode_queries_once(model, features, query_of_row).numpy()
    np.testing.assert_allclose(once, direct, rtol=1e-5, atol=1e-5)
    assert not model.get_layer("query_encoder").get_layer("word_vectors").trainable


def test_frozen_table_dequantises_to_the_vectors():
    vectors = principal_axes(np.random.default_rng(3).normal(size=(40, 6)), 6)
    table = WordVectorTable(vectors)
    out = table(tf.constant([[0, 1, 40]])).numpy()[0]
    assert table.vectors.dtype == "int8"
    np.testing.assert_allclose(out[1:], vectors[[0, 39]], atol=float(table.scale.numpy()))
    assert not out[0].any()


def test_trainable_word_vectors_are_float32():
    vectors = np.eye(5, 3, dtype="float32")
    config = StudentConfig(embedding_dim=4, word_vectors_trainable=True)
    model = build_student_model(config, 5, vectors)
    table = model.get_layer("query_encoder").get_layer("word_vectors")
    assert table.trainable and table.vectors.dtype == "float32"
    assert len(model.trainable_weights) > len(
        build_student_model(StudentConfig(embedding_dim=4), 5, vectors).trainable_weights)


def test_a_vocabulary_smaller_than_the_dimensions_gets_fewer_dimensions(tmp_path):
    from trainer.student.word_vectors import distill_word_vectors
    from trainer.teacher.config import TeacherConfig
    from trainer.teacher.default_preset import write_default_preset
    from trainer.teacher.vocabulary import train_sentencepiece

    config = TeacherConfig(preset="from-scratch", hidden_dim=8, num_layers=1, num_heads=2,
                           intermediate_dim=16, sequence_length=16)
    proto = train_sentencepiece([("red", 3), ("shoes", 2)], vocabulary_size=300)
    preset = write_default_preset(str(tmp_path), proto, config, num_grades=5)
    messages = []
    vectors = distill_word_vectors(["red", "shoes", "rojo"], preset, dims=128,
                                   progress=messages.append)
    assert vectors.shape == (3, 3)
    assert any("3 dimensions instead of 128" in message for message in messages)
    with pytest.raises(ValueError, match="vocabulary is empty"):
        distill_word_vectors([], preset, dims=4)


def test_the_pipeline_gives_the_student_the_teachers_pretrained_encoder(tmp_path):
    from pipeline.config import PipelineConfig
    from pipeline.pipeline import student_hyperparameters

    def student(teacher, student=None):
        config = PipelineConfig.for_workdir(str(tmp_path), teacher=teacher,
                                            student=student or {})
        return student_hyperparameters(config)

    assert student({})["word_vectors_preset"] == "multilingual-e5-small"
    assert student({"preset": "from-scratch"})["word_vectors_preset"] == ""
    # A decoder teacher has no bi-encoder words: the default multilingual encoder's.
    assert student({"preset": "smollm2-135m"})["word_vectors_preset"] == "multilingual-e5-small"
    assert student({}, {"word_vectors_preset": ""})["word_vectors_preset"] == ""  # off
    cached = student({"preset_cache_dir": "/cache"})
    assert cached["preset_cache_dir"] == "/cache"
