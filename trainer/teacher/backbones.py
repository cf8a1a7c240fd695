"""Any keras-hub text backbone as the teacher's encoder, with its preset's tokenizer.

`load_backbone(preset, config)` loads `keras_hub.models.Backbone.from_preset(preset)`
(a preset name or a local directory written by `save_to_preset`) and the preprocessing
the preset ships:

* encoders (XLM-RoBERTa, mDeBERTa-v3, multilingual BERT, ... - every backbone with a
  keras-hub `TextClassifierPreprocessor`): that preprocessor, which packs
  `[CLS] query [SEP] item [SEP]` the way the model was pre-trained;
* decoders (Gemma, Llama, ... - no text classifier in keras-hub): the tokenizer of the
  preset's `CausalLMPreprocessor`, packed by `DecoderPairPreprocessor` as
  `<bos> query <eos> item <eos> <pad>...` (right padding).

Example (the kind detection is by backbone class):

>>> import keras_hub
>>> is_decoder(keras_hub.models.GemmaBackbone), is_decoder(keras_hub.models.BertBackbone)
(True, False)
>>> resolve_dtype("off"), resolve_dtype("auto", gpu_available=False)
(None, None)
>>> resolve_dtype("auto", gpu_available=True), resolve_dtype("on", gpu_available=False)
('mixed_float16', 'mixed_bfloat16')
"""

import dataclasses
import logging
from typing import Optional

import keras
import keras_hub
import tensorflow as tf

from trainer.teacher.config import MIXED_PRECISION
# Registers the tokenizer class that presets converted from GGUF files save.
from trainer.teacher.presets import gguf_tokenizer  # noqa: F401


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _has_preprocessor(base, backbone_cls) -> bool:
    return any(getattr(sub, "backbone_cls", None) is backbone_cls for sub in _subclasses(base))


def is_decoder(backbone_cls) -> bool:
    """True for a backbone keras-hub only pairs with causal-LM preprocessing."""
    return not _has_preprocessor(
        keras_hub.models.TextClassifierPreprocessor, backbone_cls
    ) and _has_preprocessor(keras_hub.models.CausalLMPreprocessor, backbone_cls)


def resolve_dtype(mixed_precision: str, gpu_available: Optional[bool] = None) -> Optional[str]:
    """The backbone dtype policy for `mixed_precision` ("auto": mixed_float16 only when a
    GPU is present; "on": mixed_float16 on GPU, mixed_bfloat16 on CPU; "off": None,
    i.e. the preset's own dtype)."""
    if mixed_precision not in MIXED_PRECISION:
        raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}, "
                         f"got {mixed_precision!r}")
    if mixed_precision == "off":
        return None
    if gpu_available is None:
        gpu_available = bool(tf.config.list_physical_devices("GPU"))
    if gpu_available:
        return "mixed_float16"
    return "mixed_bfloat16" if mixed_precision == "on" else None


class DecoderPairPreprocessor(keras_hub.models.Preprocessor):
    """(query, item) string vectors -> {"token_ids", "padding_mask"} [N, sequence_length]
    for a decoder: `<bos> query <eos> item <eos>` then padding on the right, both
    segments truncated round-robin. The padding mask comes from packing the segments'
    lengths, so it never depends on the pad id being distinct from real tokens.
    """

    def __init__(self, tokenizer, sequence_length: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        pad = getattr(tokenizer, "pad_token_id", None)
        self.pad_value = 0 if pad is None else int(pad)
        self.start_value = int(tokenizer.start_token_id)
        self.end_value = int(tokenizer.end_token_id)

    def _packer(self, start, end, pad):
        return keras_hub.layers.MultiSegmentPacker(
            sequence_length=self.sequence_length, start_value=start, end_value=end,
            pad_value=pad, truncate="round_robin",
        )

    @staticmethod
    def _ragged(token_ids):
        if isinstance(token_ids, tf.RaggedTensor):
            return token_ids
        if isinstance(token_ids, tf.Tensor):  # dense [N, L]: no padding to strip
            return tf.RaggedTensor.from_tensor(token_ids)
        # Outside a tf.function keras-hub tokenizers return Python lists.
        return tf.ragged.constant(token_ids, dtype=tf.int32, ragged_rank=1)

    def call(self, x):
        query, item = x
        segments = [self._ragged(self.tokenizer(tf.convert_to_tensor(s))) for s in (query, item)]
        segments = [tf.cast(s, tf.int32) for s in segments]
        token_ids, _ = self._packer(self.start_value, self.end_value, self.pad_value)(
            tuple(segments))
        ones = tuple(tf.ones_like(s) for s in segments)
        padding_mask, _ = self._packer(1, 1, 0)(ones)
        return {"token_ids": token_ids, "padding_mask": tf.cast(padding_mask, tf.bool)}

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length}


