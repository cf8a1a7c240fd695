"""Executor of the ItemEmbedder: resolves artifacts, runs the Beam graph, records counts."""

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
from components.item_embedder import component_spec as spec_lib
from components.item_embedder import counts as counts_lib
from components.item_embedder.embedding_cache import cache_namespace
from components.item_embedder.embedding_pipeline import (
    EmbeddingConfig,
    EmbeddingPaths,
    build_embedding_graph,
)
from components.item_embedder.embedding_space import INFO_FILE
from components.item_embedder.settings import EmbedSettings

COUNTS_PROPERTY = "item_embedding_counts"
_SCRATCH_DIR_NAME = "_scratch"
_DEFAULT_CACHE_DIR_NAME = "embedding_cache"


def settings_from(exec_properties: Dict[str, Any]) -> EmbedSettings:
    """The settings of an execution's parameters (defaults for those left unset).

    >>> settings_from({"dims": 16, "fit_splits": " train, ,unlabeled"}).fit_splits
    ('train', 'unlabeled')
    """
    def get(key):
        value = exec_properties.get(key)
        return spec_lib.DEFAULTS[key] if value is None else value

    settings = EmbedSettings(
        preset=str(get(spec_lib.PRESET_KEY)),
        dims=int(get(spec_lib.DIMS_KEY)),
        batch_size=int(get(spec_lib.BATCH_SIZE_KEY)),
        query_length=int(get(spec_lib.QUERY_LENGTH_KEY)),
        item_length=int(get(spec_lib.ITEM_LENGTH_KEY)),
        fit_splits=tuple(s.strip() for s in str(get(spec_lib.FIT_SPLITS_KEY)).split(",")
                         if s.strip()),
        preset_cache_dir=str(get(spec_lib.PRESET_CACHE_DIR_KEY)),
    )
    if not settings.preset:
        raise ValueError("ItemEmbedder needs an encoder preset name or directory")
    if min(settings.dims, settings.batch_size, settings.query_length,
           settings.item_length) < 1:
        raise ValueError(f"ItemEmbedder: dims, batch_size and lengths must be >= 1: {settings}")
    return settings


def run_embedding(config: EmbeddingConfig, paths: EmbeddingPaths,
                  make_pipeline) -> counts_lib.EmbeddingCounts:
    """Runs the graph in `make_pipeline()`, completes the shard sets, returns the counts."""
    with make_pipeline() as pipeline:
        build_embedding_graph(pipeline, config, paths)
    for split_dir in paths.output_split_dirs.values():
        sharded_writer.fill_missing_shards(split_dir, paths.scratch_dir)
    with tf.io.gfile.GFile(paths.events_path) as events_file:
        report = counts_lib.EmbeddingCounts.from_events(json.loads(events_file.read()))
    tf.io.gfile.rmtree(paths.scratch_dir)
    logging.info(report.summary())
    if not report.reconciles():
        raise RuntimeError(f"item embedding counts do not reconcile: {report.to_json()}")
    return report


class Executor(base_beam_executor.BaseBeamExecutor):
    """Embeds the queries and items of every split and writes the rows back, counted.

    Example (what the orchestrator does; tests do the same with real artifacts):

        Executor().Do({"examples": [examples_artifact]},
                      {"embedded_examples": [output_examples], "embedding_space": [space]},
                      {"preset": "/presets/e5", "dims": 64})
    """

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(input_dict[spec_lib.EXAMPLES_KEY])
        output = artifact_utils.get_single_instance(output_dict[spec_lib.EMBEDDED_KEY])
        space = artifact_utils.get_single_instance(output_dict[spec_lib.SPACE_KEY])
        settings = settings_from(exec_properties)
        config = EmbeddingConfig(
            settings=settings,
            cache_dir=str(exec_properties.get(spec_lib.CACHE_DIR_KEY) or "")
            or posixpath.join(output.uri, _DEFAULT_CACHE_DIR_NAME),
            cache_namespace=cache_namespace(settings.preset, settings.query_length,
                                            settings.item_length),
        )
        logging.info("ItemEmbedder: %s, cache %s/%s", settings, config.cache_dir,
                     config.cache_namespace)

        patterns = split_file_patterns(examples, "ItemEmbedder")
        missing = sorted(set(settings.fit_splits) - set(patterns))
        if missing:
            logging.warning("ItemEmbedder: fit splits %s are not in the input (%s)", missing,
                            sorted(patterns))
        output.split_names = artifact_utils.encode_split_names(sorted(patterns))
        paths = EmbeddingPaths(
            input_patterns=patterns,
            output_split_dirs={
                split: artifact_utils.get_split_uri([output], split) for split in patterns
            },
            space_dir=space.uri,
            # Outside the split directories, which readers glob whole.
            scratch_dir=posixpath.join(output.uri, _SCRATCH_DIR_NAME),
        )
        report = run_embedding(config, paths, self._make_beam_pipeline)

        finish_examples_output(output, counts_lib.COUNTS_FILE_NAME, report.to_json())
        values = report.as_dict()
        for name in (counts_lib.IN, counts_lib.OUT, *counts_lib.OUTCOMES):
            output.set_int_custom_property(f"embedding_{name}", values[name])
        output.set_json_value_custom_property(COUNTS_PROPERTY, values)
        info_path = posixpath.join(space.uri, INFO_FILE)
        if tf.io.gfile.exists(info_path):
            with tf.io.gfile.GFile(info_path) as handle:
                space.set_json_value_custom_property("embedding_space", json.load(handle))
        else:
            logging.warning("ItemEmbedder: no embedding space was fitted (no row had a "
                            "query and item text); %s is empty", space.uri)
