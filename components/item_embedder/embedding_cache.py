"""Encoder vectors cached by text content, persisted across runs (local path or any gfile URI).

Layout: `<cache_dir>/<namespace>/<side>/<hash[:2]>/<hash>.npy`, one small file per
distinct text and side ("query" / "item"), holding the encoder's unit vector [H] before
the PCA (the PCA is refitted per run; the encoder's output is what costs). A namespace is
one encoder setting (the preset's identity and the token budgets): a vector of another
model or budget is never reused. One file per text makes concurrent writers from parallel
Beam workers safe (each write is write-then-rename), as in the ImageCaptioner's cache.

Example:

>>> import tempfile
>>> cache = EmbeddingCache(tempfile.mkdtemp(), namespace="tiny-test")
>>> cache.get("item", "ab" * 32) is None
True
>>> cache.put("item", "ab" * 32, np.array([0.6, 0.8], np.float32))
>>> cache.get("item", "ab" * 32).tolist(), cache.get("query", "ab" * 32)
([0.6000000238418579, 0.800000011920929], None)
"""

import hashlib
import io
import json
import posixpath
import uuid
from typing import Optional

import numpy as np
import tensorflow as tf

from components.hashing import directory_fingerprint
from trainer.teacher.presets.cache import MANIFEST
from trainer.teacher.presets.registry import get_spec


def preset_fingerprint(preset: str) -> str:
    """The identity of an encoder preset: a preset this project builds by its name and
    source version (no build needed), a directory by its files (its build manifest's
    checksums when it has one), a keras-hub name by the name."""
    spec = get_spec(preset)
    if spec is not None:
        return json.dumps({"name": preset, **spec.source_info()}, sort_keys=True)
    if not tf.io.gfile.isdir(preset):
        return preset  # a keras-hub preset name: its handle carries the version
    manifest = posixpath.join(preset, MANIFEST)
    if tf.io.gfile.exists(manifest):
        with tf.io.gfile.GFile(manifest) as handle:
            files = json.load(handle).get("files", {})
        return hashlib.sha256(json.dumps(files, sort_keys=True).encode("utf-8")).hexdigest()
    return directory_fingerprint(preset)


def cache_namespace(preset: str, query_length: int, item_length: int) -> str:
    """A short stable id of the encoder setting that produces the vectors.

    >>> cache_namespace("multilingual-e5-small", 32, 128) == cache_namespace(
    ...     "multilingual-e5-small", 32, 128) != cache_namespace("multilingual-e5-small", 32, 64)
    True
    """
    key = json.dumps({"preset": preset_fingerprint(preset), "query_length": int(query_length),
                      "item_length": int(item_length)}, sort_keys=True)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


class EmbeddingCache:
    """Vector store keyed by (side, text content hash) in one namespace (see the module).

    Example:

    >>> EmbeddingCache("gs://bucket/embedding_cache", "0123abcd").root
    'gs://bucket/embedding_cache/0123abcd'
    """

    def __init__(self, cache_dir: str, namespace: str):
        self.root = posixpath.join(cache_dir, namespace)

    def _path(self, side: str, text_hash: str) -> str:
        return posixpath.join(self.root, side, text_hash[:2], f"{text_hash}.npy")

    def get(self, side: str, text_hash: str) -> Optional[np.ndarray]:
        try:
            with tf.io.gfile.GFile(self._path(side, text_hash), "rb") as handle:
                vector = np.load(io.BytesIO(handle.read()), allow_pickle=False)
        except tf.errors.NotFoundError:
            return None
        except (ValueError, OSError, EOFError):
            return None  # a damaged entry is recomputed and overwritten
        if vector.ndim != 1 or not np.all(np.isfinite(vector)):
            return None
        return vector.astype(np.float32)

    def put(self, side: str, text_hash: str, vector: np.ndarray) -> None:
        path = self._path(side, text_hash)
        tf.io.gfile.makedirs(posixpath.dirname(path))
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(vector, np.float32), allow_pickle=False)
        temp_path = f"{path}.{uuid.uuid4().hex}.tmp"
        with tf.io.gfile.GFile(temp_path, "wb") as handle:
            handle.write(buffer.getvalue())
        tf.io.gfile.rename(temp_path, path, overwrite=True)
