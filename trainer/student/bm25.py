"""BM25 of the query against each item field, on the fingerprints of `text_features`.

The Transform graph (trainer/student/preprocessing.py) counts document frequencies over the
training items, then scores every pair with Lucene's BM25 and the share of query terms
each field contains.

>>> import tensorflow as tf
>>> float(bm25_idf(tf.constant(1.0), 3)) > 0
True
"""

import tensorflow as tf

from trainer.student.text_features import MAX_FIELD_TOKENS_FOR_MATCHING, NO_TOKEN

BM25_K1 = 1.2
BM25_B = 0.75


def unique_tokens_per_row(tokens: tf.RaggedTensor, row_ids: tf.Tensor) -> tf.Tensor:
    """Flat `[n]` tokens with each token kept once per document (`row_ids`, per token)."""
    row_keys = tf.strings.join([tf.strings.as_string(row_ids), tokens], separator=" ")
    unique = tf.unique(row_keys)
    first_position = tf.math.unsorted_segment_min(
        tf.range(tf.size(tokens)), unique.idx, tf.size(unique.y)
    )
    return tf.gather(tokens, first_position)


def bm25_idf(document_frequency: tf.Tensor, num_documents: tf.Tensor) -> tf.Tensor:
    """Lucene's non-negative BM25 idf: log(1 + (N - df + 0.5) / (df + 0.5))."""
    num_documents = tf.cast(num_documents, tf.float32)
    return tf.math.log1p((num_documents - document_frequency + 0.5) / (document_frequency + 0.5))


def query_term_frequencies(
    token_fingerprints: tf.RaggedTensor,
    query_fingerprints: tf.Tensor,
    max_tokens: int = MAX_FIELD_TOKENS_FOR_MATCHING,
) -> tf.Tensor:
    """Occurrences of each query term in each text.

    Args:
        token_fingerprints: ragged `[R, None]` fingerprints of R texts (e.g. B x F fields).
        query_fingerprints: `[R, Q]` fingerprints of each text's query terms, `NO_TOKEN` =
            padding (Q may be just the longest query's length).
        max_tokens: only the first `max_tokens` tokens of a text are counted (a bound on
            what one huge field may cost a request).

    Returns:
        `[R, Q]` float counts.

    Compares integer fingerprints (computed once per token), not strings, and only the
    real tokens: each token meets its own text's Q query terms (`[T, Q]` for T tokens in
    all), so the cost follows the text there is, not the longest text padded R times.

    Example:

    >>> texts = tf.ragged.constant([[7, 3, 7], [3]], dtype=tf.int64)
    >>> query_term_frequencies(texts, tf.constant([[7, 3], [7, -1]], tf.int64)).numpy()
    array([[2., 1.],
           [0., 0.]], dtype=float32)
    """
    rows = token_fingerprints.value_rowids()
    tokens = token_fingerprints.flat_values
    position = tf.range(tf.size(tokens, out_type=tf.int64)) - tf.gather(
        token_fingerprints.row_starts(), rows)
    counted = position < max_tokens
    rows, tokens = tf.boolean_mask(rows, counted), tf.boolean_mask(tokens, counted)
    # Padding terms can never equal a real fingerprint (those are >= 0).
    query = tf.where(query_fingerprints == NO_TOKEN, tf.constant(NO_TOKEN - 1, tf.int64),
                     query_fingerprints)
    equal = tf.cast(tf.equal(tokens[:, None], tf.gather(query, rows)), tf.float32)  # [T, Q]
    return tf.math.unsorted_segment_sum(
        equal, rows, num_segments=token_fingerprints.nrows(out_type=tf.int64))


def bm25_and_coverage(
    query_mask: tf.Tensor,
    query_idf: tf.Tensor,
    term_frequency: tf.Tensor,
    field_length: tf.Tensor,
    average_field_length: tf.Tensor,
):
    """BM25 of the query against each field and the share of query terms each contains.

    Args:
        query_mask: `[B, Q]` 1.0 for a query term, 0.0 for padding.
        query_idf: `[B, Q]` idf of each query term.
        term_frequency: `[B, F, Q]` from `query_term_frequencies`.
        field_length: `[B, F]` token counts of the (untruncated) fields.
        average_field_length: `[F]` corpus mean token count of each field.

    Returns:
        (bm25 `[B, F]`, coverage `[B, F]` in [0, 1]).
    """
    query_mask = query_mask[:, None, :]  # [B, 1, Q]
    length_norm = 1.0 - BM25_B + BM25_B * field_length / tf.maximum(average_field_length, 1.0)
    saturated = term_frequency * (BM25_K1 + 1.0) / (
        term_frequency + BM25_K1 * length_norm[:, :, None]
    )
    bm25 = tf.reduce_sum(query_mask * query_idf[:, None, :] * saturated, axis=2)
    matched = tf.reduce_sum(query_mask * tf.cast(term_frequency > 0, tf.float32), axis=2)
    coverage = matched / tf.maximum(tf.reduce_sum(query_mask, axis=2), 1.0)
    return bm25, coverage
