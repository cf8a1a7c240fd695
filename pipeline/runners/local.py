"""Runs the pipeline in this process: LocalDagRunner, SQLite MLMD, Beam DirectRunner."""

import logging
import os

from absl import logging as absl_logging
from tfx import v1 as tfx

from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline
from pipeline.runners.memory import ReleaseMemoryAfterComponents


def run_local(config: PipelineConfig) -> None:
    """Runs every component whose inputs changed; unchanged ones come from the cache."""
    # TFX reports per-component progress through absl. TensorFlow's SavedModel code
    # silences absl while it saves, then restores the level from absl's *verbosity flag*
    # (WARNING unless set), so the flag itself must say INFO or progress stops there.
    absl_logging.set_verbosity(absl_logging.INFO)
    os.makedirs(os.path.dirname(config.metadata_path), exist_ok=True)
    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(
        config.metadata_path
    )
    release = ReleaseMemoryAfterComponents()
    absl_logger = logging.getLogger("absl")
    absl_logger.addHandler(release)
    try:
        tfx.orchestration.LocalDagRunner().run(create_pipeline(config, metadata))
    finally:
        absl_logger.removeHandler(release)
