"""Training batches that keep each query's candidates together.

The order terms of `DistillationLoss` (`models.listwise`) compare a row with the
other candidates of its query in the same batch; a shuffle buffer spreads a query's
rows over many batches, so almost every row would be alone. Here rows are grouped by
query, the groups shuffled (a new order every pass, from the seed), and whole groups
packed into batches of at most `batch_size` rows. A query with more candidates than a
batch holds is cut into batch-sized chunks: the only case where a query spans batches.
Each batch comes with the index of its rows' group, what `pack_targets` takes.

The rows are held in memory (the serialized records, or row indices into arrays held
elsewhere): fine for the corpora measured here (tens of thousands of rows), not for a
corpus larger than the trainer's memory.
"""

import itertools
from typing import Hashable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from relevance import contract


def group_rows(keys: Sequence[Hashable]) -> List[np.ndarray]:
    """Row indices of each distinct key, groups in the order keys first appear.

    >>> [group.tolist() for group in group_rows(["b", "a", "b", "c"])]
    [[0, 2], [1], [3]]
    """
    groups = {}
    for row, key in enumerate(keys):
        groups.setdefault(key, []).append(row)
    return [np.array(rows, np.int64) for rows in groups.values()]


def pack_query_batches(
    groups: Sequence[np.ndarray], batch_size: int, rng: Optional[np.random.Generator] = None
) -> List[Tuple[np.ndarray, np.ndarray]]:
    """One pass: (row indices, group index within the batch) per batch.

    Groups go in the given order, or shuffled by `rng`; a batch is closed when the next
    group would not fit.

    >>> for rows, group in pack_query_batches([np.array([0, 1]), np.array([2]),
    ...                                         np.array([3, 4, 5])], batch_size=3):
    ...     print(rows.tolist(), group.tolist())
    [0, 1, 2] [0, 0, 1]
    [3, 4, 5] [0, 0, 0]
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = rng.permutation(len(groups)) if rng is not None else range(len(groups))
    chunks = (
        groups[index][start:start + batch_size]
        for index in order
        for start in range(0, len(groups[index]), batch_size)
    )
    batches, rows, group_of_row, filled = [], [], [], 0
    for chunk in chunks:
        if filled + len(chunk) > batch_size:
            batches.append((np.concatenate(rows), np.concatenate(group_of_row)))
            rows, group_of_row, filled = [], [], 0
        # The chunk's group index is the number of chunks already in the batch.
        group_of_row.append(np.full(len(chunk), len(rows), np.int32))
        rows.append(chunk)
        filled += len(chunk)
    if rows:
        batches.append((np.concatenate(rows), np.concatenate(group_of_row)))
    return batches


def grouped_batches(
    records: np.ndarray,
    keys: Sequence[Hashable],
    batch_size: int,
    seed: Optional[int] = None,
    repeat: bool = False,
) -> tf.data.Dataset:
    """(records `[b]`, group index `[b]`) batches, a query's rows together.

    `records` is any array with one entry per row (serialized tf.Examples, row
    indices); `keys` the row's query. With `seed`, each pass shuffles the groups anew;
    without, every pass keeps the groups in first-seen order (evaluation).
    """
    if not isinstance(records, np.ndarray):
        # dtype object: a bytes dtype would strip a record's trailing zero bytes.
        records = np.array(records, dtype=object)
    if len(records) != len(keys):
        raise ValueError(f"{len(records)} records but {len(keys)} keys")
    groups = group_rows(keys)
    passes = itertools.count()

    def generate() -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        # Keras calls this again for every epoch of a finite dataset: the next pass.
        while True:
            rng = None if seed is None else np.random.default_rng([seed, next(passes)])
            for rows, group in pack_query_batches(groups, batch_size, rng):
                yield records[rows], group
            if not repeat:
                return

    dtype = tf.string if records.dtype.kind in "OSU" else tf.as_dtype(records.dtype)
    return tf.data.Dataset.from_generator(generate, output_signature=(
        tf.TensorSpec([None], dtype), tf.TensorSpec([None], tf.int32)))


def query_keys(serialized: Sequence[bytes], chunk: int = 4096) -> List[bytes]:
    """Each record's query id, or its query text when the id is empty.

    ExampleGen fills an empty `query_id` from the query; records written by hand (tests,
    benches) may leave it empty, and the query text groups them the same way.
    """
    spec = {name: tf.io.FixedLenFeature([], tf.string, default_value="")
            for name in (contract.QUERY_ID, contract.QUERY)}
    keys = []
    for start in range(0, len(serialized), chunk):
        parsed = tf.io.parse_example(tf.constant(serialized[start:start + chunk]), spec)
        keys += [query_id or query for query_id, query in zip(
            parsed[contract.QUERY_ID].numpy().tolist(), parsed[contract.QUERY].numpy().tolist())]
    return keys
