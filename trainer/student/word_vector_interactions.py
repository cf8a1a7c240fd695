"""Query/item interactions over distilled word vectors (see trainer.student.word_vectors)."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="relevance_student")
class WordVectorInteractions(keras.layers.Layer):
    """Query word vectors and item word ids -> `[B, dims + 6]` interaction features
    (`[B, 6]` with `products=False`).

    Built over the student's `WordVectorTable`. Inputs: query word vectors `[B, Q, d]`,
    their mask `[B, Q]` (1 = the word has a vector) and weights `[B, Q]` (the word's
    BM25 idf where it has a vector, else 0), item word ids `[B, L]` (0 = no vector), and
    the query's token count `[B, 1]`. Vectors are unit rows. Outputs:

    * `q * i` (d values; left out with `products=False`) and `cos(q, i)`, with q, i the
      normalised means of the query's and the item's word vectors: what the texts are
      about. The d products let the MLP weigh directions of the vector space, which
      can be directions of the labelled language; the six similarities cannot;
    * the soft term match: each query word's best cosine over the item's words,
      averaged over the query's words and the largest of them (a translation or a
      synonym counts, where BM25 needs the same token);
    * the idf-weighted soft term match and pooled cosine: the same average, and the
      cosine of the idf-weighted query mean with the item mean. Unweighted, a function
      word's best cosine ("what" against the item's "the") counts as much as the one
      rare word that decides the match; as a ranker on its own, on XQuAD-R development
      questions, the weighted average beats the plain one by 0.01 to 0.02 nDCG@10 in
      de, en and es (bench/word_vector_rankers.py);
    * the share of the query's tokens that have a vector (low: the n-grams must carry it).

    Cost: item words repeat across candidates, so each distinct word of the batch is
    looked up once and pooled by `SparseSegmentSum` (no `[B, L, d]` tensor); with one
    query in the batch (the serving request) its cosines are computed once per distinct
    item word too. Only the query slots the batch's longest query fills are compared.

    Example:

    >>> import numpy as np
    >>> from trainer.student.word_vector_table import WordVectorTable
    >>> dog, cat = [1.0, 0.0], [0.0, 1.0]
    >>> table = WordVectorTable(np.array([dog, cat], "float32"), trainable=True)
    >>> features = WordVectorInteractions(table)(
    ...     tf.constant([[dog, [0, 0]]]), tf.constant([[1.0, 0.0]]), tf.constant([[2.5, 0.0]]),
    ...     tf.constant([[2, 1]]), tf.constant([[1.0]]))
    >>> # q*i (2), cos, mean best, top best, idf mean best, idf cos, share
    >>> [round(float(x), 3) for x in features[0]]
    [0.707, 0.0, 0.707, 1.0, 1.0, 1.0, 0.707, 1.0]
    """

    def __init__(self, table, products: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.table = table
        self.products = products

    def call(self, query_vectors, query_known, query_weights, item_ids, query_length):
        query = tf.math.l2_normalize(tf.reduce_sum(query_vectors, axis=1), axis=-1)
        weighted_query = tf.math.l2_normalize(
            tf.reduce_sum(query_vectors * query_weights[..., None], axis=1), axis=-1)
        num_rows, num_words = tf.unstack(tf.shape(item_ids))
        distinct_ids, position = tf.unique(tf.reshape(item_ids, [-1]))
        distinct_vectors = self.table(distinct_ids)  # [K, d]; the zero row for id 0
        item_total = tf.sparse.segment_sum(
            distinct_vectors, position, tf.repeat(tf.range(num_rows), num_words),
            num_segments=num_rows)
        item = tf.math.l2_normalize(item_total, axis=-1)

        used = tf.minimum(tf.cast(tf.reduce_max(query_length), tf.int32), tf.shape(query_known)[1])
        query_words, query_words_known = query_vectors[:, :used], query_known[:, :used]
        query_words_weights = query_weights[:, :used]

        def one_query():
            # Cosines of each distinct item word with the query's words, then per slot.
            cosines = tf.matmul(distinct_vectors, query_words[0], transpose_b=True)  # [K, Q]
            return tf.reduce_max(
                tf.reshape(tf.gather(cosines, position), [num_rows, num_words, -1]), axis=1)

        def per_row():
            item_vectors = tf.reshape(tf.gather(distinct_vectors, position),
                                      [num_rows, num_words, -1])
            return tf.reduce_max(tf.matmul(query_words, item_vectors, transpose_b=True), axis=2)

        best = tf.cond(tf.reduce_all(tf.equal(query_words, query_words[:1])), one_query, per_row)
        num_known = tf.reduce_sum(query_words_known, axis=1, keepdims=True)
        mean_best = tf.reduce_sum(best * query_words_known, axis=1, keepdims=True) / tf.maximum(
            num_known, 1.0)
        top_best = tf.reduce_max(best * query_words_known, axis=1, keepdims=True)
        weighted_mean_best = tf.math.divide_no_nan(
            tf.reduce_sum(best * query_words_weights, axis=1, keepdims=True),
            tf.reduce_sum(query_words_weights, axis=1, keepdims=True))
        products = [query * item] if self.products else []
        return tf.concat(products + [
            tf.reduce_sum(query * item, axis=-1, keepdims=True),
            mean_best,
            top_best,
            weighted_mean_best,
            tf.reduce_sum(weighted_query * item, axis=-1, keepdims=True),
            num_known / tf.maximum(query_length, 1.0),
        ], axis=-1)

    def compute_output_shape(self, query_vectors_shape, *unused_shapes):
        return (query_vectors_shape[0], (query_vectors_shape[2] if self.products else 0) + 6)

    def get_config(self):
        return {**super().get_config(), "products": self.products,
                "table": keras.saving.serialize_keras_object(self.table)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["table"] = keras.saving.deserialize_keras_object(config["table"])
        return cls(**config)
