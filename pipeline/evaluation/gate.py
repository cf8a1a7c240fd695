"""The validation gate's decision: is the student good enough to push?

The student is blessed only when every rule holds on the gate slice (by default the
held-out *human* grades, `label_source=human`; pseudo-labels are the teacher's own
argmax, so the teacher would be perfect there by construction):

1. `min_accuracy`: student accuracy >= `min_student_accuracy`;
2. `teacher_tolerance`: for each gate metric, student >= teacher - `student_tolerance`;
3. `not_worse_than_pushed`: for each gate metric, student >= previously pushed model -
   `pushed_tolerance` (skipped when nothing has been pushed yet).

Gate metrics are "higher is better" metrics of `relevance.metrics` (accuracy, qwk,
ndcg@k, auroc_ge_t). A comparison whose reference is undefined (None) is skipped and
says so; a student metric that is undefined where the reference is defined fails.

Example:
>>> policy = GatePolicy(gate_metrics=("accuracy",), student_tolerance=0.05)
>>> student = {HUMAN_SLICE: {"accuracy": 0.62}}
>>> teacher = {HUMAN_SLICE: {"accuracy": 0.70}}
>>> decision = policy.decide(student, teacher, previous=None)
>>> decision["blessed"], decision["reasons"][0]
(False, 'teacher_tolerance: accuracy 0.6200 < teacher 0.7000 - 0.05 = 0.6500')
"""

import dataclasses
from typing import Dict, List, Optional, Tuple

from pipeline.evaluation.slices import HUMAN_SLICE

ModelMetrics = Dict[str, Dict[str, Optional[float]]]
DEFAULT_GATE_METRICS = ("accuracy", "ndcg@10")
_EPSILON = 1e-9  # float noise must not fail an equal model


def _higher_is_better(metric: str) -> bool:
    return metric in ("accuracy", "qwk") or metric.startswith(("ndcg@", "auroc_ge_"))


@dataclasses.dataclass(frozen=True)
class GatePolicy:
    """The gate's rules and tolerances (see module docstring).

    Example:
    >>> GatePolicy(gate_metrics=("ece",))
    Traceback (most recent call last):
    ...
    ValueError: gate metric 'ece' is not a higher-is-better metric (accuracy, qwk, ndcg@k, auroc_ge_t)
    """

    gate_metrics: Tuple[str, ...] = DEFAULT_GATE_METRICS
    student_tolerance: float = 0.05
    pushed_tolerance: float = 0.0
    min_student_accuracy: float = 0.0
    gate_slice: str = HUMAN_SLICE

    def __post_init__(self):
        for metric in self.gate_metrics:
            if not _higher_is_better(metric):
                raise ValueError(
                    f"gate metric {metric!r} is not a higher-is-better metric "
                    "(accuracy, qwk, ndcg@k, auroc_ge_t)"
                )
        if self.student_tolerance < 0 or self.pushed_tolerance < 0:
            raise ValueError("tolerances must be >= 0")

    def decide(
        self, student: ModelMetrics, teacher: ModelMetrics, previous: Optional[ModelMetrics]
    ) -> dict:
        """{"blessed", "gate_slice", "checks": [...], "reasons": [...]}; see module docstring."""
        mine = student.get(self.gate_slice, {})
        checks = [
            self._check("min_accuracy", "accuracy", mine.get("accuracy"),
                        "minimum", self.min_student_accuracy, 0.0)
        ]
        teacher_values = teacher.get(self.gate_slice, {})
        for metric in self.gate_metrics:
            checks.append(self._check("teacher_tolerance", metric, mine.get(metric),
                                      "teacher", teacher_values.get(metric),
                                      self.student_tolerance))
        for metric in self.gate_metrics:
            if previous is None:
                checks.append({"rule": "not_worse_than_pushed", "metric": metric,
                               "passed": None, "reason": "not_worse_than_pushed: no model "
                               "pushed yet (first push)"})
                continue
            checks.append(self._check("not_worse_than_pushed", metric, mine.get(metric),
                                      "pushed", previous.get(self.gate_slice, {}).get(metric),
                                      self.pushed_tolerance))
        failed = [check["reason"] for check in checks if check["passed"] is False]
        return {
            "blessed": not failed,
            "gate_slice": self.gate_slice,
            "policy": dataclasses.asdict(self),
            "checks": checks,
            "reasons": failed or [check["reason"] for check in checks],
        }

    @staticmethod
    def _check(rule: str, metric: str, value, reference_name: str, reference,
               tolerance: float) -> dict:
        check = {"rule": rule, "metric": metric, "student": value,
                 reference_name: reference, "tolerance": tolerance}
        if reference is None:
            check.update(passed=None, reason=f"{rule}: {metric} of the {reference_name} "
                                             "is undefined on this slice; skipped")
            return check
        bound = reference - tolerance
        if value is None:
            check.update(passed=False, reason=f"{rule}: {metric} of the student is undefined "
                                              f"(the {reference_name} has {reference:.4f})")
            return check
        passed = value >= bound - _EPSILON
        where = f"{reference_name} {reference:.4f}"
        if tolerance:
            where += f" - {tolerance:g} = {bound:.4f}"
        check.update(passed=passed, bound=bound,
                     reason=f"{rule}: {metric} {value:.4f} {'>=' if passed else '<'} {where}")
        return check


def gate_metrics_from_text(text: str) -> Tuple[str, ...]:
    """"accuracy,ndcg@10" -> ("accuracy", "ndcg@10")."""
    metrics: List[str] = [part.strip() for part in text.split(",") if part.strip()]
    if not metrics:
        raise ValueError("at least one gate metric is needed, e.g. accuracy,ndcg@10")
    return tuple(metrics)
