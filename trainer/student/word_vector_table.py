"""The distilled word vectors as a table inside the student (core TF ops only)."""

from typing import Optional

import keras
import numpy as np
import tensorflow as tf


INT8_LEVELS = 127


@keras.saving.register_keras_serializable(package="relevance_student")
class WordVectorTable(keras.layers.Layer):
    """`[B, L]` word ids (row + 1 of `vectors`, 0 = none) -> `[B, L, dim]` float32 vectors.

    Row 0 is all zeros: padding and words outside the vocabulary get no vector, so
    pooling and similarity over them give 0 and the hashed n-grams carry those words.
    A frozen table is stored in int8 with one scale for the table (a quarter of float32
    in the SavedModel; a cosine of unit rows moves by about 0.001) and dequantised
    after the gather (an int8 cast is several times cheaper than float16's on CPUs
    without AVX512-FP16); a trainable one is float32.

    Example:

    >>> import numpy as np
    >>> table = WordVectorTable(np.array([[0.6, 0.8], [1.0, 0.0]], "float32"))
    >>> vectors = table(np.array([[2, 0, 1]])).numpy()
    >>> [[round(float(value), 2) for value in word] for word in vectors[0]]
    [[1.0, 0.0], [0.0, 0.0], [0.6, 0.8]]
    """

    def __init__(self, vectors: Optional[np.ndarray] = None, num_words: int = 0,
                 dims: int = 0, trainable: bool = False, **kwargs):
        super().__init__(trainable=trainable, **kwargs)
        if vectors is not None:
            num_words, dims = vectors.shape
        self.num_words, self.dims = int(num_words), int(dims)
        self._initial = vectors

    def build(self, input_shape):
        initial = np.zeros((self.num_words + 1, self.dims), "float32")
        if self._initial is not None:
            initial[1:] = self._initial
        scale = 1.0
        if not self.trainable:
            scale = max(float(np.abs(initial).max()), 1e-12) / INT8_LEVELS
            initial = np.round(initial / scale).astype("int8")
        # Initialisers, not assign(): a build inside a symbolic pass (a stateless scope)
        # would drop an assignment.
        self.vectors = self.add_weight(
            shape=initial.shape, dtype=initial.dtype.name, trainable=self.trainable,
            name="vectors", initializer=lambda shape, dtype=None: initial,
        )
        self.scale = self.add_weight(shape=(), dtype="float32", trainable=False, name="scale",
                                     initializer=keras.initializers.Constant(scale))
        self._initial = None  # the weights hold them now; do not keep a second copy

    def call(self, ids):
        vectors = tf.gather(self.vectors, ids)
        if self.vectors.dtype != tf.float32:
            return tf.cast(vectors, tf.float32) * self.scale  # frozen: row 0 stays zeros
        # A trainable table may move row 0: padding must stay "no vector".
        return vectors * tf.cast(ids > 0, tf.float32)[..., None]

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.dims)

    def get_config(self):
        return {**super().get_config(), "num_words": self.num_words, "dims": self.dims}
