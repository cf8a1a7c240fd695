"""The student's embedding inputs: precomputed item and query embeddings, read from rows.

The ItemEmbedder (components/item_embedder) writes `item_embedding` and
`query_embedding` (D floats each, one space) onto every row. The student reads the item's
as a model input beside the Transform outputs, with a presence flag: a row, or a served
request, without one (or with another width) gets zeros and flag 0, and the model
answers from its other features. The query's is not a model input: it is what the
`QueryTower` is fitted to and what the `QueryEmbeddingCache` holds
(`distinct_query_embeddings`), because a request brings a query, not its embedding.

Example:

>>> import tensorflow as tf
>>> example = tf.train.Example()
>>> example.features.feature["item_embedding"].float_list.value.extend([0.6, 0.8])
>>> parsed = parse_item_embeddings(tf.constant([example.SerializeToString(), b""]), dims=2)
>>> parsed["item_embedding"].numpy().tolist(), parsed["item_embedding_present"].numpy().tolist()
([[0.6000000238418579, 0.800000011920929], [0.0, 0.0]], [[1.0], [0.0]])
"""

import collections
from typing import Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf

from relevance import contract
from trainer.student.model import ITEM_EMBEDDING, ITEM_EMBEDDING_PRESENT

# Rows read to learn the embedding width of a corpus.
WIDTH_PROBE_ROWS = 64


def item_embedding_inputs(vectors: tf.Tensor, dims: int) -> Dict[str, tf.Tensor]:
    """Model inputs from a ragged or dense `[N, ?]` float batch of item embeddings: rows
    of exactly `dims` values are present, any other row is zeros and flag 0."""
    if not isinstance(vectors, tf.RaggedTensor):
        return _dense_item_embedding_inputs(tf.convert_to_tensor(vectors, tf.float32), dims)
    present = tf.equal(vectors.row_lengths(), dims)
    dense = vectors.to_tensor(default_value=0.0, shape=[None, dims])
    return {ITEM_EMBEDDING: tf.where(present[:, None], dense, 0.0),
            ITEM_EMBEDDING_PRESENT: tf.cast(present, tf.float32)[:, None]}


def _dense_item_embedding_inputs(vectors: tf.Tensor, dims: int) -> Dict[str, tf.Tensor]:
    # The serving_embedded request: one width for the whole matrix, so one check, and
    # the matrix passed on as it is (no ragged round trip on the hot path).
    num_rows = tf.shape(vectors)[0]
    fits = tf.equal(tf.shape(vectors)[1], dims)
    return {ITEM_EMBEDDING: tf.ensure_shape(tf.cond(fits, lambda: vectors,
                                                    lambda: tf.zeros([num_rows, dims])),
                                            [None, dims]),
            ITEM_EMBEDDING_PRESENT: tf.fill([num_rows, 1], tf.cast(fits, tf.float32))}


def absent_item_embeddings(num_rows: tf.Tensor, dims: int) -> Dict[str, tf.Tensor]:
    """The inputs of rows that carry no item embedding."""
    return {ITEM_EMBEDDING: tf.zeros([num_rows, dims]),
            ITEM_EMBEDDING_PRESENT: tf.zeros([num_rows, 1])}


def parse_item_embeddings(serialized: tf.Tensor, dims: int) -> Dict[str, tf.Tensor]:
    """`item_embedding` `[N, dims]` and `item_embedding_present` `[N, 1]` of serialized
    tf.Examples."""
    parsed = tf.io.parse_example(
        serialized, {contract.ITEM_EMBEDDING: tf.io.VarLenFeature(tf.float32)})
    return item_embedding_inputs(
        tf.RaggedTensor.from_sparse(parsed[contract.ITEM_EMBEDDING]), dims)


def hide_item_embeddings(inputs: Dict[str, tf.Tensor], rate: float, seed: int = 0):
    """Training only: hides the item embedding of a random `rate` of the rows, so that
    the student also learns to answer without one."""
    if rate <= 0:
        return inputs
    keep = tf.cast(tf.random.uniform(tf.shape(inputs[ITEM_EMBEDDING_PRESENT]), seed=seed) >= rate,
                   tf.float32)
    return {**inputs, ITEM_EMBEDDING: inputs[ITEM_EMBEDDING] * keep,
            ITEM_EMBEDDING_PRESENT: inputs[ITEM_EMBEDDING_PRESENT] * keep}


def _examples(files: Sequence[str], limit: int = -1):
    dataset = tf.data.TFRecordDataset(list(files), compression_type="GZIP").take(limit)
    for record in dataset.as_numpy_iterator():
        yield tf.train.Example.FromString(record)


def embedding_width(files: Sequence[str]) -> int:
    """D of the corpus's item embeddings (0 when its first rows carry none)."""
    for example in _examples(files, WIDTH_PROBE_ROWS):
        values = example.features.feature[contract.ITEM_EMBEDDING].float_list.value
        if values:
            return len(values)
    return 0


def query_rows(files: Sequence[str], dims: int) -> Tuple[List[str], np.ndarray]:
    """(query text, its `query_embedding`) of every row that has one of width `dims`:
    the cache's candidates, repeated as often as traffic repeats them."""
    queries, vectors = [], []
    for example in _examples(files):
        feature = example.features.feature
        values = feature[contract.QUERY_EMBEDDING].float_list.value
        text = feature[contract.QUERY].bytes_list.value
        if len(values) == dims and text:
            queries.append(text[0].decode("utf-8", "replace"))
            vectors.append(np.asarray(values, "float32"))
    return queries, np.asarray(vectors, "float32").reshape(-1, dims)


def distinct_query_embeddings(queries: Sequence[str], vectors: np.ndarray):
    """One (query, embedding) per distinct query text, in first-seen order.

    >>> distinct_query_embeddings(["a", "b", "a"], np.eye(3, 2))[0]
    ['a', 'b']
    """
    first = collections.OrderedDict()
    for index, query in enumerate(queries):
        first.setdefault(query, index)
    return list(first), np.asarray(vectors)[list(first.values())]
