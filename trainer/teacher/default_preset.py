"""The default teacher preset: a small XLM-RoBERTa-style encoder trained from scratch.

No weights exist anywhere for it: the vocabulary is learned from the corpus word counts
(`vocabulary.train_sentencepiece`), the encoder is randomly initialised, and the whole
classifier is written with keras-hub's `save_to_preset`. It is then loaded back through
`Backbone.from_preset(dir)` / `TextClassifierPreprocessor.from_preset(dir)` like any real
checkpoint (`backbones.load_backbone`), so the default and a pretrained multilingual
model (e.g. "xlm_roberta_base_multi") share one code path. (The saved classifier head is
not reused: the teacher puts its own head on the backbone, `heads.build_cross_encoder`.)

Example:

>>> import tempfile
>>> from trainer.teacher.config import TeacherConfig
>>> from trainer.teacher.vocabulary import train_sentencepiece
>>> proto = train_sentencepiece([("red", 3), ("shoes", 2)], vocabulary_size=300)
>>> config = TeacherConfig(preset="from-scratch", hidden_dim=8, num_layers=1, num_heads=2, intermediate_dim=16)
>>> preset_dir = write_default_preset(tempfile.mkdtemp(), proto, config, num_grades=5)
>>> import os; sorted(os.listdir(preset_dir))[:3]
['assets', 'config.json', 'metadata.json']
"""

import keras
import keras_hub

from trainer.teacher.config import TeacherConfig


def _tie_query_key_init(backbone) -> None:
    """Starts every self-attention layer with key kernel = query kernel (biases 0).

    Attention logits then begin as q(x_i) . q(x_j), largest for equal inputs: a token
    attends to its own copies, e.g. the item's "glass" to the query's "glass". That
    matching is what a cross-encoder has to learn; on ~1000 demo rows it raised held-out
    accuracy a little (0.26 -> 0.30, one run each), it is no cure. Only the initial
    values change: the architecture and the saved preset format are keras-hub's.
    """
    for layer in backbone.layers:
        attention = getattr(layer, "_self_attention_layer", None)
        if attention is not None:
            attention._key_dense.kernel.assign(attention._query_dense.kernel)


def build_default_classifier(
    proto: bytes, config: TeacherConfig, num_grades: int
) -> keras_hub.models.XLMRobertaTextClassifier:
    """A randomly initialised XLM-RoBERTa classifier sized by `config`, with its
    tokenizer (`proto`, a SentencePiece model with XLM-R special ids) and preprocessor."""
    keras.utils.set_random_seed(config.seed)
    tokenizer = keras_hub.models.XLMRobertaTokenizer(proto=proto)
    backbone = keras_hub.models.XLMRobertaBackbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        hidden_dim=config.hidden_dim,
        intermediate_dim=config.intermediate_dim,
        dropout=config.dropout,
        max_sequence_length=config.sequence_length,
    )
    if config.tied_query_key_init:
        _tie_query_key_init(backbone)
    preprocessor = keras_hub.models.XLMRobertaTextClassifierPreprocessor(
        tokenizer, sequence_length=config.sequence_length
    )
    return keras_hub.models.XLMRobertaTextClassifier(
        backbone, num_classes=num_grades, preprocessor=preprocessor, dropout=config.dropout
    )


def write_default_preset(
    preset_dir: str, proto: bytes, config: TeacherConfig, num_grades: int
) -> str:
    """Writes the default classifier as a keras-hub preset directory; returns it."""
    build_default_classifier(proto, config, num_grades).save_to_preset(preset_dir)
    return preset_dir