def _saved_text_classifier_preprocessor(preset: str):
    """The preprocessor a local preset saved (`preprocessor.json`), whatever its class.

    keras-hub's `TextClassifierPreprocessor.from_preset` picks the preprocessor class
    paired with the backbone class, so a BERT backbone with an XLM-R tokenizer and
    preprocessor (multilingual-e5) would get BERT's [CLS]/[SEP] packing; the saved
    preprocessor is the one the preset means. None when there is no such file.
    """
    import json
    import os

    from keras_hub.src.utils.preset_utils import PREPROCESSOR_CONFIG_FILE

    path = os.path.join(preset, PREPROCESSOR_CONFIG_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        config = json.load(f)
    preprocessor = keras.saving.deserialize_keras_object(config)
    if not isinstance(preprocessor, keras_hub.models.TextClassifierPreprocessor):
        return None
    preprocessor.load_preset_assets(preset)
    return preprocessor


@dataclasses.dataclass
class LoadedBackbone:
    backbone: keras_hub.models.Backbone
    preprocessor: keras.layers.Layer  # (query, item) -> the backbone's token inputs
    decoder: bool


def load_backbone(preset: str, config) -> LoadedBackbone:
    """Backbone and (query, item) preprocessor from `preset`, cut to
    `config.sequence_length` (or the backbone's max length, if smaller), in the dtype
    `config.mixed_precision` asks for."""
    backbone = _backbone_from_preset(preset, config)
    sequence_length = config.sequence_length
    max_length = getattr(backbone, "max_sequence_length", None)
    if max_length:
        sequence_length = min(sequence_length, int(max_length))
    decoder = is_decoder(type(backbone))
    if decoder:
        tokenizer = keras_hub.models.CausalLMPreprocessor.from_preset(preset).tokenizer
        preprocessor = DecoderPairPreprocessor(tokenizer, sequence_length=sequence_length)
    else:
        preprocessor = _saved_text_classifier_preprocessor(preset)
        if preprocessor is None:
            preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset(preset)
        preprocessor.sequence_length = sequence_length
    return LoadedBackbone(backbone, preprocessor, decoder)


def load_frozen_copy(preset: str, config, name: str = "prior_backbone"):
    """The backbone of `preset` again, untrainable, under its own layer name (a model
    may hold two backbones only if their names differ)."""
    backbone = _backbone_from_preset(preset, config, name=name)
    backbone.trainable = False
    return backbone


def _backbone_from_preset(preset: str, config, **kwargs):
    dtype = resolve_dtype(config.mixed_precision)
    if dtype:
        logging.info("teacher backbone dtype policy: %s", dtype)
        kwargs["dtype"] = dtype
    return keras_hub.models.Backbone.from_preset(preset, **kwargs)


def configure_trainable(backbone, config) -> None:
    """LoRA (`config.lora_rank` > 0: every backbone weight frozen except the LoRA
    factors of the attention query / value projections), a frozen backbone
    (`config.freeze_backbone`), a frozen token embedding table
    (`config.freeze_embeddings`), or full fine-tuning."""
    if config.lora_rank:
        backbone.enable_lora(int(config.lora_rank))
        if not getattr(backbone, "_lora_enabled_layers", None):
            raise ValueError(f"{type(backbone).__name__} has no layers LoRA applies to "
                             f"({backbone.default_lora_layer_names()})")
    elif config.freeze_backbone:
        backbone.trainable = False
    elif config.freeze_embeddings:
        embedding = getattr(backbone, "token_embedding", None)
        if embedding is None:
            raise ValueError(f"{type(backbone).__name__} has no token_embedding to freeze")
        embedding.trainable = False


def share_token_embedding(source, target) -> bool:
    """Makes `target`'s token embedding table the very variable of `source`'s, when
    `source`'s is frozen; returns whether it did.

    The similarity prior's frozen copy and a pair branch with frozen embeddings (the
    pretrained teacher's default) hold identical tables: for multilingual-e5-small that
    is 96 M of its 118 M weights. Sharing keeps one in memory and one in the exported
    SavedModel (which stores a variable once however often it is referenced). A table
    that trains, or a layer with other weights (an untied output table), is left alone.
    """
    source_layer = getattr(source, "token_embedding", None)
    target_layer = getattr(target, "token_embedding", None)
    if source_layer is None or target_layer is None or source_layer.trainable_weights:
        return False
    table = getattr(source_layer, "_embeddings", None)
    old = getattr(target_layer, "_embeddings", None)
    if table is None or old is None or len(target_layer.weights) != 1 or (
            tuple(table.shape) != tuple(old.shape)):
        return False
    # Keras locks a built layer's state; the swap replaces one variable by an equal one.
    target_layer._tracker.unlock()
    target_layer._embeddings = table
    for variables in (target_layer._trainable_variables, target_layer._non_trainable_variables):
        variables[:] = [v for v in variables if v is not old]
    target_layer._tracker.lock()
    return True
