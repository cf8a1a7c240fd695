"""Exact n-gram overlap between the query and the item, on hashed ids (no weights)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="relevance_student")
class NgramOverlap(keras.layers.Layer):
    """Query ids `[B, Lq]` and item ids `[B, Li]` (0 = padding) -> `[B, 1]`: the share of
    the query's ids that occur among the item's.

    On the word n-gram ids it is the share of query words and word pairs the item
    contains; on the character n-gram ids, a spelling- and inflection-tolerant match
    ("shoe" / "shoes", a typo) for words the word-vector table lacks. It has no weights:
    a learned hashed-n-gram embedding lets the student learn which queries and items are
    relevant instead of how they match, and on XQuAD-R, whose sentences come back as
    candidates for other questions, it scored 0.01 to 0.03 nDCG@10 lower than these
    fixed overlaps (bench/student_variants.py; docs/student.md).

    Cost: a `[B, Lq, Li]` comparison of int64 ids (200 candidates x 64 x 64: 0.8M).

    Example:

    >>> import numpy as np
    >>> query = np.array([[3, 5, 0, 0]])           # two query ids
    >>> items = np.array([[5, 9, 0], [0, 0, 0]])   # the first item holds one of them
    >>> [round(float(x), 2) for x in NgramOverlap()(np.repeat(query, 2, 0), items)[:, 0]]
    [0.5, 0.0]
    """

    def call(self, query_ids, item_ids):
        query_real = ops.cast(query_ids > 0, "float32")
        # Padding (0) on the item side must not match padding on the query side.
        item_ids = ops.where(item_ids > 0, item_ids, -1)
        found = ops.any(ops.equal(query_ids[:, :, None], item_ids[:, None, :]), axis=2)
        matched = ops.sum(ops.cast(found, "float32") * query_real, axis=1, keepdims=True)
        return matched / ops.maximum(ops.sum(query_real, axis=1, keepdims=True), 1.0)

    def compute_output_shape(self, query_ids_shape, item_ids_shape):
        return (query_ids_shape[0], 1)
