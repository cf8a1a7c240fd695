"""Captions cached by image content hash, persisted across runs (local path or any gfile URI).

Layout: `<cache_dir>/<namespace>/<hash[:2]>/<hash>.json`, one small file per image. A
namespace is one model setting (preset and its files, prompt, max length): a caption
made by another model or prompt is never reused. One file per image makes concurrent
writers from parallel Beam workers safe (each write is write-then-rename).

Example:

>>> import tempfile
>>> cache = CaptionCache(tempfile.mkdtemp(), namespace="tiny-test")
>>> cache.get("ab" * 32) is None
True
>>> cache.put("ab" * 32, "a red mug")
>>> cache.get("ab" * 32)
'a red mug'
"""

import hashlib
import json
import posixpath
import uuid
from typing import Optional

import tensorflow as tf

from components.hashing import directory_fingerprint


def _preset_fingerprint(preset: str) -> str:
    """SHA-256 over a local preset directory's files (names and bytes); the name otherwise."""
    if not tf.io.gfile.isdir(preset):
        return preset  # a registry preset name: its handle carries the version
    return directory_fingerprint(preset)


def cache_namespace(preset: str, prompt: str, max_length: int) -> str:
    """A short stable id of the model setting that produces captions."""
    key = json.dumps(
        {"preset": _preset_fingerprint(preset), "prompt": prompt, "max_length": int(max_length)},
        sort_keys=True,
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


class CaptionCache:
    """Caption store keyed by image content hash (see the module docstring).

    Example:

    >>> CaptionCache("gs://bucket/caption_cache", "0123abcd").root
    'gs://bucket/caption_cache/0123abcd'
    """

    def __init__(self, cache_dir: str, namespace: str):
        self.root = posixpath.join(cache_dir, namespace)

    def _path(self, image_hash: str) -> str:
        return posixpath.join(self.root, image_hash[:2], f"{image_hash}.json")

    def get(self, image_hash: str) -> Optional[str]:
        path = self._path(image_hash)
        try:
            with tf.io.gfile.GFile(path) as handle:
                return json.load(handle)["caption"]
        except tf.errors.NotFoundError:
            return None
        except (ValueError, KeyError):
            return None  # a damaged entry is recomputed and overwritten

    def put(self, image_hash: str, caption: str) -> None:
        path = self._path(image_hash)
        tf.io.gfile.makedirs(posixpath.dirname(path))
        temp_path = f"{path}.{uuid.uuid4().hex}.tmp"
        with tf.io.gfile.GFile(temp_path, "w") as handle:
            json.dump({"image_sha256": image_hash, "caption": caption}, handle)
        tf.io.gfile.rename(temp_path, path, overwrite=True)
