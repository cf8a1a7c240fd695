"""The lexical floor in the pipeline: BM25 fitted on the train split, scored on eval.

`evaluation.baseline` is fitted on the rows of the student's train split (every row feeds
the corpus statistics; the human-graded ones fit the score -> grade mapping) and scored
on the eval split, with the same labels (`reference_grade`), query grouping and slices
as the TFMA Evaluators, so its figures sit in the same table as the models'.

Example:

    train = read_examples(["/pseudo_labeled/Split-train/*"])
    evaluation = read_examples(["/pseudo_labeled/Split-eval/*"])
    evaluate_bm25(train, evaluation, num_grades=5)["label_source=human"]["ndcg@10"]
"""

from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from relevance.contract import FIELDS_PRESENT, REFERENCE_GRADE
from evaluation import slices
from relevance import contract
from evaluation import metrics
from evaluation.baseline import fit_bm25_baseline
from relevance.records import example_to_record

ModelMetrics = Dict[str, Dict[str, object]]


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


def metrics_by_slice(
    grades, probabilities, query_keys: Sequence[str], slice_rows: Sequence[dict], num_grades: int
) -> ModelMetrics:
    """`evaluation.metrics.compute_all` on every slice of `evaluation.slices`."""
    members: Dict[str, List[int]] = {}
    for index, row in enumerate(slice_rows):
        for name in slices.slices_of_row(row):
            members.setdefault(name, []).append(index)
    grades = np.asarray(grades)
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1, num_grades)
    query_keys = np.asarray(query_keys, dtype=object)
    result = {}
    for name, rows in sorted(members.items()):
        values = metrics.compute_all(
            grades[rows], probabilities[rows], query_keys[rows], num_grades
        )
        values["example_count"] = len(rows)
        values["unlabeled"] = 0  # evaluate_bm25 refuses rows without a grade
        result[name] = values
    return result


def evaluate_bm25(
    train: Sequence[tf.train.Example], evaluation: Sequence[tf.train.Example], num_grades: int
) -> ModelMetrics:
    """BM25 baseline metrics per slice; rows without a reference grade are not scored."""
    model = fit_bm25_baseline([example_to_record(e) for e in train], num_grades)
    grades = reference_grades(evaluation)
    return metrics_by_slice(
        grades,
        model.predict_proba([example_to_record(e) for e in evaluation]),
        [query_key(e) for e in evaluation],
        [slice_row(e) for e in evaluation],
        num_grades,
    )
