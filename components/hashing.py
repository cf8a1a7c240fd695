"""Hashes that are the same in every process, for ordering and sharding that no runner changes.

Python's `hash()` is salted per process, so anything that must come out the same on every
runner, worker and re-run (shard numbers, row order, holdout splits) hashes with SHA-256.

Example:

>>> stable_hash(b"q1") == stable_hash(b"q1") and 0 <= stable_hash(b"q1") < 2**63
True
"""

import hashlib


def stable_hash(value: bytes) -> int:
    """A 63-bit hash that is the same in every process (unlike `hash()`)."""
    return int.from_bytes(hashlib.sha256(value).digest()[:8], "big") >> 1
