"""The teacher on other keras-hub backbones: DeBERTa-v3 and multilingual-BERT-style
encoders, Gemma and Llama decoders (one converted from a GGUF file, as smollm2-135m is),
from tiny randomly initialised local presets (no hub access), through `from_preset`, a
training step, pooling, LoRA and export. (The
XLM-RoBERTa-style default preset is covered by tests/test_teacher.py.)"""

import io
import os

import keras
import keras_hub
import numpy as np
import pytest
import sentencepiece
import tensorflow as tf

from relevance import contract
from models import export
from trainer.teacher import backbones
from trainer.teacher.config import TeacherConfig
from trainer.teacher.heads import TokenPooling
from trainer.teacher.scaled_dense import ScaledDense
from trainer.teacher.model import TeacherModel, trim_padding
from support.examples import serialized_example

NUM_GRADES = 5
SEQUENCE_LENGTH = 32
TINY = dict(sequence_length=SEQUENCE_LENGTH, batch_size=4, epochs=1, learning_rate=1e-2,
            head_hidden_units=(8,), mixed_precision="off")
WORDS = ("red running shoes garden hose rote schuhe für damen title boards description "
         "blue winter coat green nozzle trainers").split()
QUERIES = ["red shoes", "rote schuhe", "garden hose", "красные туфли"]
TITLES = ["Red running shoes", "Rote Schuhe für Damen", "Blue winter coat", "Κόκκινα"]


def _sentencepiece(pad, bos, eos, unk):
    """A tiny BPE model with byte fallback and the given special pieces at ids 0..3."""
    buffer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(WORDS * 5), model_writer=buffer, model_type="bpe",
        vocab_size=320, hard_vocab_limit=False, byte_fallback=True,
        pad_id=0, bos_id=1, eos_id=2, unk_id=3,
        pad_piece=pad, bos_piece=bos, eos_piece=eos, unk_piece=unk,
        minloglevel=2, num_threads=1)
    return buffer.getvalue()


def _wordpiece_vocabulary():
    """Special tokens, the words, and single-character pieces so unseen words split."""
    characters = sorted({c for word in WORDS + QUERIES + TITLES for c in word.lower()} - {" "})
    return (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(WORDS))
            + characters + ["##" + c for c in characters])


def _deberta():
    tokenizer = keras_hub.models.DebertaV3Tokenizer(
        proto=_sentencepiece("[PAD]", "[CLS]", "[SEP]", "[UNK]"))
    return tokenizer, keras_hub.models.DebertaV3Backbone(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=1, num_heads=2,
        hidden_dim=16, intermediate_dim=32, max_sequence_length=SEQUENCE_LENGTH,
        bucket_size=8)


def _multilingual_bert():
    # Cased, like keras-hub's bert_base_multi; the teacher lower-cases its text itself.
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=_wordpiece_vocabulary(),
                                               lowercase=False)
    return tokenizer, keras_hub.models.BertBackbone(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=1, num_heads=2,
        hidden_dim=16, intermediate_dim=32, max_sequence_length=SEQUENCE_LENGTH)


def _gemma():
    tokenizer = keras_hub.models.GemmaTokenizer(
        proto=_sentencepiece("<pad>", "<bos>", "<eos>", "<unk>"))
    return tokenizer, keras_hub.models.GemmaBackbone(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=1, num_query_heads=2,
        num_key_value_heads=1, hidden_dim=16, intermediate_dim=32, head_dim=8)


def _llama():
    tokenizer = keras_hub.models.LlamaTokenizer(
        proto=_sentencepiece("<pad>", "<s>", "</s>", "<unk>"))
    return tokenizer, keras_hub.models.LlamaBackbone(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=1, num_query_heads=2,
        num_key_value_heads=1, hidden_dim=16, intermediate_dim=32)


