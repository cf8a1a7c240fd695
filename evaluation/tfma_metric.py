"""`RelevanceMetrics`: every metric of `evaluation.metrics` as one custom TFMA metric.

TFMA computes a metric per slice with a Beam combiner. Ranking metrics (nDCG per query)
need every row of a query together, and the slices here (language, label source, fields
present) do not keep queries apart, so one combiner collects, per model and slice, the
(query key, grade, probabilities) of every row and hands them to
`evaluation.metrics.compute_all` at the end. The values are therefore exactly those of
`relevance evaluate`.

Memory bound: per model and slice about (G + 2) x 8 bytes plus the query key per row,
e.g. ~100 MB for a million G = 5 rows in the overall slice; evaluation sets are held-out
samples, orders of magnitude smaller.

Inputs per row: the label (`ModelSpec.label_key`: the grade 1..G, e.g. the
PseudoLabeler's `reference_grade`), the model's `probabilities` [G], and the features
`query_id` and `label_source` (rows of the same query id but a different label source
are different queries). A row without a grade is not scored; the metric `unlabeled`
counts those rows. Undefined metrics (e.g. AUROC with one class) are NaN in TFMA and
None once read back with `evaluation.results`.

Example (in an EvalConfig; TFX's Evaluator imports the module by name):

>>> import json, tensorflow_model_analysis as tfma
>>> config = tfma.MetricConfig(class_name="RelevanceMetrics",
...     module="evaluation.tfma_metric", config=json.dumps({"num_grades": 5}))
>>> RelevanceMetrics(num_grades=5).name
'relevance'
"""

from typing import Dict, Iterable, List, Optional

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types, metric_util

from relevance import contract
from evaluation import metrics

# Teacher graphs use TF-Text ops (SentencePiece); this module is imported wherever TFMA
# builds or unpickles the metric, so importing here registers them before models load.
import tensorflow_text  # noqa: E402,F401

METRIC_NAME = "relevance"
UNLABELED_KEY = "unlabeled"


def output_keys(num_grades: int) -> List[str]:
    """Metric names this metric writes, e.g. accuracy, qwk, ndcg@10, auroc_ge_3, ece."""
    return metrics.metric_keys(num_grades) + ["ndcg_queries", UNLABELED_KEY]


class RelevanceMetrics(tfma.metrics.Metric):
    """Accuracy, QWK, nDCG@5/10/20, AUROC >= t (t = 2..G) and ECE over G grades.

    Args:
        num_grades: G; the model's probabilities have G columns.
        query_id_key: feature grouping rows into queries for nDCG (not `query_key`:
            TFMA overwrites an argument of that name with MetricsSpec.query_key).
        label_source_key: feature keeping human and pseudo-labeled queries apart.
        name: unused in the metric keys (they are the `evaluation.metrics` names);
            TFMA requires one.

    Example:

    >>> metric = RelevanceMetrics(num_grades=3)
    >>> [c.keys[1].name for c in metric.computations(model_names=["student"])]
    ['accuracy']
    """

    def __init__(
        self,
        num_grades: int = contract.DEFAULT_NUM_GRADES,
        query_id_key: str = contract.QUERY_ID,
        label_source_key: str = contract.LABEL_SOURCE,
        name: str = METRIC_NAME,
    ):
        super().__init__(
            _relevance_computations,
            num_grades=num_grades,
            query_id_key=query_id_key,
            label_source_key=label_source_key,
            name=name,
        )


def _relevance_computations(
    num_grades: int,
    query_id_key: str,
    label_source_key: str,
    name: str = METRIC_NAME,
    eval_config: Optional[tfma.EvalConfig] = None,
    model_names: Optional[List[str]] = None,
    output_names: Optional[List[str]] = None,
) -> metric_types.MetricComputations:
    computations = []
    for model_name in model_names or [""]:
        for output_name in output_names or [""]:
            keys = [
                metric_types.MetricKey(key, model_name=model_name, output_name=output_name)
                for key in output_keys(num_grades)
            ]
            computations.append(
                metric_types.MetricComputation(
                    keys=keys,
                    preprocessors=[
                        metric_types.FeaturePreprocessor(
                            feature_keys=[query_id_key, label_source_key]
                        )
                    ],
                    combiner=_RelevanceCombiner(
                        keys, eval_config, model_name, output_name, num_grades,
                        query_id_key, label_source_key,
                    ),
                )
            )
    return computations


class _Rows:
    """The accumulator: parallel lists of one slice's rows."""

    __slots__ = ["queries", "grades", "probabilities", "unlabeled"]

    def __init__(self):
        self.queries: List[str] = []
        self.grades: List[int] = []
        self.probabilities: List[np.ndarray] = []
        self.unlabeled = 0


def _single_text(features, key: str) -> str:
    value = np.asarray(features.get(key) if features else None, dtype=object).reshape(-1)
    if value.size == 0 or value[0] is None:
        return ""
    first = value[0]
    return first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)


class _RelevanceCombiner(beam.CombineFn):
    def __init__(self, keys, eval_config, model_name, output_name, num_grades,
                 query_id_key, label_source_key):
        self._keys = keys
        self._eval_config = eval_config
        self._model_name = model_name
        self._output_name = output_name
        self._num_grades = num_grades
        self._query_key = query_id_key
        self._label_source_key = label_source_key

    def create_accumulator(self) -> _Rows:
        return _Rows()

    def add_input(self, rows: _Rows, element: metric_types.StandardMetricInputs) -> _Rows:
        label, prediction, _ = next(
            metric_util.to_label_prediction_example_weight(
                element,
                eval_config=self._eval_config,
                model_name=self._model_name,
                output_name=self._output_name,
                flatten=False,
                allow_none=True,
            )
        )
        label = np.asarray(label if label is not None else [], dtype=np.float64).reshape(-1)
        if label.size == 0 or not np.isfinite(label[0]):
            rows.unlabeled += 1
            return rows
        probabilities = np.asarray(prediction, dtype=np.float64).reshape(-1)
        if probabilities.size != self._num_grades:
            raise ValueError(
                f"model {self._model_name!r} returned {probabilities.size} probabilities; "
                f"the evaluation expects G = {self._num_grades}"
            )
        features = element.features
        source = _single_text(features, self._label_source_key)
        rows.queries.append(f"{source}/{_single_text(features, self._query_key)}")
        rows.grades.append(int(label[0]))
        rows.probabilities.append(probabilities)
        return rows

    def merge_accumulators(self, accumulators: Iterable[_Rows]) -> _Rows:
        accumulators = iter(accumulators)
        merged = next(accumulators)
        for rows in accumulators:
            merged.queries.extend(rows.queries)
            merged.grades.extend(rows.grades)
            merged.probabilities.extend(rows.probabilities)
            merged.unlabeled += rows.unlabeled
        return merged

    def extract_output(self, rows: _Rows) -> Dict[metric_types.MetricKey, float]:
        probabilities = (
            np.stack(rows.probabilities) if rows.probabilities
            else np.zeros((0, self._num_grades))
        )
        values = metrics.compute_all(rows.grades, probabilities, rows.queries, self._num_grades)
        values[UNLABELED_KEY] = rows.unlabeled
        # TFMA stores numbers only: an undefined metric is NaN, read back as None.
        return {
            key: float("nan") if values[key.name] is None else float(values[key.name])
            for key in self._keys
        }
