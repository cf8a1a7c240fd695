"""Stable hashes, ranking keys and cap budgets for pseudo-label selection.

Everything here is pure Python so selection gives the same answer on every runner,
worker and Python process: Python's `hash()` is salted per process, so stable ids come
from SHA-256 instead (`components.hashing.stable_hash`).

Example:

>>> key = pair_key(b"q1", b"item9")
>>> stable_hash(key) == stable_hash(b"q1\\x1fitem9")
True
>>> rank_key(0.9, key, b"x") < rank_key(0.5, key, b"x")  # higher confidence first
True
>>> confidence_bucket(1.0), confidence_bucket(0.0)
(99999, 0)
"""

import math
from typing import Dict, Mapping, Optional, Tuple

from components.hashing import stable_hash

# Separates query_id and item_id in a pair key; ids never contain control characters.
_PAIR_SEPARATOR = b"\x1f"

# Resolution of the confidence histogram used by the volume cap; only the rows of one
# bucket (the one the budget ends in) are ever held in memory together.
NUM_CONFIDENCE_BUCKETS = 100_000

RankKey = Tuple[float, int, int]


def pair_key(query_id: bytes, item_id: bytes) -> bytes:
    """The identity of a (query, item) pair."""
    return query_id + _PAIR_SEPARATOR + item_id


def rank_key(confidence: float, pair: bytes, serialized: bytes) -> RankKey:
    """Sort key, smaller is better: confidence desc, then pair hash, then content hash.

    The content hash only separates exact duplicates of a pair, so the order is total
    and never depends on arrival order.
    """
    return (-float(confidence), stable_hash(pair), stable_hash(serialized))


def confidence_bucket(confidence: float) -> int:
    """Histogram bucket of a confidence in [0, 1]; monotone in confidence."""
    bucket = int(math.floor(float(confidence) * NUM_CONFIDENCE_BUCKETS))
    return min(max(bucket, 0), NUM_CONFIDENCE_BUCKETS - 1)


def volume_budget(max_volume_multiple: float, human_train: int) -> Optional[int]:
    """How many pseudo-labels the volume cap allows; None means no cap."""
    if max_volume_multiple <= 0:
        return None
    return int(math.floor(max_volume_multiple * human_train))


def group_budgets(
    total_budget: Optional[int],
    candidates_per_group: Mapping[str, int],
    balance_groups: bool,
) -> Dict[str, Optional[int]]:
    """Per-group budgets for the volume cap.

    Without balancing there is one group ("") holding the whole budget. With balancing
    every language gets the same share: budget // #languages, or, with no volume cap,
    as many as the smallest language has.

    >>> group_budgets(10, {"en": 50, "de": 3}, balance_groups=True)
    {'de': 5, 'en': 5}
    >>> group_budgets(None, {"en": 50, "de": 3}, balance_groups=True)
    {'de': 3, 'en': 3}
    >>> group_budgets(10, {"": 50}, balance_groups=False)
    {'': 10}
    """
    groups = sorted(candidates_per_group)
    if not balance_groups:
        return {group: total_budget for group in groups}
    if not groups:
        return {}
    if total_budget is None:
        share = min(candidates_per_group.values())
    else:
        share = total_budget // len(groups)
    return {group: share for group in groups}


def boundary_bucket(
    bucket_counts: Mapping[int, int], budget: Optional[int]
) -> Optional[Tuple[int, int]]:
    """Where a budget runs out in a confidence histogram.

    Returns (bucket, slots): rows in higher buckets are kept, rows in lower buckets are
    dropped, and the best `slots` rows of `bucket` are kept. None means keep everything.

    >>> boundary_bucket({9: 2, 5: 3, 1: 4}, budget=4)
    (5, 2)
    >>> boundary_bucket({9: 2}, budget=4) is None
    True
    """
    if budget is None:
        return None
    taken = 0
    for bucket in sorted(bucket_counts, reverse=True):
        count = bucket_counts[bucket]
        if taken + count > budget:
            return bucket, budget - taken
        taken += count
    return None
