"""The evaluation end of the pipeline: two Evaluators, the resolver and the gate.

    Resolver "LatestPushedModel" (LatestBlessedModelStrategy over the gate's blessings)
    Evaluator "Evaluator"         student, with the latest pushed model as TFMA baseline
    Evaluator "TeacherEvaluator"  teacher, same examples, metrics and slices
    ValidationGate                both evaluations + BM25 floor -> ModelBlessing for Pusher

Only the gate ever writes `blessed=1` (the Evaluators have no thresholds), so the
resolver's "latest blessed model" is the latest model the gate blessed, i.e. the model
the Pusher pushed last, on the local runner and on Kubeflow alike.

Example:

    nodes, blessing = evaluation_components(config, pseudo_labeled, teacher_model, student_model)
    Pusher(model=student_model, model_blessing=blessing, ...)
"""

from typing import List, Tuple

from tfx import v1 as tfx
from tfx.dsl.components.base import base_node

from components.validation_gate.component import ValidationGate
from pipeline.config import PipelineConfig
from evaluation.eval_config import relevance_eval_config
from relevance import contract

EVALUATOR = "Evaluator"
TEACHER_EVALUATOR = "TeacherEvaluator"
LATEST_PUSHED = "LatestPushedModel"
GATE = "ValidationGate"


def evaluation_components(
    config: PipelineConfig, pseudo_labeled, teacher_model, student_model
) -> Tuple[List[base_node.BaseNode], tfx.dsl.Channel]:
    """(nodes in run order, the gate's blessing channel)."""
    latest_pushed = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id(LATEST_PUSHED)
    eval_config = relevance_eval_config(config.num_grades)

    def evaluator(model, **baseline):
        return tfx.components.Evaluator(
            examples=pseudo_labeled,
            model=model,
            eval_config=eval_config,
            example_splits=[contract.SPLIT_EVAL],
            **baseline,
        )

    student_evaluator = evaluator(
        student_model, baseline_model=latest_pushed.outputs["model"]
    ).with_id(EVALUATOR)
    teacher_evaluator = evaluator(teacher_model).with_id(TEACHER_EVALUATOR)
    gate = ValidationGate(
        examples=pseudo_labeled,
        model=student_model,
        student_evaluation=student_evaluator.outputs["evaluation"],
        teacher_evaluation=teacher_evaluator.outputs["evaluation"],
        baseline_model=latest_pushed.outputs["model"],
        num_grades=config.num_grades,
        gate_metrics=",".join(config.gate_metrics),
        student_tolerance=config.student_tolerance,
        pushed_tolerance=config.pushed_tolerance,
        min_student_accuracy=config.min_student_accuracy,
        gate_z=config.gate_z,
        gate_resamples=config.gate_resamples,
    ).with_id(GATE)
    nodes = [latest_pushed, student_evaluator, teacher_evaluator, gate]
    return nodes, gate.outputs["blessing"]
