"""Scoring candidates with the teacher in batches of similar length.

The teacher cuts each call to its longest row, so a batch of short rows costs less than
a batch that mixes them with long ones. Rows are grouped by a length bucket (and a
stable hash of the query, so a bucket is batched by several workers and a query's rows
stay together) and cut into batches in their pairs' order: the same batches whatever
the runner.

Example:

    scored = score_candidates(candidates, "unlabeled", config)
    scored["scored"], scored[ScoreWithTeacher.FAILED]
"""

from typing import List

import apache_beam as beam

from components.pseudo_labeler import ranking
from components.pseudo_labeler.config import LabelingConfig
from components.pseudo_labeler.records import Candidate
from components.pseudo_labeler.teacher import ScoreWithTeacher


# Upper bounds (UTF-8 bytes of query + item text) of the length buckets the teacher
# batches by. The teacher cuts each call to its longest row, so a batch of short rows
# costs less than a batch that mixes them with long ones; beyond the last bound rows
# fill the teacher's whole sequence anyway.
LENGTH_BUCKET_BOUNDS = (64, 128, 192, 256, 384)


def length_bucket(text_bytes: int) -> int:
    """The length bucket of a row with `text_bytes` bytes of text.

    >>> [length_bucket(n) for n in (10, 64, 65, 300, 5000)]
    [0, 0, 1, 4, 5]
    """
    return next((i for i, bound in enumerate(LENGTH_BUCKET_BOUNDS) if text_bytes <= bound),
                len(LENGTH_BUCKET_BOUNDS))


# Rows of one length bucket are spread over up to this many groups, so a bucket is
# batched by several workers, not one; but a group gets at least
# ROWS_PER_GROUP_BATCHES batches' worth of rows on average, so a small split (a sample,
# the human eval rows) is not cut into batches of a few rows, each paying a whole call.
LENGTH_BUCKET_SHARDS = 16
ROWS_PER_GROUP_BATCHES = 8


def shard_count(rows: int, batch_size: int) -> int:
    """Groups per length bucket for a split of `rows` rows.

    >>> shard_count(345, 64), shard_count(5_000, 64), shard_count(100_000, 64)
    (1, 9, 16)
    """
    groups = rows // (batch_size * ROWS_PER_GROUP_BATCHES)
    return max(1, min(LENGTH_BUCKET_SHARDS, groups))


def _chunks(rows: List[Candidate], size: int):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _length_batches(candidates, split: str, batch_size: int):
    """Batches of `batch_size` rows (the last of each group smaller) from one length
    bucket each, the same batches whatever the runner: rows are grouped by (bucket,
    hash of the query) and each group is cut in its pairs' order, which keeps a query's
    candidates together (a pair key starts with its query id): the teacher encodes a
    query once per call for its similarity prior (`PriorInference`). The number of groups
    per bucket follows the split's size (`shard_count`)."""
    def key(candidate, shards):
        bucket = length_bucket(candidate.text_bytes)
        return (bucket, ranking.stable_hash(candidate.query_id) % shards), candidate

    shards = (candidates
              | f"CountForShards[{split}]" >> beam.combiners.Count.Globally()
              | f"Shards[{split}]" >> beam.Map(shard_count, batch_size))
    return (
        candidates
        | f"KeyByLength[{split}]" >> beam.Map(key, beam.pvalue.AsSingleton(shards))
        | f"GroupByLength[{split}]" >> beam.GroupByKey()
        | f"Batch[{split}]" >> beam.FlatMap(
            lambda group: _chunks(sorted(group[1], key=lambda c: c.pair), batch_size))
    )


def score_candidates(candidates, split: str, config: LabelingConfig, expected_rows=0):
    """Scored candidates (main output "scored") and the rows the teacher failed on
    (`ScoreWithTeacher.FAILED`). `expected_rows`: the rows to score, an int or a
    singleton PCollection (for the progress's percentage and ETA; 0: unknown)."""
    side = {}
    if isinstance(expected_rows, beam.PCollection):
        side["expected_rows"] = beam.pvalue.AsSingleton(expected_rows)
        expected_rows = 0
    return (
        _length_batches(candidates, split, config.batch_size)
        | f"Score[{split}]"
        >> beam.ParDo(ScoreWithTeacher(config.model_path, config.num_grades,
                                       progress_label=split, expected_rows=expected_rows),
                      **side).with_outputs(ScoreWithTeacher.FAILED, main="scored")
    )
