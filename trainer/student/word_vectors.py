"""Multilingual word vectors distilled from the teacher's pretrained encoder.

The student sees text through hashed n-grams learned from its own training rows, which
carry no meaning across languages: "dog", "perro", "Hund" and "狗" are unrelated ids.
The pretrained encoder (multilingual-e5) maps them close together. Running it per
candidate would cost the teacher's price; running it once per *word of the corpus
vocabulary* and storing the result as an embedding table costs one lookup per word at
serving time.

For each word `w` of Transform's `corpus_word_counts` vocabulary (query and item text
over the train and unlabeled splits, every language, most frequent first, capped by
`text_features.CORPUS_WORD_COUNTS_TOP_K`):

    v(w) = mean over the word's own tokens of encoder(w)   (start/end left out; 384-d)
    V    = [v(w_1); ...; v(w_n)] - mean           (centred: removes the direction
                                                     every e5 output shares)
    W    = normalize_rows(V @ P_d)                 (P_d: the top-d principal axes)

and row i + 1 of the student's table is W[i] (row 0: padding and unknown words, zeros).
The frozen table is stored in int8 (`WordVectorTable`): at d = 128 and the 200k-word
cap, 25.6 MB (`table_megabytes`; 102 MB if trained, in float32).

Computing them takes one encoder pass per word (about 1–2 ms on 2 cores): seconds for a
demo, minutes for 200k words. They are cached (`WordVectorCache`) by the vocabulary's
content, the preset and d, so every student trained on the same Transform output
reuses them.

Example (a tiny random encoder; shapes only):

>>> import tempfile
>>> from trainer.teacher.config import TeacherConfig
>>> from trainer.teacher.default_preset import write_default_preset
>>> from trainer.teacher.vocabulary import train_sentencepiece
>>> config = TeacherConfig(preset="from-scratch", hidden_dim=8, num_layers=1,
...                        num_heads=2, intermediate_dim=16, sequence_length=16)
>>> proto = train_sentencepiece([("red", 3), ("shoes", 2)], vocabulary_size=300)
>>> preset = write_default_preset(tempfile.mkdtemp(), proto, config, num_grades=5)
>>> vectors = distill_word_vectors(["red", "shoes", "rojo"], preset, dims=2)
>>> vectors.shape, vectors.dtype
((3, 2), dtype('float32'))
"""

import logging
import math
import time
from typing import Callable, List, Optional, Sequence

import numpy as np

log = logging.getLogger(__name__)

# Tokens per word, start/end included: longer words are cut.
MAX_WORD_TOKENS = 16
DEFAULT_BATCH_SIZE = 256


def table_megabytes(num_words: int, dims: int, trainable: bool = False) -> float:
    """Size of the student's word-vector table (one padding row included), in MB: int8
    when frozen, float32 when trainable.

    >>> round(table_megabytes(200_000, 128), 1), round(table_megabytes(200_000, 128, True), 1)
    (25.6, 102.4)
    """
    return (num_words + 1) * dims * (4 if trainable else 1) / 1e6


