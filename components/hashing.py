"""Hashes that are the same in every process, for ordering and sharding that no runner changes.

Python's `hash()` is salted per process, so anything that must come out the same on every
runner, worker and re-run (shard numbers, row order, holdout splits, cache keys) hashes
with SHA-256.

Example:

>>> stable_hash(b"q1") == stable_hash(b"q1") and 0 <= stable_hash(b"q1") < 2**63
True
>>> content_digest("red mug".encode("utf-8"))[:12]
'028a54da21c1'
"""

import hashlib
import posixpath

_HASH_CHUNK = 16 * 1024 * 1024


def stable_hash(value: bytes) -> int:
    """A 63-bit hash that is the same in every process (unlike `hash()`)."""
    return int.from_bytes(hashlib.sha256(value).digest()[:8], "big") >> 1


def content_digest(data: bytes) -> str:
    """The SHA-256 of `data` in hex: the content key of an image or a text in a cache."""
    return hashlib.sha256(data).hexdigest()


def directory_fingerprint(directory: str) -> str:
    """SHA-256 over a directory's files (relative names and bytes; local or any gfile
    URI): a model directory's identity, for caches of what it computes."""
    import tensorflow as tf

    digest = hashlib.sha256()
    for parent, _, files in sorted(tf.io.gfile.walk(directory)):
        for name in sorted(files):
            path = posixpath.join(parent, name)
            digest.update(posixpath.relpath(path, directory).encode("utf-8") + b"\0")
            with tf.io.gfile.GFile(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
                    digest.update(chunk)
    return digest.hexdigest()
