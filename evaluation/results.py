"""Reads an Evaluator's TFMA output back as plain dicts of `evaluation.metrics` values.

Shape: `{model: {slice name: {metric: value}}}`, slice names from
`evaluation.slices` ("overall", "language=en", ...). TFMA's candidate is
returned under the name the caller gives; a baseline model (TFMA's "baseline") under
`baseline_name`. NaN (undefined) becomes None; TFMA's diff keys are left out.

Example (after a run):

    read_evaluation(evaluation_uri, candidate_name="student", baseline_name="previous")
    # {"student": {"overall": {"n": 40, "accuracy": 0.6, ...}, "language=en": {...}},
    #  "previous": {...}}
"""

import math
from typing import Dict, Optional

import tensorflow_model_analysis as tfma

from evaluation import slices

ModelMetrics = Dict[str, Dict[str, Optional[float]]]
_BASELINE = tfma.BASELINE_KEY
_INTEGER_KEYS = ("n", "ndcg_queries", "unlabeled", "example_count")


def _slice_value(single_key) -> str:
    kind = single_key.WhichOneof("kind")
    value = getattr(single_key, kind)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _number(name: str, value: float):
    if value is None or math.isnan(value):
        return None
    return int(value) if name in _INTEGER_KEYS else float(value)


def read_evaluation(
    evaluation_uri: str, candidate_name: str, baseline_name: str = "previous"
) -> Dict[str, ModelMetrics]:
    """Every model's metrics per slice from the Evaluator output at `evaluation_uri`."""
    result: Dict[str, ModelMetrics] = {}
    for metrics_for_slice in tfma.load_metrics(evaluation_uri):
        name = slices.slice_name(
            (key.column, _slice_value(key))
            for key in metrics_for_slice.slice_key.single_slice_keys
        )
        for entry in metrics_for_slice.metric_keys_and_values:
            key = entry.key
            if key.is_diff or not entry.value.HasField("double_value"):
                continue
            model = baseline_name if key.model_name == _BASELINE else candidate_name
            metric = key.name
            result.setdefault(model, {}).setdefault(name, {})[metric] = _number(
                metric, entry.value.double_value.value
            )
    return {model: dict(sorted(by_slice.items())) for model, by_slice in result.items()}
