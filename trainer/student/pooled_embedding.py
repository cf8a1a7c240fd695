"""Embedding table whose lookups are mean-pooled over the non-padding ids of each row."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="relevance_student")
class MeanPooledEmbedding(keras.layers.Layer):
    """`[B, L]` int ids (0 = padding) -> `[B, dim]` mean of the embeddings of the ids > 0.

    One `SparseSegmentMean` gathers and averages the rows of the real ids only, so no
    `[B, L, dim]` tensor is built and padding costs nothing: this is the bulk of the
    student's model-side serving cost. A row of padding only pools to zeros. The layer
    can be called on several inputs (e.g. the query and the item) with one shared table.

    Example:

    >>> import numpy as np
    >>> layer = MeanPooledEmbedding(10, 2)
    >>> pooled = layer(np.array([[1, 3, 0], [0, 0, 0]]))
    >>> table = layer.embeddings.numpy()
    >>> np.allclose(pooled[0], (table[1] + table[3]) / 2), np.allclose(pooled[1], 0.0)
    (True, True)
    """

    def __init__(self, input_dim: int, output_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim

    def build(self, input_shape):
        # Same initialiser as keras.layers.Embedding.
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim), initializer="uniform", name="embeddings"
        )

    def call(self, ids):
        # tf.where lists positions row-major, so the segment ids come out sorted, as
        # SparseSegmentMean requires.
        positions = tf.where(ids > 0)
        return tf.sparse.segment_mean(
            self.embeddings,
            indices=tf.gather_nd(ids, positions),
            segment_ids=positions[:, 0],
            num_segments=tf.shape(ids, out_type=tf.int64)[0],
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim}