def _gguf_llama(directory):
    """A tiny GGUF file through the converter smollm2-135m is built with."""
    from support.gguf_test_file import write_tiny_llama_gguf
    from trainer.teacher.presets.llama_converter import convert_llama_gguf

    path = write_tiny_llama_gguf(os.path.join(directory, "tiny.gguf"))
    convert_llama_gguf(path, os.path.join(directory, "preset"))
    return os.path.join(directory, "preset")


# name -> (builder of (tokenizer, backbone), random seed, backbone class).
BACKBONES = {
    "deberta_v3": (_deberta, 1, keras_hub.models.DebertaV3Backbone),
    "multilingual_bert": (_multilingual_bert, 3, keras_hub.models.BertBackbone),
    "gemma": (_gemma, 2, keras_hub.models.GemmaBackbone),
    "llama": (_llama, 4, keras_hub.models.LlamaBackbone),
    "gguf_llama": (None, 5, keras_hub.models.Llama3Backbone),
}
# Presets written by a converter (directory -> preset directory), not by save_to_preset.
CONVERTED = {"gguf_llama": _gguf_llama}
ENCODERS = ["deberta_v3", "multilingual_bert"]
DECODERS = ["gemma", "llama", "gguf_llama"]


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    """name -> a tiny local preset directory, written on first use."""
    written = {}

    def preset(name):
        if name not in written:
            build, seed, _ = BACKBONES[name]
            keras.utils.set_random_seed(seed)
            directory = str(tmp_path_factory.mktemp(f"{name}_preset"))
            if name in CONVERTED:
                directory = CONVERTED[name](directory)
            else:
                tokenizer, backbone = build()
                backbone.save_to_preset(directory)
                tokenizer.save_to_preset(directory)
            written[name] = directory
        return written[name]

    return preset


def _raw(queries, titles):
    raw = {name: tf.constant([""] * len(titles)) for name in contract.RAW_SIGNATURE_INPUTS}
    raw.update(query=tf.constant(queries), title=tf.constant(titles))
    return raw


def _serialized_examples(titles):
    return tf.constant([serialized_example({"query": "shoes", "title": t}) for t in titles]
                       + [b""])


