"""`ScaledDense`: a Dense layer with a learning-rate multiplier, for heads on pretrained backbones."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="relevance_teacher")
class ScaledDense(keras.layers.Layer):
    """A Dense layer that learns `scale` times faster under Adam-style optimizers.

    It computes activation(scale * (x @ kernel + bias)) and stores its weights divided
    by `scale`. Adam moves every weight by about the learning rate per step whatever
    the gradient's size, so the layer's function moves `scale` times as fast as a plain
    Dense's: a learning-rate multiplier for a freshly initialised head on a pretrained
    backbone, which is fine-tuned at a rate (~1e-5) at which a zero-initialised head
    would barely leave zero. Initial values are the initializers' (before the division).

    >>> import numpy as np
    >>> layer = ScaledDense(2, scale=10.0, kernel_initializer="ones")
    >>> layer(np.ones((1, 3), "float32")).numpy().tolist(), round(float(layer.kernel[0, 0]), 6)
    ([[3.0, 3.0]], 0.1)
    """

    def __init__(self, units: int, scale: float = 1.0, activation=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.scale = float(scale)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        scale = self.scale

        def scaled(initializer):
            return lambda shape, dtype=None: initializer(shape, dtype=dtype) / scale

        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel",
                                      initializer=scaled(self.kernel_initializer))
        self.bias = self.add_weight(shape=(self.units,), name="bias",
                                    initializer=scaled(self.bias_initializer))

    def call(self, inputs):
        outputs = (ops.matmul(inputs, ops.cast(self.kernel, inputs.dtype))
                   + ops.cast(self.bias, inputs.dtype)) * ops.cast(self.scale, inputs.dtype)
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale,
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}
