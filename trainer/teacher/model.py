"""The teacher model: a cross-encoder on any keras-hub text backbone over (query, item
text) segments, tokenized by the backbone's own preset."""

import logging
from typing import Dict, Optional, Tuple

import keras
import tensorflow as tf

from models import export
from trainer.teacher import (backbones, heads, lexical_signals as signals, match_features,
                             similarity_prior)
from trainer.teacher.config import TeacherConfig
from trainer.teacher.item_text import ItemTextBuilder
from trainer.teacher.listwise_training import TeacherLoss, packed_accuracy
from trainer.teacher.prior_inference import PriorInference


TOKEN_INPUTS = ("token_ids", "padding_mask", "segment_ids")
INPUT_GROUPS = ("", similarity_prior.QUERY_PREFIX, similarity_prior.ITEM_PREFIX)


def trim_padding(inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Cuts [N, L] token inputs to the longest row's length (its padding mask's sum),
    each group (the pair's, the prior's query_* and item_*) by its own mask.

    Right padding only (every preprocessor here pads on the right); a batch of empty
    rows keeps one position.

    >>> inputs = {"token_ids": tf.constant([[5, 6, 1, 1], [7, 1, 1, 1]]),
    ...           "padding_mask": tf.constant([[1, 1, 0, 0], [1, 0, 0, 0]])}
    >>> trim_padding(inputs)["token_ids"].numpy().tolist()
    [[5, 6], [7, 1]]
    """
    out = dict(inputs)
    for group in INPUT_GROUPS:
        mask = inputs.get(group + "padding_mask")
        if mask is None:
            continue
        length = tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)), 1)
        for name in TOKEN_INPUTS:
            if group + name in inputs:
                out[group + name] = inputs[group + name][:, :length]
    return out


class TeacherModel:
    """A cross-encoder network (backbone, pooling, MLP head; `heads.build_cross_encoder`),
    the preset's (query, item) preprocessor and the item text builder, with the
    probability function the serving module wraps.

    Args:
        network: functional Keras model, the backbone's token inputs -> G logits.
        preprocessor: (query strings, item strings) -> a dict holding `network`'s inputs.
        text_builder: turns the raw feature dict into (query, item) segments.
        num_grades: G.
        backbone: the keras-hub backbone inside `network` (for inspection).
        lexical_signals: a `LexicalSignals` (the pipeline's Transform graph) when the
            head reads the pair's BM25 signals.

    Example (the tiny default preset; a pretrained one is `from_preset("<name or dir>")`):

    >>> import tempfile, tensorflow as tf
    >>> from relevance import contract
    >>> from trainer.teacher.default_preset import write_default_preset
    >>> from trainer.teacher.vocabulary import train_sentencepiece
    >>> config = TeacherConfig(preset="from-scratch", hidden_dim=8, num_layers=1, num_heads=2,
    ...                        intermediate_dim=16, sequence_length=32)
    >>> proto = train_sentencepiece([("red", 3), ("shoes", 2)], vocabulary_size=300)
    >>> preset = write_default_preset(tempfile.mkdtemp(), proto, config, num_grades=5)
    >>> teacher = TeacherModel.from_preset(preset, num_grades=5, config=config)
    >>> teacher.pooling
    'first'
    >>> raw = {name: tf.constant(["red shoes"]) for name in contract.RAW_SIGNATURE_INPUTS}
    >>> teacher.predict_probabilities(raw).shape.as_list()
    [1, 5]
    """

    def __init__(self, network: keras.Model, preprocessor, text_builder: ItemTextBuilder,
                 num_grades: int, backbone=None, pooling: Optional[str] = None,
                 prior_tokenizer=None, prior_text_builder: Optional[ItemTextBuilder] = None,
                 lexical_signals: Optional[signals.LexicalSignals] = None):
        if preprocessor is None:
            raise ValueError("the teacher needs its preset's preprocessor")
        self.network = network
        self.preprocessor = preprocessor
        self.text_builder = text_builder
        self.num_grades = int(num_grades)
        self.backbone = backbone
        self.pooling = pooling
        # The similarity prior's own packing of the query and the item (no match
        # markers: the pretrained bi-encoder never saw them).
        self.prior_tokenizer = prior_tokenizer
        self.prior_text_builder = prior_text_builder
        self.lexical_signals = lexical_signals
        if (signals.INPUT_NAME in network.input) != (lexical_signals is not None):
            raise ValueError("a head that reads lexical signals needs the Transform graph "
                             "that computes them, and only such a head takes one")
        # Inference encodes each distinct text of a call once for the prior.
        self.prior_inference = None
        if prior_tokenizer is not None:
            self.prior_inference = PriorInference.from_network(network, prior_tokenizer,
                                                               prior_text_builder)

    @classmethod
    def from_preset(
        cls, preset: str, num_grades: int, config: Optional[TeacherConfig] = None,
        lexical_signals: Optional[signals.LexicalSignals] = None,
    ) -> "TeacherModel":
        """Loads the backbone of `preset` (a keras-hub name or a local preset directory)
        and its tokenizer, and puts a fresh G-class MLP head on the pooled token (and on
        `lexical_signals`, when given)."""
        config = config or TeacherConfig()
        keras.utils.set_random_seed(config.seed)
        loaded = backbones.load_backbone(preset, config)
        pooling = config.pooling
        if pooling == "auto":
            pooling = "last" if loaded.decoder else "first"
        backbones.configure_trainable(loaded.backbone, config)
        prior_backbone = prior_tokenizer = prior_text_builder = None
        if config.similarity_prior:
            if loaded.decoder:
                raise ValueError("similarity_prior needs an encoder backbone (a decoder "
                                 "was never trained as a bi-encoder)")
            # A second, frozen copy: sharing the fine-tuned backbone would let training
            # move the prior away from what pretraining taught it.
            prior_backbone = backbones.load_frozen_copy(preset, config)
            if backbones.share_token_embedding(loaded.backbone, prior_backbone):
                logging.info("similarity prior: token embedding table shared with the "
                             "pair branch (frozen in both)")
            prior_tokenizer = similarity_prior.PriorTokenizer(
                loaded.preprocessor.tokenizer, config.prior_query_length,
                loaded.preprocessor.sequence_length, config.prior_query_prefix,
                config.prior_item_prefix)
            prior_text_builder = ItemTextBuilder.from_config(config, mark_query_matches=False)
        network = heads.build_cross_encoder(
            loaded.backbone,
            num_grades,
            pooling=pooling,
            hidden_units=config.head_hidden_units,
            activation=config.head_activation,
            dropout=config.dropout,
            prior_backbone=prior_backbone,
            head_learning_rate_multiplier=config.head_learning_rate_multiplier,
            match_features=config.match_features,
            lexical_signals=lexical_signals.width if lexical_signals else 0,
        )
        return cls(network, loaded.preprocessor, ItemTextBuilder.from_config(config),
                   num_grades, backbone=loaded.backbone, pooling=pooling,
                   prior_tokenizer=prior_tokenizer, prior_text_builder=prior_text_builder,
                   lexical_signals=lexical_signals)

    @property
    def training_model(self) -> keras.Model:
        """The network over token inputs, trained on inputs tokenized once (`tokenize`)
        and cached rather than re-tokenized on every batch of every epoch."""
        return self.network

    @property
    def input_names(self) -> Tuple[str, ...]:
        """The token inputs the network reads (a subset of the preprocessor's output)."""
        return tuple(sorted(self.network.input))

    def compile(self, config: TeacherConfig, total_steps: Optional[int] = None) -> None:
        """Cross-entropy over the G grades (class k = grade k + 1), plus
        `config.listwise_weight` times the listwise term (`listwise_training`), with
        AdamW on `training_model`. With `total_steps`, the learning rate warms up linearly over
        `config.warmup_fraction` of them and then follows a cosine decay to 0. Under a
        mixed_float16 backbone the optimizer gets dynamic loss scaling."""
        learning_rate = config.learning_rate
        if total_steps:
            warmup_steps = int(round(config.warmup_fraction * total_steps))
            learning_rate = keras.optimizers.schedules.CosineDecay(
                initial_learning_rate=0.0 if warmup_steps else config.learning_rate,
                decay_steps=max(1, total_steps - warmup_steps),
                warmup_target=config.learning_rate if warmup_steps else None,
                warmup_steps=warmup_steps,
            )
        optimizer = keras.optimizers.AdamW(
            learning_rate=learning_rate,
            weight_decay=config.weight_decay,
            clipnorm=config.clipnorm,
        )
        if self.backbone is not None and self.backbone.dtype_policy.name == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        if config.listwise_weight:
            # Targets come packed with each row's query group (listwise_training).
            loss = TeacherLoss(config.listwise_weight)
            accuracy = keras.metrics.MeanMetricWrapper(packed_accuracy, name="accuracy")
        else:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.training_model.compile(optimizer=optimizer, loss=loss, metrics=[accuracy],
                                    jit_compile=config.jit_compile)

    def segments(self, raw: Dict[str, tf.Tensor]) -> Tuple[tf.Tensor, tf.Tensor]:
        """(query segment, item segment) string vectors, as the preprocessor takes them."""
        return self.text_builder(raw)

    def tokenize(self, raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """Raw feature dict -> the network's inputs: token inputs ([N, sequence_length]
        each) and, when the head takes them, the pair's match features ([N, 2]) and
        lexical signals ([N, lexical_signals.width])."""
        inputs = self._pair_inputs(raw)
        if self.prior_tokenizer is not None:
            inputs.update(self.prior_tokenizer(*self.prior_text_builder(raw)))
        return {name: inputs[name] for name in self.input_names}

    def _pair_inputs(self, raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        segments = self.segments(raw)
        inputs = dict(self.preprocessor(segments))
        if match_features.INPUT_NAME in self.input_names:
            inputs[match_features.INPUT_NAME] = match_features.match_features(*segments)
        if self.lexical_signals is not None:
            inputs[signals.INPUT_NAME] = self.lexical_signals(raw)
        if "segment_ids" in self.input_names and "segment_ids" not in inputs:
            # XLM-R-style packing has no segment ids; BERT backbones with an XLM-R
            # vocabulary (multilingual-e5) were pre-trained with token type 0 only.
            inputs["segment_ids"] = tf.zeros_like(inputs["token_ids"])
        return {name: inputs[name] for name in self.input_names if name in inputs}

    def predict_probabilities(self, raw: Dict[str, tf.Tensor]) -> tf.Tensor:
        """Raw feature dict -> grade probabilities [N, G], all in TF ops (servable).

        Inputs are cut to the longest row of the call: padding costs a transformer as
        much as text does, and callers that batch rows of similar length (the
        PseudoLabeler's length buckets) then pay only for what their rows hold. With the
        similarity prior, each distinct query and item text of the call is encoded once
        (`PriorInference`)."""
        if self.prior_inference is not None:
            logits = self.prior_inference.logits(raw, trim_padding(self._pair_inputs(raw)))
        else:
            logits = self.network(trim_padding(self.tokenize(raw)), training=False)
        return tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)

    def serving_module(self) -> export.RelevanceServingModule:
        """The module with both relevance signatures, holding the network's variables
        and the tokenizer's resources.

        It tracks the network's layers, not the compiled model: the model also holds its
        optimizer, whose AdamW slots (two per trainable weight, 43 M for e5-small) the
        export would otherwise carry."""
        return export.RelevanceServingModule(
            self.predict_probabilities,
            self.num_grades,
            trackables=list(self.network.layers) + [self.preprocessor]
            + ([self.prior_tokenizer.tokenizer] if self.prior_tokenizer else [])
            + (self.lexical_signals.trackables if self.lexical_signals else []),
        )
