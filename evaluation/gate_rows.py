"""The gate slice's eval rows as the student and the teacher scored them, for the gate's
paired bootstrap (`evaluation.gate.PairedRows`).

The teacher needs no scoring here: the PseudoLabeler wrote its grade probabilities on
every eval row (`soft_label`), from the same teacher model the TeacherEvaluator
evaluates. The student is scored by the caller (`score_student`: serialized examples ->
[N, G] probabilities), on the gate slice's rows only. Grades are `reference_grade` and
queries `label_source/query_id`, as in the Evaluators.

Example:

    rows = gate_slice_rows(read_examples(["/pseudo_labeled/Split-eval/*"]), HUMAN_SLICE)
    paired = paired_rows(rows, num_grades=5,
                         score_student=lambda s: score_with_saved_model(path, s, 5))
    GatePolicy().decide(student_metrics, teacher_metrics, None, paired=paired)
"""

from typing import Callable, List, Sequence

import numpy as np
import tensorflow as tf

from evaluation import slices
from evaluation.eval_rows import query_key, reference_grades, slice_row
from evaluation.gate import PairedRows
from relevance import contract


def gate_slice_rows(evaluation: Sequence[tf.train.Example],
                    gate_slice: str) -> List[tf.train.Example]:
    """The eval rows that belong to `gate_slice` (e.g. `label_source=human`)."""
    return [e for e in evaluation if gate_slice in slices.slices_of_row(slice_row(e))]


def teacher_probabilities(rows: Sequence[tf.train.Example], num_grades: int) -> np.ndarray:
    """[N, G] `soft_label` of each row; ValueError when one lacks it or has another G."""
    probabilities = []
    for index, example in enumerate(rows):
        feature = example.features.feature.get(contract.SOFT_LABEL)
        values = list(feature.float_list.value) if feature is not None else []
        if len(values) != num_grades:
            raise ValueError(
                f"eval row {index} has {len(values)} {contract.SOFT_LABEL} values, not "
                f"{num_grades}: the gate reads the teacher's predictions from the "
                "PseudoLabeler's eval split"
            )
        probabilities.append(values)
    return np.asarray(probabilities, dtype=np.float64).reshape(-1, num_grades)


def paired_rows(rows: Sequence[tf.train.Example], num_grades: int,
                score_student: Callable[[List[bytes]], np.ndarray]) -> PairedRows:
    """Both models' probabilities on `rows`, with their grades and query keys."""
    student = np.asarray(
        score_student([e.SerializeToString() for e in rows]) if rows else np.zeros((0, num_grades)),
        dtype=np.float64).reshape(-1, num_grades)
    return PairedRows(
        grades=np.asarray(reference_grades(rows), dtype=np.int64),
        student=student,
        teacher=teacher_probabilities(rows, num_grades),
        query_ids=[query_key(e) for e in rows],
    )
