"""Row accounting for the ItemEmbedder: every input row is written once, with one outcome.

Nothing is dropped: a row that cannot be embedded is written unchanged, counted under its
reason. The Beam graph emits event names (counted with combiners, exact on every runner);
`EmbeddingCounts` turns the totals into the report written next to the output splits.

Example:

>>> counts = EmbeddingCounts.from_events({
...     "in/train": 3, "out/train": 3, "outcome/train/embedded": 2,
...     "outcome/train/no_query": 1, "texts/item/encoded": 2, "texts/query/from_cache": 1})
>>> counts.reconciles()
True
>>> report = counts.as_dict()
>>> report["embedded"], report["by_split"]["train"]["no_query"], report["distinct_texts"]["item"]
(2, 1, {'encoded': 2, 'from_cache': 0, 'failed': 0})
"""

import copy
import json
from typing import Dict, Mapping

from components.event_counts import totals_with_prefix
from components.item_embedder.texts import SIDES

IN = "in"
OUT = "out"

# What happened to a row; exactly one per row, every one always reported.
EMBEDDED = "embedded"  # both features written
UNPARSEABLE = "unparseable"  # not a tf.Example: written unchanged
NO_QUERY = "no_query"  # empty or missing `query`: written unchanged
NO_ITEM_TEXT = "no_item_text"  # every item text field empty: written unchanged
ENCODE_ERROR = "encode_error"  # the encoder failed on its query or item text: unchanged
OUTCOMES = (EMBEDDED, UNPARSEABLE, NO_QUERY, NO_ITEM_TEXT, ENCODE_ERROR)

# Distinct texts (by side and content hash), as opposed to rows.
TEXTS_ENCODED = "encoded"
TEXTS_FROM_CACHE = "from_cache"
TEXTS_FAILED = "failed"
TEXT_EVENTS = (TEXTS_ENCODED, TEXTS_FROM_CACHE, TEXTS_FAILED)

COUNTS_FILE_NAME = "item_embedding_counts.json"


def split_in(split: str) -> str:
    return f"in/{split}"


def split_out(split: str) -> str:
    return f"out/{split}"


def outcome(split: str, name: str) -> str:
    if name not in OUTCOMES:
        raise ValueError(f"unknown embedding outcome {name!r}")
    return f"outcome/{split}/{name}"


def texts(side: str, name: str) -> str:
    if name not in TEXT_EVENTS:
        raise ValueError(f"unknown text event {name!r}")
    return f"texts/{side}/{name}"


class EmbeddingCounts:
    """Totals of one run: in, out and one count per outcome, overall and per split, and
    the distinct texts encoded, taken from the cache or failed, per side.

    Example:

    >>> EmbeddingCounts.from_events({"in/eval": 1, "out/eval": 1,
    ...                              "outcome/eval/unparseable": 1}).summary()
    "ItemEmbedder: 1 rows in, 1 out; {'unparseable': 1}; distinct texts encoded 0, from cache 0, failed 0"
    """

    def __init__(self, report: Dict):
        self._report = report

    @classmethod
    def from_events(cls, events: Mapping[str, int]) -> "EmbeddingCounts":
        split_ins = totals_with_prefix(events, "in/")
        split_outs = totals_with_prefix(events, "out/")
        outcomes = {}  # split -> outcome -> n
        for key, value in totals_with_prefix(events, "outcome/").items():
            split, name = key.rsplit("/", 1)
            if name not in OUTCOMES:
                raise ValueError(f"unknown embedding outcome {name!r}")
            outcomes.setdefault(split, {})[name] = value
        splits = sorted(set(split_ins) | set(split_outs) | set(outcomes))
        by_split = {
            split: {IN: split_ins.get(split, 0), OUT: split_outs.get(split, 0),
                    **{name: outcomes.get(split, {}).get(name, 0) for name in OUTCOMES}}
            for split in splits
        }
        text_totals = totals_with_prefix(events, "texts/")
        return cls({
            IN: sum(split_ins.values()),
            OUT: sum(split_outs.values()),
            **{name: sum(v[name] for v in by_split.values()) for name in OUTCOMES},
            "by_split": by_split,
            "distinct_texts": {
                side: {name: text_totals.get(f"{side}/{name}", 0) for name in TEXT_EVENTS}
                for side in SIDES
            },
        })

    def as_dict(self) -> Dict:
        return copy.deepcopy(self._report)

    def to_json(self) -> str:
        return json.dumps(self._report, indent=2, sort_keys=True) + "\n"

    def reconciles(self) -> bool:
        """in = out = the sum of the outcomes, overall and in every split."""
        return all(
            counts[IN] == counts[OUT] == sum(counts[name] for name in OUTCOMES)
            for counts in (self._report, *self._report["by_split"].values())
        )

    def summary(self) -> str:
        report = self._report
        nonzero = {name: report[name] for name in OUTCOMES if report[name]}
        texts_by = {name: sum(report["distinct_texts"][side][name] for side in SIDES)
                    for name in TEXT_EVENTS}
        return (f"ItemEmbedder: {report[IN]} rows in, {report[OUT]} out; {nonzero or 'none'}; "
                f"distinct texts encoded {texts_by[TEXTS_ENCODED]}, from cache "
                f"{texts_by[TEXTS_FROM_CACHE]}, failed {texts_by[TEXTS_FAILED]}")
