"""The lexical floor in the pipeline: BM25 fitted on the train split, scored on eval.

`evaluation.baseline` is fitted on the rows of the student's train split (every row feeds
the corpus statistics; the human-graded ones fit the score -> grade mapping) and scored
on the eval split, with the same labels (`reference_grade`), query grouping and slices
as the TFMA Evaluators, so its figures sit in the same table as the models'.

Example (`evaluation.eval_rows` reads the rows):

    train = read_examples(["/pseudo_labeled/Split-train/*"])
    evaluation = read_examples(["/pseudo_labeled/Split-eval/*"])
    evaluate_bm25(train, evaluation, num_grades=5)["label_source=human"]["ndcg@10"]
"""

from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from evaluation import slices
from evaluation import metrics
from evaluation.baseline import fit_bm25_baseline
from evaluation.eval_rows import query_key, reference_grades, slice_row
from relevance.records import example_to_record

ModelMetrics = Dict[str, Dict[str, object]]


def metrics_by_slice(
    grades, probabilities, query_keys: Sequence[str], slice_rows: Sequence[dict], num_grades: int,
    scores=None,
) -> ModelMetrics:
    """`evaluation.metrics.compute_all` on every slice of `evaluation.slices`; `scores`,
    when given, is what nDCG and AUROC rank by (BM25's own score)."""
    members: Dict[str, List[int]] = {}
    for index, row in enumerate(slice_rows):
        for name in slices.slices_of_row(row):
            members.setdefault(name, []).append(index)
    grades = np.asarray(grades)
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1, num_grades)
    query_keys = np.asarray(query_keys, dtype=object)
    scores = None if scores is None else np.asarray(scores, dtype=np.float64)
    result = {}
    for name, rows in sorted(members.items()):
        values = metrics.compute_all(
            grades[rows], probabilities[rows], query_keys[rows], num_grades,
            None if scores is None else scores[rows],
        )
        values["example_count"] = len(rows)
        values["unlabeled"] = 0  # evaluate_bm25 refuses rows without a grade
        result[name] = values
    return result


def evaluate_bm25(
    train: Sequence[tf.train.Example], evaluation: Sequence[tf.train.Example], num_grades: int
) -> ModelMetrics:
    """BM25 baseline metrics per slice, ranked by its score; rows without a reference
    grade are not scored."""
    model = fit_bm25_baseline([example_to_record(e) for e in train], num_grades)
    grades = reference_grades(evaluation)
    prediction = model.predict([example_to_record(e) for e in evaluation])
    return metrics_by_slice(
        grades,
        prediction.probabilities,
        [query_key(e) for e in evaluation],
        [slice_row(e) for e in evaluation],
        num_grades,
        prediction.scores,
    )
