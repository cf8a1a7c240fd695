"""The similarity prior: the pretrained encoder's own bi-encoder score as a head input.

multilingual-e5 was pre-trained as a bi-encoder: the mean-pooled output of
"query: q" against that of "passage: text", by cosine. With no label seen that score
already ranks as well as BM25 on XQuAD-R and better on CrowdFlower (bench/
zero_shot_encoder.py), while a cross-encoder head fine-tuned on a thousand labels
starts from nothing and can collapse to the majority grade. The prior keeps what the
pretrained weights know: a frozen copy of the pretrained backbone encodes the query
and the item alone (the pair branch's backbone is what fine-tunes; sharing it would let
fine-tuning move the prior), their cosine goes
through a Dense(G) started on an ordinal slope, and its logits are added to the
cross-encoder head's:

    logits = head(pool(encoder([q; item]))) + w * cos(mean(encoder(q)), mean(encoder(item))) + b

with w_k = SLOPE * (k - (G - 1) / 2) and b_k = -w_k * COSINE_CENTRE at the start, so the
teacher begins as the zero-shot bi-encoder and the labels teach it what to add.
It costs two more encoder passes per pair in inference (the query pass is short), about
1.6x the training step (the extra passes have no backward), and a second copy of the
backbone's transformer layers in memory and in the exported teacher; the token
embedding table (most of the weights), frozen in both branches by default, is one
shared variable (`backbones.share_token_embedding`).

Example (the tiny default preset; shapes only):

>>> import tensorflow as tf
>>> pooled = MaskedMeanCosine()(tf.ones([2, 3, 4]), tf.constant([[1, 1, 0], [1, 0, 0]]),
...                             tf.ones([2, 5, 4]), tf.constant([[1, 0, 0, 0, 0]] * 2))
>>> [round(float(x), 4) for x in pooled[:, 0]]
[1.0, 1.0]
"""

from typing import Dict, Tuple

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from trainer.teacher.scaled_dense import ScaledDense

QUERY_PREFIX = "query_"
ITEM_PREFIX = "item_"
# e5 cosines between a query and any passage sit in about 0.7..0.9; the slope turns a
# 0.05 difference into about one logit per grade step.
SLOPE = 20.0
COSINE_CENTRE = 0.8


@keras.saving.register_keras_serializable(package="relevance_teacher")
class MaskedMeanCosine(keras.layers.Layer):
    """Cosine [B, 1] between the masked means of two [B, L, H] sequences."""

    def call(self, query_sequence, query_mask, item_sequence, item_mask):
        query = normalized_mean(query_sequence, query_mask)
        item = normalized_mean(item_sequence, item_mask)
        return ops.sum(query * item, axis=-1, keepdims=True)

    def compute_output_shape(self, query_sequence_shape, query_mask_shape,
                             item_sequence_shape, item_mask_shape):
        return (query_sequence_shape[0], 1)


@keras.saving.register_keras_serializable(package="relevance_teacher")
class NormalizedMean(keras.layers.Layer):
    """[B, H] float32: `normalized_mean` of a [B, L, H] sequence over its [B, L] mask."""

    def call(self, sequence, padding_mask):
        return normalized_mean(sequence, padding_mask)

    def compute_output_shape(self, sequence_shape, padding_mask_shape):
        return (sequence_shape[0], sequence_shape[2])


