"""What a finished local run produced, read back from MLMD: `run_summary.json`.

Example (after a run):

    summary = build_run_summary(config)
    summary["student"]   # e.g. ".../serving/relevance_student/1732140000"
"""

import json
import os
from typing import Any, Dict, List

import tensorflow as tf
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.utils import path_utils

from components.example_gen.executor import QUARANTINE_DIR, read_ingest_counts
from components.image_captioner import counts as caption_counts
from components.item_embedder import counts as embedding_counts
from components.image_captioner.quarantine import quarantine_pattern as caption_quarantine_pattern
from components.pseudo_labeler.counts import COUNTS_FILE_NAME
from pipeline import pipeline as definition
from pipeline.config import PipelineConfig
from evaluation.gate_report import REPORT_FILE_NAME, read_gate_report
from evaluation.slices import HUMAN_SLICE
from relevance import contract

_DONE_STATES = (
    metadata_store_pb2.Execution.COMPLETE,
    metadata_store_pb2.Execution.CACHED,
)


def latest_outputs(store, pipeline_name: str, node_id: str) -> Dict[str, List[Any]]:
    """Output artifacts, by output key, of the newest finished execution of a node.

    Raises RuntimeError when the node never ran or never finished. Used by the run
    summary and by benchmarks that need a run's artifacts (e.g. the student's model).

    Example:

        store = metadata_store.MetadataStore(connection_config)
        [model] = latest_outputs(store, "relevance", "StudentTrainer")["model"]
    """
    context = store.get_context_by_type_and_name("node", f"{pipeline_name}.{node_id}")
    if context is None:
        raise RuntimeError(f"component {node_id} never ran in pipeline {pipeline_name}")
    executions = [
        e for e in store.get_executions_by_context(context.id) if e.last_known_state in _DONE_STATES
    ]
    if not executions:
        raise RuntimeError(f"component {node_id} has no finished execution")
    latest = max(executions, key=lambda e: e.id)
    outputs: Dict[str, List[int]] = {}
    for event in store.get_events_by_execution_ids([latest.id]):
        if event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT):
            outputs.setdefault(event.path.steps[0].key, []).append(event.artifact_id)
    return {key: store.get_artifacts_by_id(ids) for key, ids in outputs.items()}


def _custom(artifact, name: str):
    value = artifact.custom_properties.get(name)
    if value is None:
        return None
    return value.int_value if value.HasField("int_value") else value.string_value


def _read_json(path: str) -> Dict[str, Any]:
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def _student_eval(gate_document: Dict[str, Any]) -> Dict[str, Any]:
    """The student's metrics on the held-out human grades, overall and per language."""
    student = gate_document["models"]["student"]
    prefix = f"{HUMAN_SLICE},{contract.LANGUAGE}="
    return {
        "overall": student.get(HUMAN_SLICE),
        "by_language": {
            name[len(prefix):]: values for name, values in sorted(student.items())
            if name.startswith(prefix)
        },
    }


def _evaluation_gate(gate_uri: str, gate_document: Dict[str, Any]) -> Dict[str, Any]:
    decision = gate_document["decision"]
    return {
        "blessed": decision["blessed"],
        "reasons": decision["reasons"],
        "checks": decision["checks"],
        "policy": decision["policy"],
        "gate_slice": decision["gate_slice"],
        "previous_model": gate_document.get("previous_model"),
        "report": os.path.join(gate_uri, REPORT_FILE_NAME),
    }


def build_run_summary(config: PipelineConfig) -> Dict[str, Any]:
    """Paths of the run's products and its record counts (see README, "Run summary")."""
    connection = tfx.orchestration.metadata.sqlite_metadata_connection_config(
        config.metadata_path
    )
    store = metadata_store.MetadataStore(connection)
    name = config.pipeline_name

    examples = latest_outputs(store, name, definition.EXAMPLE_GEN)["examples"][0]
    teacher = latest_outputs(store, name, definition.TEACHER)["model"][0]
    pseudo = latest_outputs(store, name, definition.PSEUDO_LABELER)["pseudo_labeled"][0]
    evaluator = latest_outputs(store, name, definition.EVALUATOR)
    teacher_evaluation = latest_outputs(store, name, definition.TEACHER_EVALUATOR)[
        "evaluation"][0]
    pushed = latest_outputs(store, name, definition.PUSHER)["pushed_model"][0]

    ingest = read_ingest_counts(examples.uri)
    image_captions = None
    if config.caption_images:
        captioned = latest_outputs(store, name, definition.IMAGE_CAPTIONER)["captioned_examples"]
        image_captions = _read_json(
            os.path.join(captioned[0].uri, caption_counts.COUNTS_FILE_NAME)
        )
        # Its counts carry "quarantined"; say where those items went, too.
        image_captions["quarantine"] = caption_quarantine_pattern(captioned[0].uri)
    item_embeddings = None
    if config.item_embeddings:
        embedder = latest_outputs(store, name, definition.ITEM_EMBEDDER)
        item_embeddings = _read_json(os.path.join(
            embedder["embedded_examples"][0].uri, embedding_counts.COUNTS_FILE_NAME))
        item_embeddings["embedding_space"] = embedder["embedding_space"][0].uri
    pseudo_counts = _read_json(os.path.join(pseudo.uri, COUNTS_FILE_NAME))
    gate_blessing = latest_outputs(store, name, definition.GATE)["blessing"][0]
    gate_document = read_gate_report(gate_blessing.uri)
    blessed = bool(_custom(gate_blessing, "blessed"))
    was_pushed = bool(_custom(pushed, "pushed"))
    return {
        "student": _custom(pushed, "pushed_destination") if was_pushed else None,
        "student_blessed": blessed,
        "serving_model_dir": config.serving_model_dir,
        "teacher": path_utils.serving_model_path(teacher.uri),
        "evaluation": evaluator["evaluation"][0].uri,
        "teacher_evaluation": teacher_evaluation.uri,
        "student_eval": _student_eval(gate_document),
        "evaluation_gate": _evaluation_gate(gate_blessing.uri, gate_document),
        "eval_metrics": gate_document["models"],
        "pseudo_labeled": pseudo.uri,
        "examples": examples.uri,
        "quarantine": os.path.join(examples.uri, QUARANTINE_DIR),
        "labeled_in": ingest["labeled_in"],
        "unlabeled_in": ingest["unlabeled_in"],
        "pseudo_labeled_out": pseudo_counts["pseudo_labeled_out"],
        "pseudo_label_filtered": pseudo_counts.get("filtered", {}),
        "pseudo_held_out": pseudo_counts.get("pseudo_held_out", 0),
        "quarantined": ingest["quarantined"],
        "quarantined_by_reason": ingest["quarantined_by_reason"],
        "splits": ingest["out"],
        "image_captions": image_captions,
        "item_embeddings": item_embeddings,
        "num_grades": config.num_grades,
        "pipeline_root": config.pipeline_root,
        "metadata": config.metadata_path,
    }
