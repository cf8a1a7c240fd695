"""The pretrained bi-encoder, as the teacher's similarity prior and the zero-shot bench
use it: the L2-normalised mean of the encoder's output over "query: q" or "passage:
item text" (multilingual-e5's own recipe).

Texts are encoded in length order (characters), `batch_size` at a time, each batch cut
to its longest row, so short texts cost short sequences; results come back in input
order. Packing (`PriorTokenizer`) and pooling (`normalized_mean`) are the similarity
prior's own, so the component, `relevance embed-items` and `bench/zero_shot_encoder.py`
compute the same vectors as the teacher's prior does.

Example (a tiny random encoder; shapes only):

>>> from support.tiny_encoder import tiny_encoder_preset
>>> encoder = TextEncoder(tiny_encoder_preset(), batch_size=2)
>>> vectors = encoder.encode_items(["red mug", "a blue lamp on a desk", "shoes"])
>>> vectors.shape, vectors.dtype, round(float((vectors[0] ** 2).sum()), 4)
((3, 8), dtype('float32'), 1.0)
"""

from typing import Callable, Optional, Sequence

import numpy as np
import tensorflow as tf

from trainer.teacher.heads import sequence_output
from trainer.teacher.presets.registry import resolve_preset
from trainer.teacher.similarity_prior import (
    ITEM_PREFIX,
    QUERY_PREFIX,
    PriorTokenizer,
    normalized_mean,
)


class TextEncoder:
    """A keras-hub Backbone and Tokenizer loaded from a preset, encoding texts as [N, H].

    Args:
        preset: a preset this project builds (e.g. "multilingual-e5-small", built once
            into the preset cache), a local keras-hub preset directory, or a keras-hub
            preset name.
        query_length, item_length: tokens per query / item text, start and end included
            (capped at the backbone's longest sequence).
        batch_size: texts per model call.
        preset_cache_dir: where a registry preset is built (None: the default cache).

    Example:

    >>> from support.tiny_encoder import tiny_encoder_preset
    >>> encoder = TextEncoder(tiny_encoder_preset())
    >>> encoder.hidden_dim, encoder.encode_queries([]).shape
    (8, (0, 8))
    """

    def __init__(self, preset: str, query_length: int = 32, item_length: int = 128,
                 batch_size: int = 32, preset_cache_dir: Optional[str] = None):
        import keras_hub

        directory = resolve_preset(preset, cache_dir=preset_cache_dir or None)
        if directory is None:
            raise ValueError(f"preset {preset!r} has no pretrained encoder to embed texts "
                             "with; name a pretrained one (e.g. multilingual-e5-small) or a "
                             "keras-hub preset directory")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.preset = preset
        self.batch_size = int(batch_size)
        self.backbone = keras_hub.models.Backbone.from_preset(directory)
        longest = getattr(self.backbone, "max_sequence_length", None) or max(
            query_length, item_length)
        self.query_length = min(int(query_length), int(longest))
        self.item_length = min(int(item_length), int(longest))
        self._tokenizer = PriorTokenizer(keras_hub.models.Tokenizer.from_preset(directory),
                                         self.query_length, self.item_length)
        self.hidden_dim = int(self.backbone.hidden_dim)
        self._takes_segments = "segment_ids" in self.backbone.input
        self._pooled = tf.function(
            self._pool, reduce_retracing=True,
            input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2)

    def _pool(self, token_ids, padding_mask):
        inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
        if self._takes_segments:
            inputs["segment_ids"] = tf.zeros_like(token_ids)
        sequence = sequence_output(self.backbone, inputs, training=False)
        return normalized_mean(sequence, padding_mask)

    def _encode(self, group: str, texts: Sequence[str],
                on_batch: Optional[Callable[[int], None]]) -> np.ndarray:
        texts = [str(text) for text in texts]
        output = np.zeros((len(texts), self.hidden_dim), np.float32)
        order = np.argsort([len(text) for text in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            rows = order[start:start + self.batch_size]
            token_ids, mask = self._tokenizer.encode(
                group, tf.constant([texts[row] for row in rows]))
            # Right-padded to the full length: cut to the batch's longest row.
            width = max(1, int(tf.reduce_max(tf.reduce_sum(mask, axis=1))))
            output[rows] = self._pooled(token_ids[:, :width], mask[:, :width]).numpy()
            if on_batch is not None:
                on_batch(len(rows))
        return output

    def encode_queries(self, texts: Sequence[str],
                       on_batch: Optional[Callable[[int], None]] = None) -> np.ndarray:
        """[N, H] float32 unit rows of "query: q", in input order; `on_batch(n)` is
        called after each model call with the number of texts it encoded."""
        return self._encode(QUERY_PREFIX, texts, on_batch)

    def encode_items(self, texts: Sequence[str],
                     on_batch: Optional[Callable[[int], None]] = None) -> np.ndarray:
        """[N, H] float32 unit rows of "passage: item text", in input order."""
        return self._encode(ITEM_PREFIX, texts, on_batch)

