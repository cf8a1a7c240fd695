"""Raw feature dict (models/export.py conventions) -> the inputs the Transform graph expects.

Training and serving both go through `TransformInputAdapter`, so the models that read
the Transform graph (the student; the teacher's lexical signals) see exactly the same
features offline and online.
"""

from typing import Dict, Mapping

import tensorflow as tf

from relevance import contract
from models.export import RawFeatures


def _one_value_per_row_indices(num_rows: tf.Tensor):
    # Row i holds one value at column 0: SparseTensor indices and dense shape, built once
    # and shared by every field (all fields have one entry per candidate).
    rows = tf.range(num_rows, dtype=tf.int64)
    return tf.stack([rows, tf.zeros_like(rows)], axis=1), tf.stack([num_rows, 1])


class TransformInputAdapter:
    """Shapes a raw feature dict the way the Transform's `raw_feature_spec` declares it.

    VarLen features (SchemaGen with infer_feature_shape=False) become `SparseTensor`s
    `[N, 1]` holding each row's string. A list field stays joined by
    `contract.LIST_SEPARATOR`: the Transform graph joins a row's list entries with that
    separator anyway (`text_features.to_string_vector`), so it sees the same text, and
    splitting here only to join again was a large share of the serving cost. (Empty
    entries are the one difference, and tokenisation treats separators as whitespace.)
    FixedLen features are passed dense (`[N]`, or `[N, 1]` when the spec says shape
    [1]). Features the raw dict lacks (ids, language, grade) are left out: the
    Transform graph prunes what `preprocessing_fn` does not read.

    Example:

    >>> import tensorflow as tf
    >>> adapter = TransformInputAdapter({"title": tf.io.VarLenFeature(tf.string),
    ...                                  "board_titles": tf.io.VarLenFeature(tf.string)})
    >>> out = adapter({"title": tf.constant(["a", "b"]),
    ...                "board_titles": tf.constant(["x\\ny", ""])})
    >>> tf.sparse.to_dense(out["board_titles"]).numpy().tolist()
    [[b'x\\ny'], [b'']]
    """

    def __init__(self, raw_feature_spec: Mapping[str, object]):
        self._raw_feature_spec = dict(raw_feature_spec)

    def __call__(self, raw: RawFeatures) -> Dict[str, object]:
        inputs = {}
        sparse_layout = None
        for name in contract.RAW_SIGNATURE_INPUTS:
            spec = self._raw_feature_spec.get(name)
            if spec is None or name not in raw:
                continue
            values = tf.convert_to_tensor(raw[name], tf.string)
            if isinstance(spec, tf.io.FixedLenFeature):
                inputs[name] = tf.reshape(values, [-1] + list(spec.shape))
                continue
            if sparse_layout is None:
                sparse_layout = _one_value_per_row_indices(tf.size(values, out_type=tf.int64))
            indices, dense_shape = sparse_layout
            inputs[name] = tf.SparseTensor(indices, values, dense_shape)
        return inputs
