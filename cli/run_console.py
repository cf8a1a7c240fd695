"""A local run with a readable terminal: component lines, epoch lines, a closing summary.

Example (after `config = PipelineConfig.for_workdir(...)`):

    with console_for_run(config, terminal) as console:
        run_local(config)
    # ExampleGen          360 rows in · 360 out · 0 quarantined · 5 s
"""

import contextlib
import json
import logging
import os
from typing import Iterator, TextIO

from ml_metadata.metadata_store import metadata_store
from tfx import v1 as tfx

from components.example_gen.executor import read_ingest_counts
from components.image_captioner import counts as caption_counts
from components.item_embedder import counts as embedding_counts
from components.pseudo_labeler.counts import COUNTS_FILE_NAME
from pipeline import pipeline as definition
from pipeline.config import PipelineConfig
from pipeline.summary import latest_outputs
from cli.console import RunConsole
from cli.run_log import RunFailed


def _read_json(path: str):
    with open(path) as f:
        return json.load(f)


def _int_property(artifact, name: str) -> int:
    return artifact.custom_properties[name].int_value if name in artifact.custom_properties else 0


def component_counts(config: PipelineConfig, node: str) -> str:
    """A short text of one finished component's counts, read from its outputs in MLMD."""
    store = metadata_store.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path))
    outputs = latest_outputs(store, config.pipeline_name, node)
    if node == definition.EXAMPLE_GEN:
        counts = read_ingest_counts(outputs["examples"][0].uri)
        rows_in = counts["labeled_in"] + counts["unlabeled_in"]
        return (f"{rows_in:,} rows in · {sum(counts['out'].values()):,} out · "
                f"{counts['quarantined']:,} quarantined")
    if node == definition.IMAGE_CAPTIONER:
        report = _read_json(os.path.join(outputs["captioned_examples"][0].uri,
                                         caption_counts.COUNTS_FILE_NAME))
        return (f"{report['in']:,} in · {report['captioned']:,} captioned · "
                f"{report['quarantined']:,} quarantined")
    if node == definition.ITEM_EMBEDDER:
        report = _read_json(os.path.join(outputs["embedded_examples"][0].uri,
                                         embedding_counts.COUNTS_FILE_NAME))
        encoded = sum(side["encoded"] for side in report["distinct_texts"].values())
        return (f"{report['in']:,} in · {report['embedded']:,} embedded · "
                f"{report['in'] - report['embedded']:,} passed unchanged · "
                f"{encoded:,} texts encoded")
    if node == definition.PSEUDO_LABELER:
        report = _read_json(os.path.join(outputs["pseudo_labeled"][0].uri, COUNTS_FILE_NAME))
        filtered = sum(report.get("filtered", {}).values())
        return (f"{report['pseudo_labeled_out']:,} pseudo-labels · {filtered:,} filtered · "
                f"{report.get('pseudo_held_out', 0):,} held out for eval")
    if node == definition.GATE:
        blessed = _int_property(outputs["blessing"][0], "blessed")
        return "student blessed" if blessed else "student NOT blessed"
    if node == definition.PUSHER:
        pushed = outputs["pushed_model"][0]
        if not _int_property(pushed, "pushed"):
            return "nothing pushed"
        return f"pushed to {pushed.custom_properties['pushed_destination'].string_value}"
    return ""


@contextlib.contextmanager
def console_for_run(config: PipelineConfig, terminal: TextIO,
                    log_path: str) -> Iterator[RunConsole]:
    """Shows component and epoch lines on `terminal` while the block runs the pipeline.

    A failure inside becomes `RunFailed` with its last line and the log's path; the full
    traceback goes to the log.
    """
    console = RunConsole(terminal, lambda node: component_counts(config, node))
    root = logging.getLogger()
    root.addHandler(console)
    try:
        yield console
    except Exception as error:
        logging.exception("the pipeline failed")
        last = (str(error).strip().splitlines() or [type(error).__name__])[-1]
        raise RunFailed(f"{console.current_component or 'the pipeline'} failed: "
                        f"{type(error).__name__}: {last[:300]} (full log: {log_path})") from error
    finally:
        root.removeHandler(console)
        console.close()