def normalized_mean(sequence, mask):
    """[B, H] float32: the L2-normalised mean of a [B, L, H] sequence over its mask
    (e5's own pooling)."""
    weights = ops.cast(mask, sequence.dtype)[..., None]
    mean = ops.sum(sequence * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
    return ops.normalize(ops.cast(mean, "float32"), axis=-1)


def ordinal_initializers(num_grades: int):
    """(kernel, bias) initial values for the Dense(G) over the cosine."""
    slope = SLOPE * (np.arange(num_grades, dtype="float32") - (num_grades - 1) / 2.0)
    kernel = keras.initializers.Constant(slope[None, :].tolist())
    bias = keras.initializers.Constant((-slope * COSINE_CENTRE).tolist())
    return kernel, bias


def prior_logits(backbone, num_grades: int, sequence_output_fn,
                 learning_rate_multiplier: float = 1.0) -> tuple:
    """(extra Keras inputs, [B, G] logits) of the prior over `backbone` (a frozen copy
    of the cross-encoder's). `sequence_output_fn(backbone, inputs, training)` -> [B, L, H];
    the Dense over the cosine learns `learning_rate_multiplier` times as fast as the
    backbone (`ScaledDense`)."""
    inputs, sequences = {}, {}
    for prefix in (QUERY_PREFIX, ITEM_PREFIX):
        token_ids = keras.Input(shape=(None,), dtype="int32", name=prefix + "token_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name=prefix + "padding_mask")
        inputs[prefix + "token_ids"] = token_ids
        inputs[prefix + "padding_mask"] = padding_mask
        branch = {"token_ids": token_ids, "padding_mask": padding_mask}
        if "segment_ids" in backbone.input:
            branch["segment_ids"] = ops.zeros_like(token_ids)
        sequences[prefix] = sequence_output_fn(backbone, branch, False)
    cosine = MaskedMeanCosine(name="prior_cosine")(
        sequences[QUERY_PREFIX], inputs[QUERY_PREFIX + "padding_mask"],
        sequences[ITEM_PREFIX], inputs[ITEM_PREFIX + "padding_mask"])
    kernel, bias = ordinal_initializers(num_grades)
    logits = ScaledDense(num_grades, scale=learning_rate_multiplier, dtype="float32",
                         kernel_initializer=kernel, bias_initializer=bias,
                         name="prior_logits")(cosine)
    return inputs, logits


class PriorTokenizer:
    """(query strings, item strings) -> the prior's separately packed token inputs:
    `<s> prefix + text </s>` for the query (`query_length` tokens) and the item
    (`item_length`), right-padded.

    Example:

    >>> import tempfile
    >>> from trainer.teacher.config import TeacherConfig
    >>> from trainer.teacher.default_preset import write_default_preset
    >>> from trainer.teacher.vocabulary import train_sentencepiece
    >>> import keras_hub
    >>> config = TeacherConfig(preset="from-scratch", hidden_dim=8, num_layers=1,
    ...                        num_heads=2, intermediate_dim=16, sequence_length=16)
    >>> proto = train_sentencepiece([("red", 3), ("shoes", 2)], vocabulary_size=300)
    >>> preset = write_default_preset(tempfile.mkdtemp(), proto, config, num_grades=5)
    >>> tokenizer = keras_hub.models.Tokenizer.from_preset(preset)
    >>> packed = PriorTokenizer(tokenizer, 4, 8, "", "")(
    ...     tf.constant(["red shoes"]), tf.constant(["shoes"]))
    >>> sorted(packed), packed["query_token_ids"].shape.as_list()
    (['item_padding_mask', 'item_token_ids', 'query_padding_mask', 'query_token_ids'], [1, 4])
    """

    def __init__(self, tokenizer, query_length: int, item_length: int,
                 query_prefix: str = "query: ", item_prefix: str = "passage: "):
        import keras_hub

        start, end, pad = special_token_ids(tokenizer)
        self.tokenizer = tokenizer
        self.prefixes = {QUERY_PREFIX: query_prefix, ITEM_PREFIX: item_prefix}
        self.packers = {
            prefix: keras_hub.layers.StartEndPacker(
                start_value=start, end_value=end, pad_value=pad,
                sequence_length=int(length), return_padding_mask=True)
            for prefix, length in ((QUERY_PREFIX, query_length), (ITEM_PREFIX, item_length))
        }

    def __call__(self, queries: tf.Tensor, items: tf.Tensor) -> Dict[str, tf.Tensor]:
        out = {}
        for prefix, text in ((QUERY_PREFIX, queries), (ITEM_PREFIX, items)):
            out[prefix + "token_ids"], out[prefix + "padding_mask"] = self.encode(prefix, text)
        return out

    def encode(self, group: str, texts: tf.Tensor):
        """(token_ids, padding_mask) int32 of one group (QUERY_PREFIX or ITEM_PREFIX)."""
        text = tf.strings.join([self.prefixes[group], texts])
        token_ids, mask = self.packers[group](self.tokenizer(text))
        return tf.cast(token_ids, tf.int32), tf.cast(mask, tf.int32)


def special_token_ids(tokenizer) -> Tuple[int, int, int]:
    """(start, end, pad) token ids of an encoder tokenizer (BERT's cls/sep count as
    start/end); a ValueError names the one it lacks."""
    def first_of(names) -> int:
        for name in names:
            value = getattr(tokenizer, name, None)
            if value is not None:
                return int(value)
        raise ValueError(f"{type(tokenizer).__name__} has none of {names}; pooling an "
                         "encoder's output needs a tokenizer with start, end and pad tokens")

    return (first_of(("start_token_id", "cls_token_id")),
            first_of(("end_token_id", "sep_token_id")), first_of(("pad_token_id",)))
