"""ValidationGate: the only component whose ModelBlessing the Pusher reads.

Inputs: the student and teacher Evaluators' TFMA outputs (the student's also holds the
previously pushed model's metrics when a baseline was resolved), the PseudoLabeler's
examples (to fit and score the BM25 floor, and for the gate slice's rows), the student
Model, and optionally the previously pushed (latest gate-blessed) Model. It scores the
student on the gate slice's eval rows, pairs them with the teacher's predictions the
PseudoLabeler wrote on those rows (`soft_label`), and applies `GatePolicy` with them: the
student-vs-teacher tolerance widens to `gate_z` x the paired bootstrap SE of the
difference (`evaluation.gate`). It writes `gate.json` and `report.md` into its
blessing, and sets the custom properties Pusher and `LatestBlessedModelStrategy` read
(`blessed`, `current_model`, `current_model_id`).
"""

import os

import tensorflow as tf
from tfx import v1 as tfx
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import path_utils

from evaluation import bm25_eval, eval_rows, gate, gate_report, gate_rows, gate_settings
from evaluation.results import read_evaluation
from relevance import contract
from evaluation.evaluate import score_with_saved_model

InputArtifact = tfx.dsl.components.InputArtifact
OutputArtifact = tfx.dsl.components.OutputArtifact
Parameter = tfx.dsl.components.Parameter

STUDENT, TEACHER, PREVIOUS, BM25 = "student", "teacher", "previous", "bm25_baseline"


def _split_pattern(examples, split: str) -> str:
    return os.path.join(artifact_utils.get_split_uri([examples], split), "*")


@tfx.dsl.components.component
def ValidationGate(  # noqa: N802 - TFX names the component class after the function
    examples: InputArtifact[standard_artifacts.Examples],
    model: InputArtifact[standard_artifacts.Model],
    student_evaluation: InputArtifact[standard_artifacts.ModelEvaluation],
    teacher_evaluation: InputArtifact[standard_artifacts.ModelEvaluation],
    blessing: OutputArtifact[standard_artifacts.ModelBlessing],
    baseline_model: InputArtifact[standard_artifacts.Model] = None,
    num_grades: Parameter[int] = contract.DEFAULT_NUM_GRADES,
    gate_metrics: Parameter[str] = ",".join(gate_settings.DEFAULT_GATE_METRICS),
    student_tolerance: Parameter[float] = gate_settings.DEFAULT_STUDENT_TOLERANCE,
    pushed_tolerance: Parameter[float] = 0.0,
    min_student_accuracy: Parameter[float] = 0.0,
    gate_z: Parameter[float] = gate_settings.DEFAULT_GATE_Z,
    gate_resamples: Parameter[int] = gate_settings.DEFAULT_GATE_RESAMPLES,
):
    """Blesses the student when `evaluation.gate.GatePolicy` says so.

    Example (in a pipeline definition):

        gate = ValidationGate(
            examples=pseudo_labeler.outputs["pseudo_labeled"],
            model=student.outputs["model"],
            student_evaluation=student_evaluator.outputs["evaluation"],
            teacher_evaluation=teacher_evaluator.outputs["evaluation"],
            baseline_model=latest_pushed.outputs["model"],
            num_grades=5, gate_metrics="accuracy,ndcg@10", student_tolerance=0.05)
        Pusher(model=..., model_blessing=gate.outputs["blessing"], ...)
    """
    models = read_evaluation(student_evaluation.uri, STUDENT, PREVIOUS)
    models[TEACHER] = read_evaluation(teacher_evaluation.uri, TEACHER)[TEACHER]
    evaluation_rows = eval_rows.read_examples([_split_pattern(examples, contract.SPLIT_EVAL)])
    models[BM25] = bm25_eval.evaluate_bm25(
        eval_rows.read_examples([_split_pattern(examples, contract.SPLIT_TRAIN)]),
        evaluation_rows,
        num_grades,
    )
    policy = gate.GatePolicy(
        gate_metrics=gate.gate_metrics_from_text(gate_metrics),
        student_tolerance=student_tolerance,
        pushed_tolerance=pushed_tolerance,
        min_student_accuracy=min_student_accuracy,
        z=gate_z,
        resamples=gate_resamples,
    )
    student_path = path_utils.serving_model_path(
        model.uri, path_utils.is_old_model_artifact(model))
    paired = gate_rows.paired_rows(
        gate_rows.gate_slice_rows(evaluation_rows, policy.gate_slice), num_grades,
        lambda serialized: score_with_saved_model(student_path, serialized, num_grades))
    if baseline_model is not None and PREVIOUS not in models:
        raise RuntimeError(
            f"a previously pushed model ({baseline_model.uri}) was resolved, but the student "
            "Evaluator has no baseline metrics"
        )
    decision = policy.decide(models[STUDENT], models[TEACHER], models.get(PREVIOUS), paired)
    ordered = {name: models[name] for name in (STUDENT, TEACHER, PREVIOUS, BM25) if name in models}
    gate_report.write_gate_report(
        blessing.uri, ordered, decision, num_grades,
        student_model=model.uri,
        previous_model=baseline_model.uri if baseline_model is not None else None,
    )
    blessing.set_string_custom_property("current_model", model.uri)
    blessing.set_int_custom_property("current_model_id", model.id)
    if baseline_model is not None:
        blessing.set_string_custom_property("baseline_model", baseline_model.uri)
        blessing.set_int_custom_property("baseline_model_id", baseline_model.id)
    blessing.set_int_custom_property("blessed", int(decision["blessed"]))
    blessing.set_string_custom_property("reasons", "; ".join(decision["reasons"]))
    marker = "BLESSED" if decision["blessed"] else "NOT_BLESSED"
    tf.io.gfile.GFile(os.path.join(blessing.uri, marker), "w").close()
