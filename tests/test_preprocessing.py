"""preprocessing_fn through real tf.Transform Beam analysis on a tiny in-memory corpus."""

import os
import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import schema_utils

from relevance import contract
from models.export import raw_features_from_examples
from trainer.student.preprocessing import preprocessing_fn
from trainer.student import text_features as tx
from models.transform_inputs import TransformInputAdapter


def _row(query, title, description="", engaged_queries=(), board_titles=(), **extra):
    row = {name: [""] for name in contract.SCALAR_STRING_FEATURES}
    row.update(query=[query], title=[title], description=[description])
    row.update(engaged_queries=list(engaged_queries), board_titles=list(board_titles))
    row.update({name: [value] for name, value in extra.items()})
    return row


ROWS = [
    _row("red shoes", "Red running shoes", "Great shoes, in red!", ["red shoes"]),
    _row("red shoes", "Blue winter hat", "A warm hat for cold days", board_titles=["hats"]),
    _row("garden chair", "Wooden garden chair", "Teak chair for the garden"),
    _row("garden chair", "Kitchen table", "Oak table"),
    _row("東京タワー", "東京タワーの夜景", "夜の東京"),
    _row("東京タワー", "大阪城", "城の写真"),
]
# No `grade`: unlabeled rows lack it, and the preprocessing_fn must not need it.
RAW_FEATURE_SPEC = {
    name: tf.io.VarLenFeature(tf.string)
    for name in contract.SCALAR_STRING_FEATURES + contract.LIST_STRING_FEATURES
}


@pytest.fixture(scope="module")
def transformed():
    temp_dir = tempfile.mkdtemp()
    metadata = tft.DatasetMetadata.from_feature_spec(RAW_FEATURE_SPEC)
    with tft_beam.Context(temp_dir=temp_dir):
        (rows, out_metadata), transform_fn = (
            ROWS,
            metadata,
        ) | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn)
        transform_dir = os.path.join(temp_dir, "transform")
        _ = transform_fn | tft_beam.WriteTransformFn(transform_dir)
    return rows, out_metadata, tft.TFTransformOutput(transform_dir)


def test_bm25_prefers_items_containing_the_query_terms(transformed):
    rows, _, _ = transformed
    title_column = tx.LEXICAL_FIELDS.index("title")
    all_column = tx.LEXICAL_FIELDS.index(tx.ALL_ITEM_TEXT)
    for relevant, irrelevant in [(0, 1), (2, 3), (4, 5)]:
        for column in (title_column, all_column):
            assert rows[relevant]["bm25"][column] > rows[irrelevant]["bm25"][column] >= 0
        assert rows[relevant]["query_term_coverage"][title_column] == pytest.approx(1.0)
        assert rows[irrelevant]["query_term_coverage"][all_column] == pytest.approx(0.0)


def test_engaged_queries_list_field_is_matched(transformed):
    rows, _, _ = transformed
    column = tx.LEXICAL_FIELDS.index("engaged_queries")
    assert rows[0]["bm25"][column] > 0
    assert rows[1]["bm25"][column] == 0


def test_outputs_are_dense_int64_or_float32(transformed):
    rows, metadata, _ = transformed
    feature_spec = schema_utils.schema_as_feature_spec(metadata.schema).feature_spec
    assert set(feature_spec) == set(rows[0])
    for name, feature in feature_spec.items():
        assert isinstance(feature, tf.io.FixedLenFeature), name
        assert feature.dtype in (tf.int64, tf.float32), name
    assert feature_spec[tx.BM25].shape == [tx.NUM_LEXICAL_FIELDS]
    assert feature_spec[tx.QUERY_WORD_IDS].shape == [tx.MAX_QUERY_WORD_NGRAMS]
    ids = rows[0][tx.ITEM_WORD_IDS]
    assert ids.min() >= 0 and ids.max() <= tx.WORD_HASH_BUCKETS and (ids > 0).any()


