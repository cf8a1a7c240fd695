"""The validation gate's decision: is the student good enough to push?

The student is blessed only when every rule holds on the gate slice (by default the
held-out *human* grades, `label_source=human`; pseudo-labels are the teacher's own
argmax, so the teacher would be perfect there by construction):

1. `min_accuracy`: student accuracy >= `min_student_accuracy`;
2. `teacher_tolerance`: for each gate metric, student >= teacher - tolerance, where
   tolerance = max(`student_tolerance`, `z` x SE(student - teacher)) when the gate
   slice's rows are given (`PairedRows`: both models' predictions on the same rows),
   else `student_tolerance`. SE is the paired bootstrap standard error over the gate
   slice's queries (`evaluation.bootstrap.metric_difference_se`, `resamples` draws,
   fixed `seed`): on a small eval set the tolerance widens to what sampling noise
   alone can explain; on a large one it stays `student_tolerance`. `z` = 0 disables
   the widening;
3. `not_worse_than_pushed`: for each gate metric, student >= previously pushed model -
   `pushed_tolerance` (skipped when nothing has been pushed yet).

Gate metrics are "higher is better" metrics of `evaluation.metrics` (accuracy, qwk,
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
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from evaluation.gate_settings import (  # noqa: F401 - DEFAULT_GATE_METRICS: re-exported
    DEFAULT_GATE_METRICS, DEFAULT_GATE_RESAMPLES, DEFAULT_GATE_SEED, DEFAULT_GATE_Z,
    DEFAULT_STUDENT_TOLERANCE,
)
from evaluation.slices import HUMAN_SLICE
from evaluation import bootstrap

ModelMetrics = Dict[str, Dict[str, Optional[float]]]
_EPSILON = 1e-9  # float noise must not fail an equal model


def _higher_is_better(metric: str) -> bool:
    return metric in ("accuracy", "qwk") or metric.startswith(("ndcg@", "auroc_ge_"))


@dataclasses.dataclass(frozen=True)
class PairedRows:
    """The gate slice's rows, scored by the student and by the teacher.

    Attributes:
        grades: [N] reference grades 1..G.
        student, teacher: [N, G] grade probabilities of each model on the same rows.
        query_ids: [N] query keys; the bootstrap resamples these.
    """

    grades: np.ndarray
    student: np.ndarray
    teacher: np.ndarray
    query_ids: Sequence


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
    student_tolerance: float = DEFAULT_STUDENT_TOLERANCE
    pushed_tolerance: float = 0.0
    min_student_accuracy: float = 0.0
    gate_slice: str = HUMAN_SLICE
    z: float = DEFAULT_GATE_Z
    resamples: int = DEFAULT_GATE_RESAMPLES
    seed: int = DEFAULT_GATE_SEED

    def __post_init__(self):
        for metric in self.gate_metrics:
            if not _higher_is_better(metric):
                raise ValueError(
                    f"gate metric {metric!r} is not a higher-is-better metric "
                    "(accuracy, qwk, ndcg@k, auroc_ge_t)"
                )
        if self.student_tolerance < 0 or self.pushed_tolerance < 0:
            raise ValueError("tolerances must be >= 0")
        if self.z < 0:
            raise ValueError("z must be >= 0 (0: the tolerance does not widen with noise)")
        if self.resamples < 2:
            raise ValueError("resamples must be >= 2")

    def sampling_noise(self, paired: PairedRows) -> Dict[str, dict]:
        """{gate metric: {"standard_error", "difference", "queries", "rows"}}: the paired
        bootstrap over the gate slice's queries of student - teacher."""
        return {
            metric: bootstrap.metric_difference_se(
                metric, paired.grades, paired.student, paired.teacher, paired.query_ids,
                self.resamples, self.seed)
            for metric in self.gate_metrics
        }

    def tolerance(self, standard_error: Optional[float]) -> float:
        """The student-vs-teacher tolerance: max(student_tolerance, z x SE).

        >>> GatePolicy(student_tolerance=0.05).tolerance(0.04)  # 1.96 x 0.04 = 0.0784
        0.0784
        >>> GatePolicy(student_tolerance=0.05).tolerance(0.01), GatePolicy(z=0).tolerance(0.04)
        (0.05, 0.05)
        """
        if standard_error is None:
            return self.student_tolerance
        return max(self.student_tolerance, self.z * standard_error)

    def decide(
        self, student: ModelMetrics, teacher: ModelMetrics, previous: Optional[ModelMetrics],
        paired: Optional[PairedRows] = None,
    ) -> dict:
        """{"blessed", "gate_slice", "checks": [...], "reasons": [...]}; see module docstring.

        `paired`: the gate slice's rows as both models scored them; without them the
        teacher rule uses `student_tolerance` as it is.
        """
        mine = student.get(self.gate_slice, {})
        checks = [
            self._check("min_accuracy", "accuracy", mine.get("accuracy"),
                        "minimum", self.min_student_accuracy, 0.0)
        ]
        teacher_values = teacher.get(self.gate_slice, {})
        noise = self.sampling_noise(paired) if paired is not None else {}
        for metric in self.gate_metrics:
            if metric not in noise:
                checks.append(self._check("teacher_tolerance", metric, mine.get(metric),
                                          "teacher", teacher_values.get(metric),
                                          self.student_tolerance))
                continue
            checks.append(self._noise_aware_check(metric, mine.get(metric),
                                                  teacher_values.get(metric), noise[metric]))
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

    def _noise_aware_check(self, metric: str, value, reference, noise: dict) -> dict:
        standard_error = noise["standard_error"]
        effective = self.tolerance(standard_error)
        check = self._check("teacher_tolerance", metric, value, "teacher", reference, effective)
        check.update(
            tolerance_asked=self.student_tolerance, standard_error=standard_error, z=self.z,
            effective_tolerance=effective, queries=noise["queries"], rows=noise["rows"],
            resamples=self.resamples, paired_difference=noise["difference"],
        )
        if standard_error is None:
            why = f"SE undefined on {noise['queries']} queries: tolerance as asked"
        else:
            why = (f"tolerance max({self.student_tolerance:g}, {self.z:g} x SE "
                   f"{standard_error:.4f}) over {noise['queries']} queries, "
                   f"{noise['rows']} rows")
        check["reason"] += f" ({why})"
        return check

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
            where += f" - {tolerance:.4g} = {bound:.4f}"
        check.update(passed=passed, bound=bound,
                     reason=f"{rule}: {metric} {value:.4f} {'>=' if passed else '<'} {where}")
        return check


def gate_metrics_from_text(text: str) -> Tuple[str, ...]:
    """"accuracy,ndcg@10" -> ("accuracy", "ndcg@10")."""
    metrics: List[str] = [part.strip() for part in text.split(",") if part.strip()]
    if not metrics:
        raise ValueError("at least one gate metric is needed, e.g. accuracy,ndcg@10")
    return tuple(metrics)
