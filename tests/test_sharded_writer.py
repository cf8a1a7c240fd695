"""WriteDeterministicShards: runner-independent shards, as TFRecords or JSON lines."""

import os

import apache_beam as beam
import tensorflow as tf

from components import sharded_writer
from components.sharded_writer import (
    JSON_LINES,
    TFRECORD,
    WriteDeterministicShards,
    fill_missing_shards,
)


def _write_lines(out_dir, temp_dir, lines):
    with beam.Pipeline() as pipeline:
        _ = (pipeline | beam.Create([(out_dir, line) for line in lines])
             | WriteDeterministicShards(temp_dir, shard_format=JSON_LINES))
    fill_missing_shards(out_dir, temp_dir, JSON_LINES)
    return {name: open(os.path.join(out_dir, name), "rb").read()
            for name in sorted(os.listdir(out_dir))}


def test_json_lines_spread_over_shards_identically_on_every_run(tmp_path, monkeypatch):
    monkeypatch.setattr(sharded_writer, "RECORDS_PER_SHARD", 2)
    lines = [f'{{"item_id": "i{n}"}}'.encode() for n in range(5)]
    first = _write_lines(str(tmp_path / "a"), str(tmp_path / "tmp"), lines)
    second = _write_lines(str(tmp_path / "b"), str(tmp_path / "tmp"), list(reversed(lines)))
    assert list(first) == [f"quarantine-{n:05d}-of-00003.jsonl" for n in range(3)]
    assert first == second  # input order does not matter
    written = b"".join(first.values()).splitlines()
    assert sorted(written) == sorted(lines)
    assert not os.listdir(tmp_path / "tmp")  # temp files were renamed into place


def test_no_lines_still_leave_one_empty_shard(tmp_path):
    out_dir = str(tmp_path / "quarantine")
    fill_missing_shards(out_dir, str(tmp_path / "tmp"), JSON_LINES)
    assert os.listdir(out_dir) == ["quarantine-00000-of-00001.jsonl"]
    assert open(os.path.join(out_dir, "quarantine-00000-of-00001.jsonl"), "rb").read() == b""


def test_tfrecord_shards_keep_examplegen_names(tmp_path):
    out_dir = str(tmp_path / "Split-train")
    with beam.Pipeline() as pipeline:
        _ = (pipeline | beam.Create([(out_dir, b"r1"), (out_dir, b"r2")])
             | WriteDeterministicShards(str(tmp_path / "tmp")))
    [name] = os.listdir(out_dir)
    assert name == "data_tfrecord-00000-of-00001.gz" == os.path.basename(
        TFRECORD.path(out_dir, 0, 1))
    records = tf.data.TFRecordDataset(os.path.join(out_dir, name), compression_type="GZIP")
    assert sorted(r.numpy() for r in records) == [b"r1", b"r2"]
    assert JSON_LINES.parse(name) is None and TFRECORD.parse(name) == (0, 1)
