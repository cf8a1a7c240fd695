"""Query/item interactions over distilled word vectors (see trainer.student.word_vectors)."""

import keras
import tensorflow as tf


class WordVectorInteractions(keras.layers.Layer):
    """Query and item word vectors -> `[B, dims + 4]` interaction features.

    Inputs: query word vectors `[B, Q, d]` and their mask `[B, Q]` (1 = the word has a
    vector), item word vectors `[B, L, d]` and their mask `[B, L]`, and the query's
    token count `[B, 1]`. Vectors are unit rows (zeros where there is none). Outputs:

    * `q * i` (d values) and `cos(q, i)`, with q, i the normalised means of the query's
      and the item's word vectors: what the texts are about, in any language;
    * the soft term match: each query word's best cosine over the item's words,
      averaged over the query's words and the largest of them (a translation or a
      synonym counts, where BM25 needs the same token);
    * the share of the query's tokens that have a vector (low: the n-grams must carry it).

    Only the query slots the batch's longest query fills are compared (one query of
    three words: 3 x L cosines per candidate, not Q x L), and a batch with one query
    (the serving request) computes them in one matrix product.

    Example:

    >>> import numpy as np
    >>> dog, cat = [1.0, 0.0], [0.0, 1.0]
    >>> features = WordVectorInteractions()(
    ...     tf.constant([[dog, [0, 0]]]), tf.constant([[1.0, 0.0]]),
    ...     tf.constant([[cat, dog]]), tf.constant([[1.0, 1.0]]), tf.constant([[1.0]]))
    >>> [round(float(x), 3) for x in features[0]]  # q*i (2), cos, mean best, top best, share
    [0.707, 0.0, 0.707, 1.0, 1.0, 1.0]
    """

    def call(self, query_vectors, query_known, item_vectors, item_known, query_length):
        def normalized_mean(vectors, known):
            total = tf.reduce_sum(vectors, axis=1)
            mean = total / tf.maximum(tf.reduce_sum(known, axis=1, keepdims=True), 1.0)
            return tf.math.l2_normalize(mean, axis=-1)

        query = normalized_mean(query_vectors, query_known)
        item = normalized_mean(item_vectors, item_known)
        used = tf.minimum(tf.cast(tf.reduce_max(query_length), tf.int32), tf.shape(query_known)[1])
        query_words, query_words_known = query_vectors[:, :used], query_known[:, :used]
        best = tf.cond(
            tf.reduce_all(tf.equal(query_words, query_words[:1])),
            lambda: self._best_match_one_query(query_words[0], item_vectors),
            lambda: tf.reduce_max(tf.matmul(query_words, item_vectors, transpose_b=True), axis=2),
        )
        num_known = tf.reduce_sum(query_words_known, axis=1, keepdims=True)
        mean_best = tf.reduce_sum(best * query_words_known, axis=1, keepdims=True) / tf.maximum(
            num_known, 1.0)
        top_best = tf.reduce_max(best * query_words_known, axis=1, keepdims=True)
        return tf.concat([
            query * item,
            tf.reduce_sum(query * item, axis=-1, keepdims=True),
            mean_best,
            top_best,
            num_known / tf.maximum(query_length, 1.0),
        ], axis=-1)

    @staticmethod
    def _best_match_one_query(query_words, item_vectors):
        # The serving case (one query, N candidates): one [N * L, d] x [d, Q] product
        # instead of N tiny ones (their per-product overhead dominated).
        num_rows, num_words, dims = tf.unstack(tf.shape(item_vectors))
        cosines = tf.matmul(tf.reshape(item_vectors, [-1, dims]), query_words, transpose_b=True)
        return tf.reduce_max(tf.reshape(cosines, [num_rows, num_words, -1]), axis=1)

    def compute_output_shape(self, query_vectors_shape, *unused_shapes):
        return (query_vectors_shape[0], query_vectors_shape[2] + 4)
