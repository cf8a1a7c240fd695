"""BM25 term counting in the student's Transform graph (trainer.student.bm25)."""

import numpy as np
import tensorflow as tf

from trainer.student import bm25
from trainer.student.text_features import NO_TOKEN


def _brute_force_counts(texts, queries, max_tokens):
    return np.array([[sum(token == term for token in text[:max_tokens]) if term != NO_TOKEN else 0
                      for term in query] for text, query in zip(texts, queries)], np.float32)


def test_term_frequencies_match_a_brute_force_count_on_texts_of_any_length():
    rng = np.random.default_rng(0)
    # Lengths 0..300: empty fields, short titles, and texts past the old 32-token cut.
    texts = [list(rng.integers(0, 20, size=length)) for length in [0, 3, 31, 40, 120, 300]]
    queries = [list(rng.integers(0, 20, size=4)) + [NO_TOKEN] for _ in texts]
    counts = bm25.query_term_frequencies(
        tf.ragged.constant(texts, dtype=tf.int64, row_splits_dtype=tf.int64),
        tf.constant(queries, tf.int64), max_tokens=256).numpy()
    np.testing.assert_array_equal(counts, _brute_force_counts(texts, queries, 256))
    # A term that only occurs after token 32 is counted.
    assert counts[4].sum() > _brute_force_counts(texts, queries, 32)[4].sum()


def test_term_frequencies_stop_at_max_tokens():
    texts = tf.ragged.constant([[5] * 10, [5, 6]], dtype=tf.int64, row_splits_dtype=tf.int64)
    counts = bm25.query_term_frequencies(texts, tf.constant([[5], [6]], tf.int64), max_tokens=4)
    np.testing.assert_array_equal(counts.numpy(), [[4.0], [1.0]])
