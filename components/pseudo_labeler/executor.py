"""Executor of the PseudoLabeler: resolves artifacts, runs the Beam graph, records counts."""

import json
import posixpath
from typing import Any, Dict, List

import tensorflow as tf
from absl import logging
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import sharded_writer
from components.examples_io import finish_examples_output, split_file_patterns
from components.pseudo_labeler import component_spec as spec_lib
from components.pseudo_labeler import counts as counts_lib
from components.pseudo_labeler.labeling_pipeline import (
    LabelingConfig,
    LabelingPaths,
    build_labeling_graph,
)
from relevance import contract

INPUT_SPLITS = (contract.SPLIT_TRAIN, contract.SPLIT_EVAL, contract.SPLIT_UNLABELED)
OUTPUT_SPLITS = (contract.SPLIT_TRAIN, contract.SPLIT_EVAL)
QUARANTINE_DIR_NAME = "quarantine"
COUNTS_PROPERTY = "pseudo_label_counts"
_SCRATCH_DIR_NAME = "_scratch"


def _config_from(exec_properties: Dict[str, Any], model_path: str, teacher_id: str):
    def get(key, kind):
        value = exec_properties.get(key)
        return kind(spec_lib.DEFAULTS[key] if value is None else value)

    return LabelingConfig(
        model_path=model_path,
        teacher_id=teacher_id,
        num_grades=get(spec_lib.NUM_GRADES_KEY, int),
        confidence_threshold=get(spec_lib.CONFIDENCE_THRESHOLD_KEY, float),
        max_volume_multiple=get(spec_lib.MAX_VOLUME_MULTIPLE_KEY, float),
        max_per_query=get(spec_lib.MAX_PER_QUERY_KEY, int),
        drop_human_labeled_pairs=bool(get(spec_lib.DROP_HUMAN_LABELED_PAIRS_KEY, int)),
        balance_languages=bool(get(spec_lib.BALANCE_LANGUAGES_KEY, int)),
        batch_size=get(spec_lib.BATCH_SIZE_KEY, int),
        eval_holdout_percent=get(spec_lib.EVAL_HOLDOUT_PERCENT_KEY, float),
        score_all_unlabeled=bool(get(spec_lib.SCORE_ALL_UNLABELED_KEY, int)),
    )


def count_records(patterns: List[str]) -> int:
    """Records in the gzip TFRecord files of `patterns` (for progress and ETA): one
    read pass, seconds for a hundred thousand rows, nothing next to the teacher."""
    files = sorted(f for pattern in patterns for f in tf.io.gfile.glob(pattern))
    if not files:
        return 0
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def _record_counts(output: types.Artifact, report: counts_lib.PseudoLabelCounts) -> None:
    values = report.as_dict()
    for name in (counts_lib.UNLABELED_IN, counts_lib.PSEUDO_LABELED_OUT,
                 counts_lib.PSEUDO_HELD_OUT, counts_lib.HUMAN_TRAIN, counts_lib.HUMAN_EVAL):
        output.set_int_custom_property(name, values[name])
    for reason, number in values["filtered"].items():
        output.set_int_custom_property(f"filtered_{reason}", number)
    output.set_json_value_custom_property(COUNTS_PROPERTY, values)


class Executor(base_beam_executor.BaseBeamExecutor):
    """Scores the unlabeled split with the teacher and writes the student's corpus.

    Example (what the orchestrator does; tests do the same with real artifacts):

        Executor().Do(
            {"examples": [examples_artifact], "model": [teacher_model_artifact]},
            {"pseudo_labeled": [output_examples_artifact]},
            {"max_per_query": 20, "confidence_threshold": 0.5})
    """

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(input_dict[spec_lib.EXAMPLES_KEY])
        model = artifact_utils.get_single_instance(input_dict[spec_lib.MODEL_KEY])
        output = artifact_utils.get_single_instance(output_dict[spec_lib.PSEUDO_LABELED_KEY])

        model_path = path_utils.serving_model_path(
            model.uri, path_utils.is_old_model_artifact(model)
        )
        config = _config_from(exec_properties, model_path, teacher_id=model.uri)
        logging.info("PseudoLabeler: teacher %s, %s", model_path, config)

        output.split_names = artifact_utils.encode_split_names(list(OUTPUT_SPLITS))
        split_dirs = {
            split: artifact_utils.get_split_uri([output], split) for split in OUTPUT_SPLITS
        }
        # Outside the split directories, which readers glob whole.
        scratch_dir = posixpath.join(output.uri, _SCRATCH_DIR_NAME)
        input_patterns = split_file_patterns(examples, "PseudoLabeler", INPUT_SPLITS)
        paths = LabelingPaths(
            input_patterns=input_patterns,
            output_split_dirs=split_dirs,
            quarantine_dir=posixpath.join(output.uri, QUARANTINE_DIR_NAME),
            scratch_dir=scratch_dir,
            expected_rows={split: count_records(patterns)
                           for split, patterns in input_patterns.items()},
        )

        with self._make_beam_pipeline() as pipeline:
            build_labeling_graph(pipeline, config, paths)

        for split_dir in split_dirs.values():
            sharded_writer.fill_missing_shards(split_dir, scratch_dir)
        with tf.io.gfile.GFile(paths.events_path) as events_file:
            report = counts_lib.PseudoLabelCounts.from_events(
                json.loads(events_file.read())
            )
        tf.io.gfile.rmtree(scratch_dir)

        finish_examples_output(output, counts_lib.COUNTS_FILE_NAME, report.to_json())
        _record_counts(output, report)
        logging.info(report.summary())
        if not report.reconciles():
            raise RuntimeError(f"pseudo-label counts do not reconcile: {report.to_json()}")