def principal_axes(vectors: np.ndarray, dims: int) -> np.ndarray:
    """Centres `vectors` [n, h] and projects them on their top-`dims` principal axes;
    rows are L2-normalised (so that mean pooling weighs every word alike). `dims` above
    min(n, h) is an error: the table would have dead columns.

    >>> rng = np.random.default_rng(0)
    >>> reduced = principal_axes(rng.normal(size=(50, 8)), 3)
    >>> reduced.shape, bool(np.allclose(np.linalg.norm(reduced, axis=1), 1.0))
    ((50, 3), True)
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    if dims > min(vectors.shape):
        raise ValueError(f"{dims} word-vector dimensions need at least {dims} words and "
                         f"encoder dimensions; have {vectors.shape[0]} words of "
                         f"{vectors.shape[1]} dimensions")
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    # Eigenvectors of the h x h covariance: cheap for any number of words.
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    axes = eigenvectors[:, np.argsort(eigenvalues)[::-1][:dims]]
    reduced = centred @ axes
    norms = np.maximum(np.linalg.norm(reduced, axis=1, keepdims=True), 1e-12)
    return (reduced / norms).astype(np.float32)


def _load_encoder(preset: str):
    import keras_hub

    backbone = keras_hub.models.Backbone.from_preset(preset)
    tokenizer = keras_hub.models.Tokenizer.from_preset(preset)
    return backbone, tokenizer


def _token_lists(tokenizer, texts: Sequence[str]) -> List[List[int]]:
    import tensorflow as tf

    tokenized = tokenizer(tf.constant(list(texts)))
    if hasattr(tokenized, "to_list"):
        tokenized = tokenized.to_list()
    return [list(tokens) for tokens in tokenized]


def encode_words(words: Sequence[str], preset: str, batch_size: int = DEFAULT_BATCH_SIZE,
                 progress: Optional[Callable[[str], None]] = None, encoder=None,
                 prefix: str = "", own_tokens_only: bool = True) -> np.ndarray:
    """[n, hidden] float32: each word's mean-pooled encoder output (before PCA).

    `prefix + word` is encoded and pooled over the word's own tokens (or, with
    `own_tokens_only=False`, over all of them, start/end and prefix included: e5's own
    pooling). The defaults, no prefix and own tokens, measured best on translation
    retrieval (bench/word_vector_recipe.py, docs/student.md). `encoder`: an already
    loaded `(backbone, tokenizer)` of `preset`.

    Words are sorted by token count and batched with their like, each batch cut to its
    longest row, so short words cost short sequences.
    """
    import tensorflow as tf

    from trainer.teacher.heads import sequence_output
    from trainer.teacher.similarity_prior import special_token_ids

    backbone, tokenizer = encoder or _load_encoder(preset)
    start, end, pad = special_token_ids(tokenizer)
    prefix_length = len(_token_lists(tokenizer, [prefix.strip()])[0]) if prefix else 0
    tokenized = _token_lists(tokenizer, [prefix + word for word in words])
    pieces = [p[: MAX_WORD_TOKENS - 2] for p in tokenized]
    order = np.argsort([len(p) for p in pieces], kind="stable")
    takes_segments = "segment_ids" in backbone.input

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)] * 3,
                 reduce_retracing=True)
    def pooled(token_ids, padding_mask, word_mask):  # word_mask: the positions pooled
        inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
        if takes_segments:
            inputs["segment_ids"] = tf.zeros_like(token_ids)
        sequence = tf.cast(sequence_output(backbone, inputs, training=False), tf.float32)
        weights = tf.cast(word_mask, tf.float32)[..., None]
        return tf.reduce_sum(sequence * weights, axis=1) / tf.maximum(
            tf.reduce_sum(weights, axis=1), 1.0)

    output = np.zeros((len(words), backbone.hidden_dim), np.float32)
    started, last_report = time.time(), time.time()
    num_batches = math.ceil(len(words) / batch_size)
    for batch_index in range(num_batches):
        rows = order[batch_index * batch_size:(batch_index + 1) * batch_size]
        sequences = [[start, *pieces[row], end] for row in rows]
        width = max(len(s) for s in sequences)
        token_ids = np.full((len(rows), width), pad, np.int32)
        padding_mask = np.zeros((len(rows), width), np.int32)
        word_mask = np.zeros((len(rows), width), np.int32)
        for i, sequence in enumerate(sequences):
            token_ids[i, : len(sequence)] = sequence
            padding_mask[i, : len(sequence)] = 1
            pooled_from = 1 + prefix_length if own_tokens_only else 0
            pooled_to = len(sequence) - 1 if own_tokens_only else len(sequence)
            word_mask[i, pooled_from:pooled_to] = 1
        output[rows] = pooled(*(tf.constant(a) for a in (token_ids, padding_mask, word_mask))).numpy()
        if progress and (time.time() - last_report > 30 or batch_index == num_batches - 1):
            last_report = time.time()
            done = min(len(words), (batch_index + 1) * batch_size)
            progress(f"word vectors: {done:,}/{len(words):,} words encoded "
                     f"({done / max(time.time() - started, 1e-9):,.0f} words/s)")
    return output


def distill_word_vectors(words: Sequence[str], preset: str, dims: int,
                         batch_size: int = DEFAULT_BATCH_SIZE,
                         progress: Optional[Callable[[str], None]] = None) -> np.ndarray:
    """[len(words), dims] float32 unit rows: the encoder's word vectors, PCA-reduced.

    A vocabulary of fewer than `dims` words (or an encoder narrower than `dims`) gets
    as many dimensions as it has, with a message: a tiny corpus still trains a student.
    """
    if not words:
        raise ValueError("no words to distil word vectors for: the corpus vocabulary is empty")
    encoded = encode_words(words, preset, batch_size, progress)
    usable = min(int(dims), *encoded.shape)
    if usable < dims:
        (progress or log.info)(f"word vectors: {usable} dimensions instead of {dims} "
                               f"({encoded.shape[0]} words of {encoded.shape[1]} dimensions)")
    return principal_axes(encoded, usable)


def vocabulary_words(vocabulary_path: str) -> List[str]:
    """The words of a Transform frequency vocabulary ("<count> <word>" lines), in line
    order: line i is the word whose Transform id is i + 1."""
    import tensorflow as tf

    words = []
    with tf.io.gfile.GFile(vocabulary_path, "rb") as lines:
        for raw_line in lines:
            _, _, word = raw_line.decode("utf-8", errors="replace").rstrip("\r\n").partition(" ")
            words.append(word)
    return words


# Bump when the recipe above changes: cached tables of the old recipe are then rebuilt.
RECIPE_VERSION = 1
VECTORS_FILE = "vectors.npy"


def cache_key(vocabulary_path: str, preset: str, dims: int) -> str:
    """The cache entry of the word vectors of (vocabulary content, preset, dims, recipe)."""
    import hashlib
    import json

    import tensorflow as tf

    digest = hashlib.sha256(json.dumps([RECIPE_VERSION, preset, int(dims)]).encode())
    with tf.io.gfile.GFile(vocabulary_path, "rb") as vocabulary:
        digest.update(vocabulary.read())
    return f"word-vectors-{digest.hexdigest()[:24]}"


def cached_word_vectors(vocabulary_path: str, preset: str, dims: int, cache_dir: str,
                        preset_cache_dir: Optional[str] = None,
                        progress: Optional[Callable[[str], None]] = None) -> np.ndarray:
    """`distill_word_vectors` for the words of `vocabulary_path`, built once per
    `cache_key` into `cache_dir` and read from there after.

    `preset` is a preset name this project builds (built into `preset_cache_dir` if
    missing), a keras-hub preset directory or name. The cache entries are verified like
    presets (`trainer.teacher.presets.cache.PresetCache`): an interrupted build is
    never read.
    """
    import os

    from trainer.teacher.presets.cache import PresetCache
    from trainer.teacher.presets.registry import resolve_preset

    progress = progress or log.info

    def build(directory: str) -> None:
        words = vocabulary_words(vocabulary_path)
        progress(f"word vectors: distilling {len(words):,} words from {preset} "
                 f"into {dims} dimensions ({table_megabytes(len(words), dims):.1f} MB "
                 "frozen)")
        source = resolve_preset(preset, cache_dir=preset_cache_dir, progress=progress)
        vectors = distill_word_vectors(words, source, dims, progress=progress)
        np.save(os.path.join(directory, VECTORS_FILE), vectors)

    cache = PresetCache(cache_dir, progress=progress)
    directory = cache.get(cache_key(vocabulary_path, preset, dims), build,
                          info={"word_vectors_of": preset, "dims": int(dims),
                                "recipe": RECIPE_VERSION})
    return np.load(os.path.join(directory, VECTORS_FILE))
