"""Exact row accounting for Beam components: named events, counted with combiners.

A component's graph emits one event name per row and outcome (e.g. "in/train",
"outcome/no_image"); `WriteEventTotals` counts them exactly on every runner (unlike
best-effort metrics) and writes the totals as one JSON object, which the executor reads
back after the pipeline to build and check its counts report.

Example:

>>> totals_with_prefix({"in/train": 3, "in/eval": 1, "out/train": 3}, "in/")
{'train': 3, 'eval': 1}

    events = (rows | beam.Map(lambda _: "in/train"), ...)
    _ = events | WriteEventTotals("/out/_scratch/events.json")
"""

import json
from typing import Dict, Mapping

import apache_beam as beam


def totals_with_prefix(events: Mapping[str, int], prefix: str) -> Dict[str, int]:
    """The totals of the events named `prefix + name`, keyed by name."""
    return {name[len(prefix):]: int(n) for name, n in events.items() if name.startswith(prefix)}


class WriteEventTotals(beam.PTransform):
    """Counts every event name in a PCollection (or a tuple of them) into one JSON file."""

    def __init__(self, path: str):
        super().__init__()
        self._path = path

    def expand(self, events):
        if isinstance(events, tuple):
            events = events | "FlattenEvents" >> beam.Flatten()
        return (
            events
            | "CountEvents" >> beam.combiners.Count.PerElement()
            | "EventsToDict" >> beam.combiners.ToDict()
            | "EventsToJson" >> beam.Map(lambda totals: json.dumps(totals, sort_keys=True))
            | "WriteEvents"
            >> beam.io.WriteToText(self._path, shard_name_template="", num_shards=1)
        )