def test_corpus_word_counts_vocabulary_has_counts(transformed):
    rows, _, tft_output = transformed
    path = tft_output.vocabulary_file_by_name(tx.CORPUS_WORD_COUNTS_VOCABULARY)
    with tf.io.gfile.GFile(path) as f:
        lines = [line.rstrip("\n").split(" ", 1) for line in f if line.strip()]
    counts = {word: int(count) for count, word in lines}
    # "shoes": query x2, title, description, engaged query.
    assert counts["shoes"] == 5
    assert counts["東"] >= 3 and "tower" not in counts
    query_ids = rows[0][tx.QUERY_CORPUS_WORD_IDS]
    assert (query_ids[:2] >= 0).all() and (query_ids[2:] == -1).all()


def test_cjk_is_tokenised_per_character_and_punctuation_dropped():
    tokens = tx.tokenize(
        tf.constant(["東京タワーの夜景", "Red SHOES, size 42!", "서울 여행 guide", "Ünïcode Straße"])
    ).to_list()
    assert tokens[0] == [t.encode() for t in "東京タワーの夜景"]
    assert tokens[1] == [b"red", b"shoes", b"size", b"42"]
    assert tokens[2] == [t.encode() for t in "서울여행"] + [b"guide"]
    assert tokens[3] == ["ünïcode".encode(), "straße".encode()]


@pytest.mark.parametrize(
    "feature",
    [
        tf.constant(["a b", "c"]),
        tf.constant([["a b"], ["c"]]),
        tf.ragged.constant([["a", "b"], ["c"]]),
        tf.ragged.constant([["a", "b"], ["c"]]).to_sparse(),
    ],
    ids=["dense", "dense_b1", "ragged", "sparse"],
)
def test_any_input_form_gives_the_same_tokens(feature):
    assert tx.tokenize(tx.to_string_vector(feature)).to_list() == [[b"a", b"b"], [b"c"]]


def test_transform_layer_accepts_the_serving_adapter_output(transformed):
    rows, _, tft_output = transformed

    def to_example(row):
        feature = {
            name: tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode() for v in values]))
            for name, values in row.items()
        }
        return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()

    raw = raw_features_from_examples(tf.constant([to_example(row) for row in ROWS]))
    adapter = TransformInputAdapter(RAW_FEATURE_SPEC)
    online = tft_output.transform_features_layer()(adapter(raw))
    # The serving path must reproduce the Beam-side features exactly.
    for name in (tx.BM25, tx.QUERY_TERM_COVERAGE, tx.ITEM_CHAR_IDS, tx.QUERY_CORPUS_WORD_IDS):
        np.testing.assert_allclose(
            online[name].numpy(), np.stack([row[name] for row in rows]), rtol=1e-5
        )


def test_char_ngrams_are_the_trigrams_of_each_bounded_word():
    normalized = tx.normalize_text(tf.constant(["Red  shoes!", "東京", ""]))
    ids = tx.char_ngram_ids(normalized, 12).numpy()
    # "#red#" -> 3 trigrams, "#shoes#" -> 5, none across words; CJK: one per character.
    assert (ids[0] > 0).sum() == 8 and (ids[1] > 0).sum() == 2 and (ids[2] == 0).all()
    assert ids.max() <= tx.CHAR_HASH_BUCKETS
    # A word hashes the same wherever it appears.
    again = tx.char_ngram_ids(tx.normalize_text(tf.constant(["blue shoes"])), 12).numpy()
    assert set(ids[0][3:8]) == set(again[0][4:9])


def test_word_ids_are_hashed_unigrams_then_bigrams():
    tokens = tx.dense_tokens(tx.tokenize(tf.constant(["red shoes", "shoes red", "x"])), 3)
    ids = tx.word_ngram_ids(tx.padded_fingerprints(tokens), 6).numpy()
    unigrams = tf.strings.to_hash_bucket_fast(["red", "shoes"], tx.WORD_HASH_BUCKETS).numpy() + 1
    assert ids[0][:2].tolist() == unigrams.tolist() and ids[0][2] == 0
    assert ids[0][3] > 0 and ids[1][3] > 0 and ids[0][3] != ids[1][3]  # order-sensitive
    assert (ids[2][1:] == 0).all() and ids.max() <= tx.WORD_HASH_BUCKETS
