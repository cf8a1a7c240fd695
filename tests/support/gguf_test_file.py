"""Tiny random Llama GGUF files, written the way llama.cpp's converter writes them, for
the tests and docstrings of the GGUF converter (no real model needed).

`tiny_llama_weights(seed)` gives Hugging-Face-layout weights (already rounded through
their GGUF quantization, so a reader must return them exactly);
`write_tiny_llama_gguf(path, weights)` writes them with a byte-level BPE vocabulary
(SmolLM2's special tokens first, the 256 byte symbols, a few merges), permuting the
query / key rows for llama.cpp's rotary layout.

>>> import os, tempfile
>>> path = write_tiny_llama_gguf(os.path.join(tempfile.mkdtemp(), "tiny.gguf"))
>>> os.path.getsize(path) > 10_000
True
"""

from typing import Dict, List, Optional

import numpy as np

from trainer.teacher.presets.gguf_file import permute_rotary

TINY = dict(hidden_dim=32, num_layers=1, num_query_heads=4, num_key_value_heads=2,
            intermediate_dim=64, rope_max_wavelength=10000.0, layer_norm_epsilon=1e-5,
            context_length=64)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = ["Ġ t", "h e", "Ġt he", "Ġ a", "i n", "Ġ c", "a t", "Ġc at"]


def _byte_symbols() -> List[str]:
    """GPT-2's printable stand-ins for the 256 bytes, in byte order."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    symbols, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            symbols[byte] = chr(byte)
        else:
            symbols[byte] = chr(256 + extra)
            extra += 1
    return [symbols[b] for b in range(256)]


def tiny_vocabulary() -> List[str]:
    return SPECIAL_TOKENS + _byte_symbols() + [m.replace(" ", "") for m in MERGES]


def _quantized(values: np.ndarray, kind) -> np.ndarray:
    import gguf

    return gguf.quants.dequantize(gguf.quants.quantize(values, kind), kind)


def tiny_llama_weights(seed: int = 0) -> Dict[str, np.ndarray]:
    """Random Hugging-Face-layout weights of the TINY architecture (tied embeddings)."""
    import gguf

    rng = np.random.default_rng(seed)
    hidden, ffn = TINY["hidden_dim"], TINY["intermediate_dim"]
    head_dim = hidden // TINY["num_query_heads"]
    kv = TINY["num_key_value_heads"] * head_dim

    def dense(rows, cols):
        return rng.normal(0, 0.2, size=(rows, cols)).astype(np.float32)

    weights = {"model.embed_tokens.weight": _quantized(
        dense(len(tiny_vocabulary()), hidden), gguf.GGMLQuantizationType.Q8_0),
        "model.norm.weight": (1 + rng.normal(0, 0.1, hidden)).astype(np.float32)}
    for i in range(TINY["num_layers"]):
        block = f"model.layers.{i}."
        weights.update({
            block + "input_layernorm.weight": (1 + rng.normal(0, 0.1, hidden)).astype(np.float32),
            block + "post_attention_layernorm.weight": (1 + rng.normal(0, 0.1, hidden)).astype(np.float32),
            block + "self_attn.q_proj.weight": _quantized(dense(hidden, hidden),
                                                          gguf.GGMLQuantizationType.Q4_1),
            block + "self_attn.k_proj.weight": dense(kv, hidden),
            block + "self_attn.v_proj.weight": dense(kv, hidden),
            block + "self_attn.o_proj.weight": dense(hidden, hidden),
            block + "mlp.gate_proj.weight": dense(ffn, hidden),
            block + "mlp.up_proj.weight": dense(ffn, hidden),
            block + "mlp.down_proj.weight": dense(hidden, ffn),
        })
    return weights


def _gguf_name(name: str) -> str:
    from trainer.teacher.presets.gguf_file import BLOCK_TENSORS, GLOBAL_TENSORS

    parts = name.split(".")
    if parts[1] == "layers":
        block = ".".join(parts[3:-1])
        short = next(k for k, v in BLOCK_TENSORS.items() if v == block)
        return f"blk.{parts[2]}.{short}.{parts[-1]}"
    base = ".".join(parts[:-1])
    return next(k for k, v in GLOBAL_TENSORS.items() if v == base) + "." + parts[-1]


def write_tiny_llama_gguf(path: str, weights: Optional[Dict[str, np.ndarray]] = None) -> str:
    """Writes `weights` (default `tiny_llama_weights()`) as a llama.cpp GGUF file."""
    import gguf

    weights = weights if weights is not None else tiny_llama_weights()
    tokens = tiny_vocabulary()
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("tiny-llama")
    writer.add_block_count(TINY["num_layers"])
    writer.add_context_length(TINY["context_length"])
    writer.add_embedding_length(TINY["hidden_dim"])
    writer.add_feed_forward_length(TINY["intermediate_dim"])
    writer.add_head_count(TINY["num_query_heads"])
    writer.add_head_count_kv(TINY["num_key_value_heads"])
    writer.add_rope_freq_base(TINY["rope_max_wavelength"])
    writer.add_layer_norm_rms_eps(TINY["layer_norm_epsilon"])
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types([3] * len(SPECIAL_TOKENS) + [1] * (len(tokens) - len(SPECIAL_TOKENS)))
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(2)
    for name, values in weights.items():
        if name.endswith("q_proj.weight"):
            values = permute_rotary(values, TINY["num_query_heads"])
        elif name.endswith("k_proj.weight"):
            values = permute_rotary(values, TINY["num_key_value_heads"])
        kind = (gguf.GGMLQuantizationType.Q8_0 if name == "model.embed_tokens.weight"
                else gguf.GGMLQuantizationType.Q4_1 if name.endswith("q_proj.weight")
                else None)
        if kind is None:
            writer.add_tensor(_gguf_name(name), np.ascontiguousarray(values, dtype=np.float32))
        else:
            writer.add_tensor(_gguf_name(name), gguf.quants.quantize(values, kind),
                              raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
