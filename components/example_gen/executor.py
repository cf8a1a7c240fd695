"""Beam executor that turns raw relevance files into canonical tf.Examples.

Input files (CSV, JSONL or TFRecord of tf.Example) are read row by row, validated
against the canonical record (`relevance.records.to_record`), language-tagged where the
language is missing, and written as the splits

* `train` / `eval`: the labeled input, split by query (never by row, so a query's
  candidates never straddle the two) with `eval_percent` of the queries held out;
* `unlabeled`: the unlabeled input.

Rows that fail validation are never dropped silently: each one goes to
`<examples uri>/quarantine/quarantine-*.jsonl` with its file, row number, reason and
raw fields, and `<examples uri>/ingest_counts.json` reconciles every row:
`<input>_in == sum(out) + quarantined`. The counts are also set as custom properties of
the Examples artifact, so MLMD shows them.
"""

import hashlib
import json
import logging
import os
from typing import Any, Dict, Iterable, List

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.event_counts import WriteEventTotals
from components.example_gen.options import ExampleGenOptions
from relevance import contract
from relevance.errors import InputError, RecordError
from relevance.readers import RawRow, read_rows
from relevance.records import record_to_example
from relevance.row_validation import LABELED, UNLABELED, validate_row

COUNTS_FILE = "ingest_counts.json"
QUARANTINE_DIR = "quarantine"
_QUARANTINE_TAG = "quarantine"


def _query_bucket(query_id: str) -> str:
    """A stable hash of the query id; orders queries for the eval hold-out."""
    return hashlib.sha256(query_id.encode("utf-8")).hexdigest()


def choose_eval_queries(query_ids: Iterable[str], eval_percent: float) -> frozenset:
    """Picks the held-out queries: the lowest-hashed `eval_percent` of them.

    At least one query is held out whenever there are two or more, so tiny data sets
    still get a non-empty eval split.
    """
    ordered = sorted(set(query_ids), key=_query_bucket)
    if len(ordered) < 2 or eval_percent <= 0:
        return frozenset()
    count = max(1, round(len(ordered) * eval_percent / 100.0))
    return frozenset(ordered[: min(count, len(ordered) - 1)])


class _ToCanonicalExample(beam.DoFn):
    """Validates one raw row; emits (record) or a quarantine entry, plus count keys."""

    def __init__(self, role: str, options: ExampleGenOptions):
        self._role = role
        self._options = options

    def _quarantine(self, row, reason: str, message: str):
        entry = {
            "input": self._role,
            "source": row.source,
            "row": row.row_number,
            "reason": reason,
            "message": message,
            "fields": row.fields,
        }
        return beam.pvalue.TaggedOutput(_QUARANTINE_TAG, entry)

    def process(self, row):
        # The input check runs the same function, so its forecast is what happens here.
        try:
            yield validate_row(
                row,
                self._role,
                num_grades=self._options.num_grades,
                numeric_features=self._options.numeric_features,
                image_only_items=self._options.image_only_items,
            )
        except RecordError as error:
            yield self._quarantine(row, error.reason, str(error))


def _read_input(pipeline, role: str, pattern: str, options: ExampleGenOptions):
    """Reads every file matching `pattern`; returns (records, quarantine) PCollections."""
    paths = sorted(tf.io.gfile.glob(pattern))

    def rows_of(path):
        try:
            yield from read_rows(path, options.input_format)
        except InputError as error:
            # A whole unreadable file is quarantined as one entry (row 0); the run fails
            # with a clear message afterwards only if nothing at all was readable.
            yield RawRow(source=path, row_number=0, fields=None, error=str(error))

    results = (
        pipeline
        | f"ListFiles[{role}]" >> beam.Create(paths)
        | f"ReadRows[{role}]" >> beam.FlatMap(rows_of)
        | f"Spread[{role}]" >> beam.Reshuffle()
        | f"Validate[{role}]"
        >> beam.ParDo(_ToCanonicalExample(role, options)).with_outputs(
            _QUARANTINE_TAG, main="records"
        )
    )
    return results.records, results[_QUARANTINE_TAG]


def _split_labeled(records, eval_percent: float):
    """Partitions labeled records into (train, eval) by held-out query ids."""
    eval_queries = (
        records
        | "QueryIds" >> beam.Map(lambda r: r[contract.QUERY_ID])
        | "DistinctQueryIds" >> beam.Distinct()
        | "AllQueryIds" >> beam.combiners.ToList()
        | "ChooseEvalQueries" >> beam.Map(choose_eval_queries, eval_percent)
    )
    return records | "SplitByQuery" >> beam.Partition(
        lambda record, _, held_out: int(record[contract.QUERY_ID] in held_out),
        2,
        held_out=beam.pvalue.AsSingleton(eval_queries),
    )


