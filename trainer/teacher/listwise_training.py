"""The teacher's listwise term: batches that keep a query's candidates together, and the
loss that adds an order term to the pointwise cross-entropy.

    loss_i = CE(grade_i, logits_i) + w * ListCE_i

`ListCE` (`models.listwise.graded_softmax_cross_entropy`) is the softmax cross-entropy
over each query's candidates in the batch, their scores the log-odds of the upper grades
(`models.listwise.relevance_log_odds`), the target spread by nDCG's graded gains. The
pointwise term alone asks each pair for its grade; a teacher that ranks is asked for
order within a query, which this term teaches directly (`TeacherConfig.listwise_weight`).

Targets are packed as `[B, 2]` int32 (class index, group index within the batch), so
the Keras loss and the accuracy metric see the group.

Example:

>>> import tensorflow as tf
>>> loss = TeacherLoss(listwise_weight=1.0)
>>> packed = tf.constant([[1, 0], [0, 0]])          # two candidates of one query
>>> right = tf.constant([[0.0, 2.0], [2.0, 0.0]])
>>> wrong = tf.constant([[2.0, 0.0], [0.0, 2.0]])
>>> bool(loss(packed, right) < loss(packed, wrong))
True
>>> float(packed_accuracy(packed, right).numpy().mean())
1.0
"""

from typing import Dict, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from relevance import contract
from models import export
from models.listwise import graded_softmax_cross_entropy, relevance_log_odds
from models.query_batches import grouped_batches, query_keys


def _unpack(packed):
    packed = tf.cast(tf.reshape(packed, [-1, 2]), tf.int32)
    return packed[:, 0], packed[:, 1]


@keras.saving.register_keras_serializable(package="relevance_teacher")
class TeacherLoss(keras.losses.Loss):
    """Cross-entropy over the G grades plus `listwise_weight` times the listwise term,
    on packed `[B, 2]` (class index, group) targets."""

    def __init__(self, listwise_weight: float = 0.0, name: str = "teacher_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.listwise_weight = float(listwise_weight)

    def call(self, y_true, y_pred):
        label, group = _unpack(y_true)
        logits = tf.cast(y_pred, tf.float32)
        loss = keras.losses.sparse_categorical_crossentropy(label, logits, from_logits=True)
        if self.listwise_weight:
            loss += self.listwise_weight * graded_softmax_cross_entropy(
                label + 1, relevance_log_odds(logits), group)
        return loss

    def get_config(self):
        return {**super().get_config(), "listwise_weight": self.listwise_weight}


def packed_accuracy(y_true, y_pred):
    """Per-row 1.0 where the arg-max grade is the row's, of packed targets."""
    label, _ = _unpack(y_true)
    return tf.cast(tf.equal(tf.argmax(y_pred, axis=-1, output_type=tf.int32), label), tf.float32)


def graded_records(files: Sequence[str], num_grades: int):
    """(serialized records with a grade in 1..G, their class indices) of gzip TFRecords."""
    records = [r.numpy() for r in tf.data.TFRecordDataset(list(files), compression_type="GZIP")]
    if not records:
        return [], np.zeros([0], np.int32)
    grades = tf.io.parse_example(tf.constant(records), {
        contract.GRADE: tf.io.FixedLenFeature([], tf.int64, default_value=0)})[contract.GRADE]
    grades = grades.numpy()
    keep = np.flatnonzero((grades >= 1) & (grades <= num_grades))
    return [records[i] for i in keep], (grades[keep] - 1).astype(np.int32)


def query_grouped_dataset(files: Sequence[str], teacher, batch_size: int, seed=None,
                          chunk: int = 256) -> Tuple[Optional[tf.data.Dataset], int]:
    """((token inputs, packed targets) batches of whole queries, rows), the batches
    `grouped_batches` makes, tokenized once and held in memory; each pass shuffles the
    queries anew with `seed`, none keeps them in order. (None, 0) without a graded row.
    Each batch is cut to its longest row by the caller."""
    records, labels = graded_records(files, teacher.num_grades)
    if not records:
        return None, 0
    parts = [teacher.tokenize(export.raw_features_from_examples(tf.constant(records[i:i + chunk])))
             for i in range(0, len(records), chunk)]
    table: Dict[str, tf.Tensor] = {name: tf.concat([p[name] for p in parts], axis=0)
                                   for name in parts[0]}
    labels = tf.constant(labels)

    def gather(rows, group):
        inputs = {name: tf.gather(value, rows) for name, value in table.items()}
        return inputs, tf.stack([tf.gather(labels, rows), group], axis=1)

    dataset = grouped_batches(np.arange(len(records)), query_keys(records), batch_size, seed=seed)
    return dataset.map(gather), len(records)
