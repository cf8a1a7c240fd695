"""Executor of the ImageCaptioner: resolves artifacts, runs the Beam graph, records counts.

Examples left without item text are quarantined under `<output uri>/quarantine/`."""

import json
import posixpath
from typing import Any, Dict, List

import tensorflow as tf
from absl import logging
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from components import sharded_writer
from components.examples_io import finish_examples_output, split_file_patterns
from components.image_captioner import component_spec as spec_lib
from components.image_captioner import counts as counts_lib
from components.image_captioner.caption_cache import cache_namespace
from components.image_captioner.caption_model import CaptionSettings
from components.image_captioner.quarantine import quarantine_dir
from components.image_captioner.captioning_pipeline import (
    CaptioningConfig,
    CaptioningPaths,
    build_captioning_graph,
)
from components.image_captioner.tiny_preset import is_tiny_preset

COUNTS_PROPERTY = "image_caption_counts"
_SCRATCH_DIR_NAME = "_scratch"
_DEFAULT_CACHE_DIR_NAME = "caption_cache"


def _config_from(exec_properties: Dict[str, Any], output_uri: str) -> CaptioningConfig:
    def get(key):
        value = exec_properties.get(key)
        return spec_lib.DEFAULTS[key] if value is None else value

    settings = CaptionSettings(
        preset=str(exec_properties[spec_lib.PRESET_KEY]),
        prompt=str(get(spec_lib.PROMPT_KEY)),
        max_length=int(get(spec_lib.MAX_LENGTH_KEY)),
        batch_size=int(get(spec_lib.BATCH_SIZE_KEY)),
    )
    return CaptioningConfig(
        settings=settings,
        cache_dir=str(get(spec_lib.CACHE_DIR_KEY))
        or posixpath.join(output_uri, _DEFAULT_CACHE_DIR_NAME),
        cache_namespace=cache_namespace(settings.preset, settings.prompt, settings.max_length),
        image_root=str(get(spec_lib.IMAGE_ROOT_KEY)),
    )


def run_captioning(config: CaptioningConfig, paths: CaptioningPaths,
                   make_pipeline) -> counts_lib.CaptionCounts:
    """Runs the graph in `make_pipeline()`, completes the shard sets, returns the counts."""
    with make_pipeline() as pipeline:
        build_captioning_graph(pipeline, config, paths)
    for split_dir in paths.output_split_dirs.values():
        sharded_writer.fill_missing_shards(split_dir, paths.scratch_dir)
    # An empty shard when nothing was quarantined, so the quarantine always exists.
    sharded_writer.fill_missing_shards(paths.quarantine_dir, paths.scratch_dir,
                                       sharded_writer.JSON_LINES)
    with tf.io.gfile.GFile(paths.events_path) as events_file:
        report = counts_lib.CaptionCounts.from_events(json.loads(events_file.read()))
    tf.io.gfile.rmtree(paths.scratch_dir)
    logging.info(report.summary())
    if report.as_dict()[counts_lib.QUARANTINED]:
        logging.warning("ImageCaptioner: items still without text after captioning were "
                        "quarantined, not written: see %s/", paths.quarantine_dir)
    if not report.reconciles():
        raise RuntimeError(f"image caption counts do not reconcile: {report.to_json()}")
    return report


class Executor(base_beam_executor.BaseBeamExecutor):
    """Captions the images of every split and writes the examples back, counted.

    Example (what the orchestrator does; tests do the same with real artifacts):

        Executor().Do({"examples": [examples_artifact]},
                      {"captioned_examples": [output_examples_artifact]},
                      {"preset": "/presets/paligemma", "max_length": 16})
    """

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(input_dict[spec_lib.EXAMPLES_KEY])
        output = artifact_utils.get_single_instance(output_dict[spec_lib.CAPTIONED_KEY])
        config = _config_from(exec_properties, output.uri)
        if is_tiny_preset(config.settings.preset):
            logging.warning("ImageCaptioner: %s is a tiny RANDOM PaliGemma: its captions are "
                            "gibberish (pass a real preset for real captions)",
                            config.settings.preset)
        logging.info("ImageCaptioner: %s, cache %s/%s", config.settings, config.cache_dir,
                     config.cache_namespace)

        patterns = split_file_patterns(examples, "ImageCaptioner")
        output.split_names = artifact_utils.encode_split_names(sorted(patterns))
        paths = CaptioningPaths(
            input_patterns=patterns,
            output_split_dirs={
                split: artifact_utils.get_split_uri([output], split) for split in patterns
            },
            # Outside the split directories, which readers glob whole.
            scratch_dir=posixpath.join(output.uri, _SCRATCH_DIR_NAME),
            quarantine_dir=quarantine_dir(output.uri),
        )
        report = run_captioning(config, paths, self._make_beam_pipeline)

        finish_examples_output(output, counts_lib.COUNTS_FILE_NAME, report.to_json())
        values = report.as_dict()
        for name in (counts_lib.IN, counts_lib.OUT, counts_lib.QUARANTINED, *counts_lib.OUTCOMES):
            output.set_int_custom_property(f"caption_{name}", values[name])
        output.set_json_value_custom_property(COUNTS_PROPERTY, values)
