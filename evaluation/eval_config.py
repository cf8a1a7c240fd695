"""TFMA EvalConfig of the in-pipeline Evaluators (student and teacher).

Both Evaluators read the PseudoLabeler's `eval` split (human eval rows plus the
pseudo-labels of held-out queries) through the `serving_examples` signature. The label
is the data's `reference_grade` (human grade, else the teacher's argmax grade), not a
model signature, so a previously pushed model, the student and the teacher are labeled
and sliced identically. No thresholds: the validation gate decides (TFX then writes no
`blessed` property, so only the gate's blessings count as blessed).

Example:
>>> config = relevance_eval_config(num_grades=4)
>>> config.model_specs[0].label_key, len(config.slicing_specs)
('reference_grade', 5)
"""

import json

import tensorflow_model_analysis as tfma

from relevance.contract import REFERENCE_GRADE
from evaluation import slices
from evaluation.tfma_metric import METRIC_NAME, RelevanceMetrics
from relevance import contract


def relevance_eval_config(num_grades: int) -> tfma.EvalConfig:
    """One unnamed candidate spec: TFX's Evaluator adds the baseline when it has one."""
    relevance_metric = tfma.MetricConfig(
        class_name=RelevanceMetrics.__name__,
        module=RelevanceMetrics.__module__,
        config=json.dumps({"num_grades": num_grades, "name": METRIC_NAME}),
    )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name=contract.SIGNATURE_EXAMPLES,
                label_key=REFERENCE_GRADE,
                prediction_key=contract.OUTPUT_PROBABILITIES,
            )
        ],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[tfma.MetricConfig(class_name="ExampleCount"), relevance_metric]
            )
        ],
        slicing_specs=[tfma.SlicingSpec()]
        + [tfma.SlicingSpec(feature_keys=list(group)) for group in slices.SLICE_COLUMNS],
    )