def _assert_probabilities(probabilities, rows):
    probabilities = np.asarray(probabilities)
    assert probabilities.shape == (rows, NUM_GRADES)
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def _train_one_step(teacher, config):
    teacher.compile(config, total_steps=1)
    features = teacher.tokenize(_raw(QUERIES, TITLES))
    labels = tf.constant([4, 3, 0, 1])
    history = teacher.training_model.fit(features, labels, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    return features


def _export_and_serve(teacher, export_dir):
    raw = _raw(["red shoes"], TITLES[:2])
    expected = teacher.predict_probabilities(export.broadcast_query(raw)).numpy()
    export.save_serving_module(teacher.serving_module(), export_dir)
    model = export.load_relevance_model(export_dir)
    served_raw = model.signatures[contract.SIGNATURE_RAW](**raw)
    served_examples = model.signatures[contract.SIGNATURE_EXAMPLES](
        examples=_serialized_examples(TITLES[:2]))
    _assert_probabilities(served_raw[contract.OUTPUT_PROBABILITIES], 2)
    _assert_probabilities(served_examples[contract.OUTPUT_PROBABILITIES], 3)
    np.testing.assert_allclose(served_raw[contract.OUTPUT_PROBABILITIES].numpy(), expected,
                               atol=1e-5)


def _teacher(presets, name, **overrides):
    preset = presets(name)
    config = TeacherConfig(preset=preset, **TINY, **overrides)
    teacher = TeacherModel.from_preset(preset, NUM_GRADES, config)
    assert isinstance(teacher.backbone, BACKBONES[name][2])
    return teacher, config


@pytest.mark.parametrize("name", ENCODERS)
def test_encoder_preset_pools_first_token_trains_and_exports(tmp_path, presets, name):
    teacher, config = _teacher(presets, name)
    assert teacher.pooling == "first"
    assert isinstance(teacher.preprocessor, keras_hub.models.TextClassifierPreprocessor)
    features = _train_one_step(teacher, config)
    # The preset's own packing: [CLS] query [SEP] item [SEP].
    cls_id = teacher.preprocessor.tokenizer.cls_token_id
    assert features["token_ids"].shape == (4, SEQUENCE_LENGTH)
    assert features["token_ids"].numpy()[:, 0].tolist() == [cls_id] * 4
    _export_and_serve(teacher, str(tmp_path / "export"))


@pytest.mark.parametrize("name", DECODERS)
def test_decoder_preset_pools_last_token_trains_and_exports(tmp_path, presets, name):
    teacher, config = _teacher(presets, name)
    assert teacher.pooling == "last"
    # Pretrained presets get the lexical match features beside the packed tokens.
    assert set(teacher.input_names) == {"token_ids", "padding_mask", "match_features"}
    features = _train_one_step(teacher, config)
    tokenizer = teacher.preprocessor.tokenizer
    token_ids = features["token_ids"].numpy()
    mask = features["padding_mask"].numpy().astype(bool)
    lengths = mask.sum(axis=1)
    # <bos> query <eos> item <eos>, right-padded: the mask is a prefix ending at <eos>.
    assert token_ids[:, 0].tolist() == [tokenizer.start_token_id] * 4
    for row, length in zip(range(4), lengths):
        assert mask[row, :length].all() and not mask[row, length:].any()
        assert token_ids[row, length - 1] == tokenizer.end_token_id
        assert (token_ids[row, length:] == tokenizer.pad_token_id).all()
    _export_and_serve(teacher, str(tmp_path / "export"))


def test_decoder_pooling_takes_the_last_non_padding_position():
    sequence = tf.reshape(tf.range(3 * 6 * 2, dtype=tf.float32), (3, 6, 2))
    mask = tf.constant([[1, 1, 1, 0, 0, 0],
                        [1, 1, 1, 1, 1, 1],
                        [0, 0, 1, 1, 0, 0]]) > 0  # right, none, and odd padding
    pooled = TokenPooling("last")(sequence, mask).numpy()
    np.testing.assert_array_equal(pooled, sequence.numpy()[[0, 1, 2], [2, 5, 3]])
    np.testing.assert_array_equal(TokenPooling("first")(sequence, mask).numpy(),
                                  sequence.numpy()[:, 0])


def test_decoder_logits_ignore_the_padding_after_the_last_token(presets):
    teacher, _ = _teacher(presets, "gemma")
    inputs = teacher.tokenize(_raw(["red shoes"], ["Red running shoes"]))
    length = int(tf.reduce_sum(tf.cast(inputs["padding_mask"], tf.int32)))
    # Other ids in the padded positions must not change the pooled (causal) token.
    noisy = dict(inputs, token_ids=tf.concat(
        [inputs["token_ids"][:, :length],
         tf.fill([1, SEQUENCE_LENGTH - length], 7)], axis=1))
    np.testing.assert_allclose(teacher.network(inputs).numpy(),
                               teacher.network(noisy).numpy(), atol=1e-5)


@pytest.mark.parametrize("name", ["gemma", "gguf_llama"])
def test_lora_on_the_decoder_trains_only_lora_factors_and_the_head(presets, name):
    teacher, config = _teacher(presets, name, lora_rank=2)
    backbone_trainable = teacher.backbone.trainable_weights
    names = sorted(w.path for w in backbone_trainable)
    # 1 layer x (query, value) x (lora_kernel_a, lora_kernel_b).
    assert len(backbone_trainable) == 4, names
    assert all("lora_kernel" in name for name in names), names
    head = [w for w in teacher.network.trainable_weights
            if not any(w is b for b in teacher.backbone.weights)]
    # head_dense_0 (kernel, bias) + logits (kernel, bias).
    assert len(head) == 4, [w.path for w in head]
    assert len(teacher.network.trainable_weights) == 8
    lora_values = [w.numpy().copy() for w in backbone_trainable]
    frozen = [w for w in teacher.backbone.weights if not w.trainable]
    frozen_values = [w.numpy().copy() for w in frozen]
    _train_one_step(teacher, config)
    # Only LoRA B starts at 0 and moves; the frozen weights do not move at all.
    assert any(not np.allclose(a, w.numpy()) for a, w in zip(lora_values, backbone_trainable))
    for before, w in zip(frozen_values, frozen):
        np.testing.assert_array_equal(before, w.numpy())


def test_mixed_precision_is_only_automatic_with_a_gpu():
    assert backbones.resolve_dtype("auto", gpu_available=False) is None
    assert backbones.resolve_dtype("auto", gpu_available=True) == "mixed_float16"
    assert backbones.resolve_dtype("on", gpu_available=False) == "mixed_bfloat16"
    assert backbones.resolve_dtype("off", gpu_available=True) is None
    with pytest.raises(ValueError):
        TeacherConfig(mixed_precision="fp8")
    with pytest.raises(ValueError):
        TeacherConfig(pooling="mean")


# Each encoder once, each embedding setting once: the two trainings and exports cover both.
@pytest.mark.parametrize("name, freeze_embeddings", [(ENCODERS[0], True), (ENCODERS[1], False)])
def test_similarity_prior_adds_the_query_and_item_passes_trains_and_exports(
        tmp_path, presets, name, freeze_embeddings):
    teacher, config = _teacher(presets, name, similarity_prior=True,
                               freeze_embeddings=freeze_embeddings)
    assert set(teacher.input_names) >= {"query_token_ids", "query_padding_mask",
                                        "item_token_ids", "item_padding_mask"}
    prior_backbone = teacher.network.get_layer("prior_backbone")
    # A frozen token table is shared by the two branches (one copy in memory and in the
    # export); a trained one is the pair branch's own.
    pair_table = teacher.backbone.token_embedding.embeddings
    assert (prior_backbone.token_embedding.embeddings is pair_table) == freeze_embeddings
    weights = teacher.network.weights
    assert len({id(w) for w in weights}) == len(weights)  # each variable listed once
    prior_before = [w.numpy().copy() for w in prior_backbone.weights]
    pair_before = [w.numpy().copy() for w in teacher.backbone.trainable_weights]
    features = _train_one_step(teacher, config)
    # The pair branch fine-tunes; the prior's copy of the backbone stays as pretrained.
    assert any(not np.allclose(a, w.numpy())
               for a, w in zip(pair_before, teacher.backbone.trainable_weights))
    for before, w in zip(prior_before, prior_backbone.weights):
        np.testing.assert_array_equal(before, w.numpy())
    assert features["query_token_ids"].shape == (4, config.prior_query_length)
    assert features["item_token_ids"].shape == (4, SEQUENCE_LENGTH)
    _export_and_serve(teacher, str(tmp_path / "export"))
    saved = tf.train.list_variables(str(tmp_path / "export" / "variables" / "variables"))
    assert not [name for name, _ in saved if "optimizer" in name]  # no AdamW slots
    saved_weights = sum(int(np.prod(shape)) for _, shape in saved)
    # The network's weights, plus two scalars: the module's num_grades and the save counter.
    assert saved_weights == sum(int(np.prod(w.shape)) for w in teacher.network.weights) + 2


def test_similarity_prior_trims_each_input_group_by_its_own_mask():
    inputs = {"token_ids": tf.constant([[5, 6, 7, 1]]), "padding_mask": tf.constant([[1, 1, 1, 0]]),
              "query_token_ids": tf.constant([[5, 1, 1, 1]]),
              "query_padding_mask": tf.constant([[1, 0, 0, 0]]),
              "item_token_ids": tf.constant([[6, 7, 1, 1]]),
              "item_padding_mask": tf.constant([[1, 1, 0, 0]])}
    trimmed = trim_padding(inputs)
    assert {name: value.shape[1] for name, value in trimmed.items()} == {
        "token_ids": 3, "padding_mask": 3, "query_token_ids": 1, "query_padding_mask": 1,
        "item_token_ids": 2, "item_padding_mask": 2}


def test_similarity_prior_is_refused_on_a_decoder(presets):
    with pytest.raises(ValueError, match="encoder"):
        _teacher(presets, "gemma", similarity_prior=True)


def test_scaled_dense_learns_scale_times_as_fast_under_adam():
    """One Adam step moves a ScaledDense's effective weights `scale` times as far as a
    plain Dense's from the same starting function."""
    inputs = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    targets = np.ones((8, 2), "float32")
    moved = {}
    for scale in (1.0, 30.0):
        layer = ScaledDense(2, scale=scale, kernel_initializer="ones")
        layer.build((None, 3))
        before = layer(inputs).numpy()
        optimizer = keras.optimizers.Adam(learning_rate=1e-3)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((layer(inputs) - targets) ** 2)
        optimizer.apply_gradients(zip(tape.gradient(loss, layer.trainable_weights),
                                      layer.trainable_weights))
        np.testing.assert_allclose(before, inputs.sum(axis=1, keepdims=True) * [[1, 1]],
                                   rtol=1e-5)  # same starting function
        moved[scale] = np.abs(layer(inputs).numpy() - before).mean()
    assert moved[30.0] == pytest.approx(30 * moved[1.0], rel=1e-3)


@pytest.mark.parametrize("multiplier", [1.0, 30.0])
def test_head_and_prior_dense_take_the_learning_rate_multiplier(presets, multiplier):
    teacher, _ = _teacher(presets, ENCODERS[0], similarity_prior=True,
                          head_learning_rate_multiplier=multiplier)
    scaled = [layer for layer in teacher.network.layers if isinstance(layer, ScaledDense)]
    assert {layer.name for layer in scaled} == {"head_dense_0", "logits", "prior_logits"}
    assert {layer.scale for layer in scaled} == {multiplier}
    # Still the zero-shot prior at the start: the head's output layer is zero.
    np.testing.assert_array_equal(teacher.network.get_layer("logits").kernel.numpy(), 0.0)


def test_match_features_reach_the_head_and_the_export(tmp_path, presets):
    teacher, config = _teacher(presets, ENCODERS[0], similarity_prior=True, match_features=True)
    assert "match_features" in teacher.input_names
    features = _train_one_step(teacher, config)
    # Query "red shoes" against "Red running shoes": both words, every in-word bigram.
    np.testing.assert_allclose(features["match_features"].numpy()[0], [1.0, 1.0])
    assert features["match_features"].shape == (4, 2)
    _export_and_serve(teacher, str(tmp_path / "export"))


@pytest.mark.parametrize("match", [False, True], ids=["pair", "pair+matches"])
def test_inference_encoding_each_distinct_text_once_equals_the_network(presets, match):
    teacher, config = _teacher(presets, ENCODERS[0], similarity_prior=True,
                               match_features=match)
    _train_one_step(teacher, config)  # the head is no longer zero: both terms count
    # Repeated queries and items, in rows of different lengths.
    queries = ["red shoes", "red shoes", "garden hose", "red shoes", "rote schuhe für damen"]
    titles = ["Red running shoes", "Blue winter coat", "Red running shoes",
              "Red running shoes", "Rote Schuhe für Damen"]
    raw = _raw(queries, titles)
    network = tf.nn.softmax(teacher.network(trim_padding(teacher.tokenize(raw)),
                                            training=False), axis=-1)
    deduplicated = teacher.predict_probabilities(raw)
    np.testing.assert_allclose(deduplicated.numpy(), network.numpy(), atol=1e-5)
    assert not np.allclose(network.numpy()[0], network.numpy()[1])  # rows differ