def summarize_counts(keys: Dict[str, int]) -> Dict[str, Any]:
    """Turns flat count keys into the reconciled `ingest_counts.json` document."""
    by_reason: Dict[str, int] = {}
    by_input = {LABELED: 0, UNLABELED: 0}
    for key, value in keys.items():
        if key.startswith("quarantined:"):
            _, role, reason = key.split(":", 2)
            by_input[role] += value
            by_reason[reason] = by_reason.get(reason, 0) + value
    out = {
        split: keys.get(f"out:{split}", 0)
        for split in (contract.SPLIT_TRAIN, contract.SPLIT_EVAL, contract.SPLIT_UNLABELED)
    }
    return {
        "labeled_in": keys.get(f"in:{LABELED}", 0),
        "unlabeled_in": keys.get(f"in:{UNLABELED}", 0),
        "out": out,
        "quarantined": sum(by_input.values()),
        "quarantined_by_input": by_input,
        "quarantined_by_reason": dict(sorted(by_reason.items())),
    }


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """ExampleGen executor for canonical relevance records (see module docstring)."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        # Every split is produced by GenerateExamplesByBeam below.
        raise NotImplementedError("use GenerateExamplesByBeam")

    def GenerateExamplesByBeam(
        self, pipeline: beam.Pipeline, exec_properties: Dict[str, Any]
    ) -> Dict[str, beam.pvalue.PCollection]:
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
        )
        options = ExampleGenOptions.from_custom_config_json(
            exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
        )
        patterns = {split.name: split.pattern for split in input_config.splits}
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]

        labeled, labeled_bad = _read_input(
            pipeline, LABELED, os.path.join(input_base, patterns[contract.SPLIT_TRAIN]), options
        )
        unlabeled, unlabeled_bad = _read_input(
            pipeline,
            UNLABELED,
            os.path.join(input_base, patterns[contract.SPLIT_UNLABELED]),
            options,
        )
        train, held_out = _split_labeled(labeled, options.eval_percent)
        splits = {
            contract.SPLIT_TRAIN: train,
            contract.SPLIT_EVAL: held_out,
            contract.SPLIT_UNLABELED: unlabeled,
        }

        quarantine = (labeled_bad, unlabeled_bad) | "AllQuarantined" >> beam.Flatten()
        self._write_side_outputs(pipeline, splits, labeled_bad, unlabeled_bad, quarantine)
        return {
            name: records
            | f"ToExample[{name}]" >> beam.Map(lambda r: record_to_example(r).SerializeToString())
            for name, records in splits.items()
        }

    def _write_side_outputs(self, pipeline, splits, labeled_bad, unlabeled_bad, quarantine):
        count_keys = []
        for name, records in splits.items():
            count_keys.append(records | f"CountOut[{name}]" >> beam.Map(lambda _, n=name: f"out:{n}"))
        for role, bad in ((LABELED, labeled_bad), (UNLABELED, unlabeled_bad)):
            count_keys.append(
                bad | f"CountBad[{role}]" >> beam.Map(lambda e, r=role: f"quarantined:{r}:{e['reason']}")
            )
        # Rows in = rows out + rows quarantined; counting both sides makes that checkable.
        count_keys.append(
            (splits[contract.SPLIT_TRAIN], splits[contract.SPLIT_EVAL])
            | "LabeledOut" >> beam.Flatten()
            | "CountInLabeledOk" >> beam.Map(lambda _: f"in:{LABELED}")
        )
        count_keys.append(
            labeled_bad | "CountInLabeledBad" >> beam.Map(lambda _: f"in:{LABELED}")
        )
        count_keys.append(
            splits[contract.SPLIT_UNLABELED]
            | "CountInUnlabeledOk" >> beam.Map(lambda _: f"in:{UNLABELED}")
        )
        count_keys.append(
            unlabeled_bad | "CountInUnlabeledBad" >> beam.Map(lambda _: f"in:{UNLABELED}")
        )
        output_uri = self._examples_uri
        _ = tuple(count_keys) | "WriteCounts" >> WriteEventTotals(
            os.path.join(output_uri, COUNTS_FILE), summarize=summarize_counts, indent=2)
        (
            quarantine
            | "QuarantineToJson" >> beam.Map(lambda e: json.dumps(e, ensure_ascii=False, default=str))
            | "WriteQuarantine"
            >> beam.io.WriteToText(
                os.path.join(output_uri, QUARANTINE_DIR, "quarantine"), file_name_suffix=".jsonl"
            )
        )

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY]
        )
        self._examples_uri = examples.uri
        super().Do(input_dict, output_dict, exec_properties)

        counts = read_ingest_counts(examples.uri)
        examples.set_json_value_custom_property("ingest_counts", counts)
        examples.set_int_custom_property("quarantined", counts["quarantined"])
        logging.info(
            "ExampleGen: labeled in %d, unlabeled in %d, out %s, quarantined %d (%s) -> %s",
            counts["labeled_in"],
            counts["unlabeled_in"],
            counts["out"],
            counts["quarantined"],
            counts["quarantined_by_reason"],
            os.path.join(examples.uri, QUARANTINE_DIR),
        )
        if counts["out"][contract.SPLIT_TRAIN] == 0:
            raise InputError(
                "no valid labeled row reached the train split "
                f"({counts['labeled_in']} rows read, {counts['quarantined_by_input'][LABELED]} "
                f"quarantined: {counts['quarantined_by_reason']}); see "
                f"{os.path.join(examples.uri, QUARANTINE_DIR)}"
            )


def read_ingest_counts(examples_uri: str) -> Dict[str, Any]:
    """The reconciled counts ExampleGen wrote beside its splits."""
    with tf.io.gfile.GFile(os.path.join(examples_uri, COUNTS_FILE)) as f:
        return json.load(f)


def quarantine_files(examples_uri: str) -> List[str]:
    """Paths of the quarantine JSONL shards of one ExampleGen run."""
    return sorted(tf.io.gfile.glob(os.path.join(examples_uri, QUARANTINE_DIR, "*.jsonl")))
