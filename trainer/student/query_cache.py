"""Exact-match cache of precomputed query embeddings, inside the student's SavedModel.

Search traffic repeats itself: Pinterest reports about 85% of queries hitting its query
embedding cache. The student keeps the encoder's own embedding (`query_embedding`, as
the ItemEmbedder wrote it) of its corpus's most frequent queries in a hash table keyed
by the normalised query text (lower case, single spaces); a request whose query is in
it gets that embedding, any other gets the `QueryTower`'s estimate. Core TF ops only
(`tf.lookup.StaticHashTable`); at the default 10,000 queries of 128 floats it adds 5 MB.

Example:

>>> import numpy as np
>>> cache = QueryEmbeddingCache(["Red Shoes"], np.array([[0.5, 0.25]], "float32"))
>>> vectors, hit = cache.lookup(tf.constant(["red  shoes", "blue hat"]))
>>> vectors.numpy().round(2).tolist(), hit.numpy().tolist()
([[0.5, 0.25], [0.0, 0.0]], [True, False])
"""

import collections
from typing import Iterable, List, Sequence, Tuple

import numpy as np
import tensorflow as tf

from trainer.teacher.item_text import normalize_whitespace


def normalize_query(queries: tf.Tensor) -> tf.Tensor:
    """The cache key of each query: lower case, runs of whitespace as one space, trimmed."""
    queries = tf.strings.unicode_transcode(queries, "UTF-8", "UTF-8", errors="replace")
    return normalize_whitespace(tf.strings.lower(queries, encoding="utf-8"))


class QueryEmbeddingCache(tf.Module):
    """Normalised query text -> its precomputed embedding (`lookup`)."""

    def __init__(self, queries: Sequence[str], vectors: np.ndarray, name=None):
        super().__init__(name=name)
        vectors = np.asarray(vectors, "float32")
        if len(queries) != len(vectors):
            raise ValueError(f"{len(queries)} queries but {len(vectors)} embeddings")
        # Queries that differ only in case or spacing share a key: the first one wins.
        keys, rows, seen = [], [], set()
        for row, key in enumerate(normalize_query(tf.constant(list(queries) or [""])).numpy()):
            if key not in seen:
                seen.add(key)
                keys.append(key)
                rows.append(row)
        vectors = vectors[rows] if len(queries) else vectors
        self.size, self.dims = len(vectors), int(vectors.shape[1])
        values = tf.range(len(keys), dtype=tf.int64) if self.size else tf.constant([-1], tf.int64)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.string), values),
            default_value=-1)
        # Row `size` stays zeros: what a miss gathers before the tower replaces it.
        self.vectors = tf.Variable(np.concatenate([vectors, np.zeros((1, self.dims), "float32")]),
                                   trainable=False, name="query_embeddings")

    def lookup(self, queries: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
        """(embeddings `[N, dims]`, zeros on a miss; hit `[N]` bool) of `queries` `[N]`."""
        rows = self.table.lookup(normalize_query(queries))
        hit = rows >= 0
        return tf.gather(self.vectors, tf.where(hit, rows, self.size)), hit


def most_frequent_queries(queries: Iterable[str], vectors: Iterable[np.ndarray],
                          size: int) -> Tuple[List[str], np.ndarray]:
    """The `size` most frequent queries (by rows; ties by text) and each one's embedding.

    >>> most_frequent_queries(["a", "b", "b"], [np.zeros(2), np.ones(2), np.ones(2)], 1)
    (['b'], array([[1., 1.]], dtype=float32))
    """
    counts, first_vector = collections.Counter(), {}
    for query, vector in zip(queries, vectors):
        counts[query] += 1
        first_vector.setdefault(query, vector)
    chosen = sorted(counts, key=lambda query: (-counts[query], query))[:max(size, 0)]
    if not chosen:
        return [], np.zeros((0, len(next(iter(first_vector.values()), []))), "float32")
    return chosen, np.stack([first_vector[query] for query in chosen]).astype("float32")
