"""The rows of an evaluation split as the gate and the BM25 floor read them: the
tf.Examples of a split's gzip TFRecord files, each row's slicing columns, its query
grouping and its reference grade (the same as the TFMA Evaluators use).

Example:

>>> from relevance import contract
>>> row = tf.train.Example()
>>> row.features.feature[contract.LABEL_SOURCE].bytes_list.value.append(b"human")
>>> row.features.feature[contract.QUERY_ID].bytes_list.value.append(b"q1")
>>> row.features.feature[contract.REFERENCE_GRADE].int64_list.value.append(3)
>>> query_key(row), reference_grades([row])
('human/q1', [3])
"""

from typing import Dict, List, Sequence

import tensorflow as tf

from relevance import contract
from relevance.contract import FIELDS_PRESENT, REFERENCE_GRADE


def read_examples(file_patterns: Sequence[str]) -> List[tf.train.Example]:
    """Every tf.Example in the gzip TFRecord files matching the patterns."""
    files = sorted(path for pattern in file_patterns for path in tf.io.gfile.glob(pattern))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(record) for record in dataset.as_numpy_iterator()]


def _bytes(example: tf.train.Example, name: str) -> str:
    feature = example.features.feature.get(name)
    values = feature.bytes_list.value if feature is not None else []
    return values[0].decode("utf-8", "replace") if values else ""


def slice_row(example: tf.train.Example) -> Dict[str, str]:
    """The slicing columns of an eval row (`evaluation.slices.slices_of_row`)."""
    return {name: _bytes(example, name)
            for name in (contract.LANGUAGE, contract.LABEL_SOURCE, FIELDS_PRESENT)}


def query_key(example: tf.train.Example) -> str:
    """"label_source/query_id": the query grouping of nDCG, as in the TFMA metric."""
    return f"{_bytes(example, contract.LABEL_SOURCE)}/{_bytes(example, contract.QUERY_ID)}"


def reference_grades(examples: Sequence[tf.train.Example]) -> List[int]:
    """The `reference_grade` of each row; ValueError when a row has none."""
    missing = sum(not e.features.feature[REFERENCE_GRADE].int64_list.value for e in examples)
    if missing:
        raise ValueError(
            f"{missing} of {len(examples)} eval rows have no {REFERENCE_GRADE}: the eval "
            "split must come from the PseudoLabeler"
        )
    return [e.features.feature[REFERENCE_GRADE].int64_list.value[0] for e in examples]
