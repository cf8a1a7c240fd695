"""Exact row accounting for Beam components: named events, counted with combiners.

A component's graph emits one event name per row and outcome (e.g. "in/train",
"outcome/no_image"); `WriteEventTotals` counts them exactly on every runner (unlike
best-effort metrics) and writes the totals as one JSON object, which the executor reads
back after the pipeline to build and check its counts report. Every component that
counts rows (ExampleGen, the ImageCaptioner, the PseudoLabeler) writes its totals with it.

Example:

>>> totals_with_prefix({"in/train": 3, "in/eval": 1, "out/train": 3}, "in/")
{'train': 3, 'eval': 1}

    events = (rows | beam.Map(lambda _: "in/train"), ...)
    _ = events | WriteEventTotals("/out/_scratch/events.json")
"""

import json
from typing import Callable, Dict, Mapping, Optional

import apache_beam as beam


def totals_with_prefix(events: Mapping[str, int], prefix: str) -> Dict[str, int]:
    """The totals of the events named `prefix + name`, keyed by name."""
    return {name[len(prefix):]: int(n) for name, n in events.items() if name.startswith(prefix)}


class WriteEventTotals(beam.PTransform):
    """Counts every event name in a PCollection (or a tuple of them: Beam would take a
    list for values to create) into one JSON file (one shard, at `path` exactly).

    Args:
        summarize: turns the totals ({event: count}) into the document written; None
            writes the totals themselves.
        indent: `json.dumps`'s indent (None: one line); keys are always sorted.
    """

    def __init__(self, path: str, summarize: Optional[Callable[[Dict[str, int]], object]] = None,
                 indent: Optional[int] = None):
        super().__init__()
        self._path = path
        self._summarize = summarize
        self._indent = indent

    def expand(self, events):
        if isinstance(events, tuple):
            events = events | "FlattenEvents" >> beam.Flatten()
        summarize, indent = self._summarize, self._indent
        return (
            events
            | "CountEvents" >> beam.combiners.Count.PerElement()
            | "EventsToDict" >> beam.combiners.ToDict()
            | "EventsToJson" >> beam.Map(lambda totals: json.dumps(
                summarize(totals) if summarize else totals, indent=indent, sort_keys=True))
            | "WriteEvents"
            >> beam.io.WriteToText(self._path, shard_name_template="", num_shards=1)
        )
