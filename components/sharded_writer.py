"""Writes records as shards (gzip TFRecord or JSON lines) whose bytes do not depend on the runner.

`beam.io.WriteToTFRecord` and `WriteToText` let the runner pick shard boundaries and
record order, so two runs over the same input give different files. Here a record's
shard and position come from a stable hash of its bytes: same records in, byte-identical
files out, and no worker ever holds more than one shard. The hash order also scatters
each query's rows across the file, which is what a trainer reading the split wants.
TFRecord files follow ExampleGen's naming (`data_tfrecord-SSSSS-of-NNNNN.gz`) so
StatisticsGen, Transform and Trainer read them as usual; `JSON_LINES` shards
(`quarantine-SSSSS-of-NNNNN.jsonl`) hold quarantine entries.

Example:

    dirs_and_records | WriteDeterministicShards(temp_dir="/out/_tmp")
    ...  # after the pipeline has run:
    fill_missing_shards("/out/Split-train", temp_dir="/out/_tmp")
"""

import dataclasses
import math
import posixpath
import re
import uuid
from typing import Callable, Iterable, Optional

import apache_beam as beam
import tensorflow as tf

from components.hashing import stable_hash

# About 100-200 MB per shard for typical relevance rows; enough shards for parallel reads.
RECORDS_PER_SHARD = 200_000


def _write_gzip_tfrecords(path: str, records: Iterable[bytes]) -> None:
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for record in records:
            writer.write(record)


def _write_lines(path: str, lines: Iterable[bytes]) -> None:
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(b"")  # GFile creates the file on the first write: an empty shard too
        for line in lines:
            handle.write(line + b"\n")


@dataclasses.dataclass(frozen=True)
class ShardFormat:
    """How shards are named (`PREFIX-SSSSS-of-NNNNN.SUFFIX`) and written."""

    prefix: str
    suffix: str
    write: Callable[[str, Iterable[bytes]], None]

    def path(self, output_dir: str, shard: int, num_shards: int) -> str:
        return f"{output_dir}/{self.prefix}-{shard:05d}-of-{num_shards:05d}.{self.suffix}"

    def parse(self, file_name: str):
        """(shard, num_shards) of one of this format's file names, else None."""
        match = re.fullmatch(
            re.escape(self.prefix) + r"-(\d{5})-of-(\d{5})\." + re.escape(self.suffix), file_name
        )
        return (int(match.group(1)), int(match.group(2))) if match else None


TFRECORD = ShardFormat("data_tfrecord", "gz", _write_gzip_tfrecords)
JSON_LINES = ShardFormat("quarantine", "jsonl", _write_lines)


def num_shards_for(num_records: int) -> int:
    return max(1, math.ceil(num_records / RECORDS_PER_SHARD))


def shard_path(output_dir: str, shard: int, num_shards: int,
               shard_format: ShardFormat = TFRECORD) -> str:
    return shard_format.path(output_dir, shard, num_shards)


def _write_records(path: str, records, temp_dir: str, shard_format: ShardFormat) -> None:
    # Write then rename: a retried bundle must never leave a half-written shard behind.
    # The temp file lives outside the split directory, which readers glob whole.
    tf.io.gfile.makedirs(temp_dir)
    tf.io.gfile.makedirs(posixpath.dirname(path))
    temp_path = posixpath.join(temp_dir, f"{posixpath.basename(path)}.{uuid.uuid4().hex}")
    shard_format.write(temp_path, records)
    tf.io.gfile.rename(temp_path, path, overwrite=True)


class _WriteShard(beam.DoFn):
    def __init__(self, temp_dir: str, shard_format: ShardFormat):
        self._temp_dir = temp_dir
        self._format = shard_format

    def process(self, shard_and_records, records_per_dir):
        (output_dir, shard), keyed_records = shard_and_records
        ordered = sorted(keyed_records)
        _write_records(
            shard_path(output_dir, shard, num_shards_for(records_per_dir[output_dir]),
                       self._format),
            (record for _, record in ordered),
            self._temp_dir,
            self._format,
        )
        yield output_dir, len(ordered)


def _key_by_shard(dir_and_record, records_per_dir, order_key=None):
    output_dir, record = dir_and_record
    record_hash = stable_hash(order_key(record) if order_key else record)
    shard = record_hash % num_shards_for(records_per_dir[output_dir])
    return (output_dir, shard), (record_hash, record)


class WriteDeterministicShards(beam.PTransform):
    """Writes (output_dir, record bytes) pairs, each record into its directory.

    One transform serves every output directory (splits, quarantine), which keeps the
    Beam graph small. Directories that get no records get no files; see
    `fill_missing_shards`. Emits (output_dir, records written) per shard.

    Args:
        temp_dir: scratch directory, outside every output directory; the caller removes
            it once the pipeline has finished.
        order_key: bytes -> bytes, what a record's shard and position are hashed from
            (default: the record itself); ties keep the record order.
        shard_format: `TFRECORD` (default) or `JSON_LINES` (records are lines, without
            their newline).
    """

    def __init__(self, temp_dir: str, order_key: Optional[Callable[[bytes], bytes]] = None,
                 shard_format: ShardFormat = TFRECORD):
        super().__init__()
        self._temp_dir = temp_dir
        self._order_key = order_key
        self._format = shard_format

    def expand(self, dirs_and_records):
        records_per_dir = beam.pvalue.AsDict(
            dirs_and_records | "CountPerDir" >> beam.combiners.Count.PerKey()
        )
        return (
            dirs_and_records
            | "KeyByShard" >> beam.Map(_key_by_shard, records_per_dir=records_per_dir,
                                       order_key=self._order_key)
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShard(self._temp_dir, self._format),
                                        records_per_dir=records_per_dir)
        )


def fill_missing_shards(output_dir: str, temp_dir: str,
                        shard_format: ShardFormat = TFRECORD) -> None:
    """Writes empty shards for shard numbers that received no records.

    Run after the pipeline: every split then has a complete, readable file set, even
    when it is empty (readers fail on a split directory with no files).
    """
    tf.io.gfile.makedirs(output_dir)
    num_shards = 1
    present = set()
    for name in tf.io.gfile.listdir(output_dir):
        parsed = shard_format.parse(name)
        if parsed:
            present.add(parsed[0])
            num_shards = parsed[1]
    for shard in range(num_shards):
        if shard not in present:
            _write_records(shard_path(output_dir, shard, num_shards, shard_format), [],
                           temp_dir, shard_format)
