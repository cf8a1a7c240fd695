"""The student's feature table: one entry takes a feature to Transform and to the model."""

import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import schema_utils

from relevance import contract
from trainer.student import features
from trainer.student import model as student_model
from trainer.student.config import StudentConfig
from trainer.student.preprocessing import preprocessing_fn


# --- A new feature: its own module (these two functions) plus one table entry. ---
def title_words(batch):
    """Number of title tokens, per row."""
    return tf.cast(batch.field_tokens("title").row_lengths(), tf.float32)


def query_characters(batch):
    """Characters of each distinct query: a query-only feature, `[U]`."""
    return tf.cast(tf.strings.length(batch.queries, unit="UTF8_CHAR"), tf.float32)


TOY_FEATURES = (
    features.FeatureSpec("title_words", 1, "float32", title_words, mlp=features.log1p),
    features.FeatureSpec("query_characters", 1, "float32", query_characters,
                         query_only=True, mlp=features.log1p),
)

ROWS = [
    {"query": ["red shoes"], "title": ["Red running shoes"], "description": ["Great shoes"]},
    {"query": ["red shoes"], "title": ["Blue winter hat"], "description": ["A warm hat"]},
    {"query": ["東京"], "title": ["東京タワー"], "description": [""]},
]
RAW_FEATURE_SPEC = {name: tf.io.VarLenFeature(tf.string)
                    for name in (contract.QUERY,) + contract.ITEM_TEXT_FIELDS}


def _transform(rows):
    rows = [{name: row.get(name, []) for name in RAW_FEATURE_SPEC} for row in rows]
    metadata = tft.DatasetMetadata.from_feature_spec(RAW_FEATURE_SPEC)
    with tft_beam.Context(temp_dir=tempfile.mkdtemp()):
        (transformed, out_metadata), _ = (
            (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn))
    return transformed, schema_utils.schema_as_feature_spec(out_metadata.schema).feature_spec


@pytest.fixture
def with_toy_features(monkeypatch):
    monkeypatch.setattr(features, "FEATURES", features.FEATURES + TOY_FEATURES)


def _first_hidden_inputs(model):
    scorer = model.get_layer(student_model.CANDIDATE_SCORER)
    return scorer.get_layer("hidden_0").kernel.shape[0]


def test_a_new_feature_reaches_transform_and_the_model(with_toy_features):
    rows, feature_spec = _transform(ROWS)
    assert [row["title_words"].tolist() for row in rows] == [[3.0], [3.0], [5.0]]
    assert [row["query_characters"].tolist() for row in rows] == [[9.0], [9.0], [2.0]]
    assert feature_spec["title_words"] == tf.io.FixedLenFeature([1], tf.float32)

    config = StudentConfig(embedding_dim=8)
    model = student_model.build_student_model(config, 5)
    assert {"title_words", "query_characters"} <= set(model.input)
    # Per candidate, both: read by the scorer's MLP, one column each.
    scorer = model.get_layer(student_model.CANDIDATE_SCORER)
    assert {"title_words", "query_characters"} <= set(scorer.input)
    inputs = student_model.select_model_inputs(
        {name: tf.constant(np.stack([row[name] for row in rows])) for name in rows[0]}, model)
    assert model(inputs).shape == (3, 5)

    with pytest.MonkeyPatch.context() as without:
        without.setattr(features, "FEATURES", features.FEATURES[:-len(TOY_FEATURES)])
        plain = student_model.build_student_model(config, 5)
    assert _first_hidden_inputs(model) == _first_hidden_inputs(plain) + 2


def test_transform_outputs_are_the_table():
    rows, feature_spec = _transform(ROWS[:2])
    assert list(feature_spec) == sorted(spec.name for spec in features.FEATURES)
    for spec in features.FEATURES:
        assert feature_spec[spec.name] == tf.io.FixedLenFeature(
            [spec.width], tf.as_dtype(spec.dtype)), spec.name
        assert rows[0][spec.name].shape == (spec.width,), spec.name


def test_the_model_inputs_are_the_tables_widths_and_dtypes():
    assert student_model.MODEL_INPUT_WIDTHS == features.widths([features.LEXICAL])
    assert student_model.WORD_VECTOR_INPUT_WIDTHS == features.widths([features.WORD_VECTORS])
    vectors = np.eye(6, 4, dtype="float32")
    model = student_model.build_student_model(StudentConfig(embedding_dim=8), 5, vectors)
    specs = {spec.name: spec for spec in features.FEATURES}
    read = {name for name, spec in specs.items() if spec.group != features.TRANSFORM_ONLY}
    assert set(model.input) == read
    for name, tensor in model.input.items():
        assert (tensor.shape[1], tensor.dtype) == (specs[name].width, specs[name].dtype), name
    encoder = model.get_layer(student_model.QUERY_ENCODER)
    assert set(encoder.input) == set(student_model.QUERY_INPUTS) == {
        name for name, spec in specs.items() if spec.query_encoder}


def test_a_bad_spec_is_refused():
    with pytest.raises(ValueError, match="dtype"):
        features.FeatureSpec("x", 1, "string", title_words)
    with pytest.raises(ValueError, match="query encoder"):
        features.FeatureSpec("x", 1, "float32", title_words, query_encoder=True,
                             mlp=features.as_is)


def test_a_switchable_feature_is_turned_on_by_the_config_and_the_flag(monkeypatch):
    import argparse

    from cli.main import _student_feature_switches
    from cli.run_flags import add_model_flags
    from relevance.errors import InputError

    off_by_default = features.FeatureSpec("title_words", 1, "float32", title_words,
                                          mlp=features.log1p, switch=False)
    monkeypatch.setattr(features, "FEATURES", features.FEATURES + (off_by_default,))
    parser = argparse.ArgumentParser()
    add_model_flags(parser)
    args = parser.parse_args(["--student-feature", "title_words=on"])
    switches = _student_feature_switches(args)
    assert switches == {"title_words": True}
    config = StudentConfig.from_dict({"embedding_dim": 8, "features": switches})
    assert StudentConfig.from_dict(config.to_dict()) == config
    assert "title_words" not in student_model.build_student_model(
        StudentConfig(embedding_dim=8), 5).input
    assert "title_words" in student_model.build_student_model(config, 5).input

    with pytest.raises(InputError, match="bm25"):
        _student_feature_switches(parser.parse_args(["--student-feature", "bm25=off"]))
    with pytest.raises(SystemExit):
        parser.parse_args(["--student-feature", "title_words"])
