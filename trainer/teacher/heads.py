"""The teacher's cross-encoder network: any keras-hub backbone, a pooled token, an MLP.

Pooling is the first token for encoders ([CLS] / <s>) and the last non-padding token
for decoders: under causal attention only the last token has seen the whole
(query, item) pair.

Example (pooling picks the last position whose padding mask is 1):

>>> import numpy as np
>>> sequence = np.arange(2 * 4 * 1, dtype="float32").reshape(2, 4, 1)
>>> mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]])
>>> TokenPooling("last")(sequence, mask).numpy()[:, 0].tolist()
[1.0, 7.0]
>>> TokenPooling("first")(sequence, mask).numpy()[:, 0].tolist()
[0.0, 4.0]
"""

from typing import Optional, Sequence

import keras
from keras import ops

from trainer.teacher import lexical_signals as signals
from trainer.teacher import match_features as lexical
from trainer.teacher.scaled_dense import ScaledDense
from trainer.teacher.similarity_prior import prior_logits


@keras.saving.register_keras_serializable(package="relevance_teacher")
class TokenPooling(keras.layers.Layer):
    """[B, L, H] sequence output + [B, L] padding mask -> [B, H].

    "first": position 0. "last": the last position whose mask is non-zero (position 0
    for an all-padding row); right or left padding both work.
    """

    def __init__(self, mode: str = "first", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("first", "last"):
            raise ValueError(f"pooling mode must be 'first' or 'last', got {mode!r}")
        self.mode = mode

    def call(self, sequence, padding_mask=None):
        if self.mode == "first":
            return sequence[:, 0, :]
        if padding_mask is None:
            return sequence[:, -1, :]
        length = ops.shape(sequence)[1]
        positions = ops.arange(length, dtype="int32")[None, :]
        mask = ops.cast(padding_mask, "bool")
        last = ops.max(ops.where(mask, positions, ops.zeros_like(positions)), axis=1)
        index = ops.reshape(ops.cast(last, "int32"), (-1, 1, 1))
        return ops.take_along_axis(sequence, index, axis=1)[:, 0, :]

    def compute_output_shape(self, sequence_shape, padding_mask_shape=None):
        return (sequence_shape[0], sequence_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def sequence_output(backbone, inputs, training=None):
    """The backbone's [B, L, H] output (BERT-like backbones return a dict)."""
    outputs = backbone(inputs, training=training)
    if isinstance(outputs, dict):
        outputs = outputs["sequence_output"]
    return outputs


def build_cross_encoder(
    backbone,
    num_grades: int,
    pooling: str = "first",
    hidden_units: Optional[Sequence[int]] = None,
    activation: str = "tanh",
    dropout: float = 0.1,
    prior_backbone: Optional[keras.Model] = None,
    head_learning_rate_multiplier: float = 1.0,
    match_features: bool = False,
    lexical_signals: int = 0,
) -> keras.Model:
    """A functional model over the backbone's token inputs returning G logits.

    The head is dropout -> Dense(units, activation) for each of `hidden_units` (None:
    one layer of the backbone's width, as keras-hub's classifier heads) -> dropout ->
    Dense(G). Head layers share the backbone's dtype policy; the logits are float32.
    Given a `prior_backbone` (a frozen copy of the pretrained backbone), the logits of
    `similarity_prior.prior_logits` (its bi-encoder cosine of the query and the item
    encoded alone) are added, and the model also takes the prior's query_* / item_*
    token inputs. The head's layers (and the prior's Dense) learn
    `head_learning_rate_multiplier` times as fast as the backbone (`ScaledDense`).
    With `match_features`, the model also takes the pair's lexical match features
    (`match_features.INPUT_NAME`, [B, NUM_FEATURES]), joined to the pooled token; with
    `lexical_signals` > 0, the pair's BM25 signals (`lexical_signals.INPUT_NAME`,
    [B, lexical_signals]) likewise.
    """
    if pooling not in ("first", "last"):
        raise ValueError(f"pooling must be resolved to 'first' or 'last', got {pooling!r}")
    if hidden_units is None:
        hidden_units = (int(backbone.hidden_dim),)
    policy = backbone.dtype_policy
    inputs = dict(backbone.input)
    x = sequence_output(backbone, inputs)
    x = TokenPooling(pooling, dtype=policy, name="pooling")(x, inputs.get("padding_mask"))
    pair_features = {lexical.INPUT_NAME: lexical.NUM_FEATURES if match_features else 0,
                     signals.INPUT_NAME: int(lexical_signals)}
    for name, width in pair_features.items():
        if width:
            inputs[name] = keras.Input(shape=(width,), dtype="float32", name=name)
            x = keras.layers.Concatenate(dtype=policy, name=f"pooled_and_{name}")(
                [x, inputs[name]])
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dropout(dropout, dtype=policy, name=f"head_dropout_{i}")(x)
        x = ScaledDense(int(units), scale=head_learning_rate_multiplier,
                        activation=activation, dtype=policy, name=f"head_dense_{i}")(x)
    x = keras.layers.Dropout(dropout, dtype=policy, name="output_dropout")(x)
    # With the prior, the head starts at zero so the teacher starts as the prior.
    logits = ScaledDense(
        num_grades, scale=head_learning_rate_multiplier, dtype="float32", name="logits",
        kernel_initializer="zeros" if prior_backbone is not None else "glorot_uniform")(x)
    if prior_backbone is not None:
        prior_inputs, prior = prior_logits(prior_backbone, num_grades, sequence_output,
                                           head_learning_rate_multiplier)
        inputs.update(prior_inputs)
        logits = keras.layers.Add(dtype="float32", name="logits_with_prior")([logits, prior])
    return keras.Model(inputs, logits, name="teacher_cross_encoder")
