"""tf.Examples from plain values and TFRecord files of them, for the tests.

`make_example` takes feature name -> value: a str / bytes (one bytes value), an int
(int64), a float (float), a list or tuple of one of those (all values, empty = an empty
bytes list), a `tf.train.Feature` (e.g. `float_feature([1, 0])`), or None (feature left out).
Features are added in the mapping's order.

>>> example = make_example({"query": "red shoes", "grade": 4, "soft_label": [0.5, 0.5]})
>>> example.features.feature["grade"].int64_list.value[0]
4
"""

from typing import Iterable, Mapping

import tensorflow as tf

# The file name ExampleGen gives a split's only shard.
SPLIT_FILE = "data_tfrecord-00000-of-00001.gz"


def float_feature(values) -> tf.train.Feature:
    """A float feature even where the values are whole numbers."""
    return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))


def _feature(value) -> tf.train.Feature:
    if isinstance(value, tf.train.Feature):
        return value
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if all(isinstance(v, (str, bytes)) for v in values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(
            value=[v.encode() if isinstance(v, str) else v for v in values]))
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return float_feature(values)


def make_example(features: Mapping[str, object]) -> tf.train.Example:
    """A tf.Example with one feature per non-None entry of `features`."""
    example = tf.train.Example()
    for name, value in features.items():
        if value is not None:
            example.features.feature[name].CopyFrom(_feature(value))
    return example


def serialized_example(features: Mapping[str, object]) -> bytes:
    """`make_example(features)`, serialized."""
    return make_example(features).SerializeToString()


def write_tfrecord(path, records: Iterable[bytes], compression: str = "GZIP") -> str:
    """Writes serialized records to one TFRecord file ("GZIP" or "" for none)."""
    with tf.io.TFRecordWriter(str(path), tf.io.TFRecordOptions(compression_type=compression)) \
            as writer:
        for record in records:
            writer.write(record)
    return str(path)
