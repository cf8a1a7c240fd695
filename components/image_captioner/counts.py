"""Row accounting for the image captioner: every input example gets one outcome and is
either written once or quarantined (it still has no item text after captioning).

The Beam graph emits event names (counted with combiners, exact on every runner);
`CaptionCounts` turns the totals into the report written next to the output splits.

Example:

>>> counts = CaptionCounts.from_events({
...     "in/train": 4, "out/train": 3, "quarantined/train": 1, "outcome/captioned": 2,
...     "outcome/no_image": 1, "outcome/unreadable_image": 1, "images/generated": 1})
>>> counts.reconciles()
True
>>> report = counts.as_dict()
>>> report["captioned"], report["quarantined"], report["distinct_images"]["generated"]
(2, 1, 1)
"""

import copy
import json
from typing import Dict, Mapping

from components.event_counts import totals_with_prefix

IN = "in"
OUT = "out"
QUARANTINED = "quarantined"  # not written: no item text even after captioning

# What happened to an example; exactly one per example, every one always reported.
CAPTIONED = "captioned"  # the model captioned its image in this run
CACHED = "cached"  # its image's caption came from the caption cache
ALREADY_CAPTIONED = "already_captioned"  # it had a caption; left unchanged
NO_IMAGE = "no_image"  # neither `image` nor `image_bytes`
UNREADABLE_IMAGE = "unreadable_image"  # missing file, not an image, cannot be decoded
MODEL_ERROR = "model_error"  # the model failed on the image; caption left empty
UNPARSEABLE = "unparseable"  # not a tf.Example; passed through unchanged
OUTCOMES = (CAPTIONED, CACHED, ALREADY_CAPTIONED, NO_IMAGE, UNREADABLE_IMAGE, MODEL_ERROR,
            UNPARSEABLE)

# Distinct images (by content hash), as opposed to examples: repeated images count once.
IMAGES_GENERATED = "generated"
IMAGES_FROM_CACHE = "from_cache"

COUNTS_FILE_NAME = "image_caption_counts.json"

_IN_PREFIX = "in/"
_OUT_PREFIX = "out/"
_QUARANTINED_PREFIX = "quarantined/"
_OUTCOME_PREFIX = "outcome/"
_IMAGES_PREFIX = "images/"


def split_in(split: str) -> str:
    return _IN_PREFIX + split


def split_out(split: str) -> str:
    return _OUT_PREFIX + split


def split_quarantined(split: str) -> str:
    return _QUARANTINED_PREFIX + split


def outcome(name: str) -> str:
    if name not in OUTCOMES:
        raise ValueError(f"unknown caption outcome {name!r}")
    return _OUTCOME_PREFIX + name


def images(name: str) -> str:
    return _IMAGES_PREFIX + name


class CaptionCounts:
    """Totals of one captioning run: in, out, quarantined, one count per outcome, per split.

    Example:

    >>> CaptionCounts.from_events({"in/eval": 1, "out/eval": 1, "outcome/cached": 1}).summary()
    "ImageCaptioner: 1 examples in, 1 out, 0 quarantined; {'cached': 1}; distinct images captioned 0, from cache 0"
    """

    def __init__(self, report: Dict):
        self._report = report

    @classmethod
    def from_events(cls, events: Mapping[str, int]) -> "CaptionCounts":
        outcomes = totals_with_prefix(events, _OUTCOME_PREFIX)
        unknown = set(outcomes) - set(OUTCOMES)
        if unknown:
            raise ValueError(f"unknown caption outcomes: {sorted(unknown)}")
        split_ins = totals_with_prefix(events, _IN_PREFIX)
        split_outs = totals_with_prefix(events, _OUT_PREFIX)
        split_quarantined = totals_with_prefix(events, _QUARANTINED_PREFIX)
        distinct = totals_with_prefix(events, _IMAGES_PREFIX)
        per_split = (split_ins, split_outs, split_quarantined)
        return cls({
            IN: sum(split_ins.values()),
            OUT: sum(split_outs.values()),
            QUARANTINED: sum(split_quarantined.values()),
            **{name: outcomes.get(name, 0) for name in OUTCOMES},
            "by_split": {
                split: {key: totals.get(split, 0)
                        for key, totals in zip((IN, OUT, QUARANTINED), per_split)}
                for split in sorted(set().union(*per_split))
            },
            "distinct_images": {
                name: distinct.get(name, 0) for name in (IMAGES_GENERATED, IMAGES_FROM_CACHE)
            },
        })

    def as_dict(self) -> Dict:
        return copy.deepcopy(self._report)

    def to_json(self) -> str:
        return json.dumps(self._report, indent=2, sort_keys=True) + "\n"

    def reconciles(self) -> bool:
        """in = out + quarantined = sum of outcomes, and in = out + quarantined per split."""
        report = self._report
        return (
            report[IN] == report[OUT] + report[QUARANTINED] == sum(report[n] for n in OUTCOMES)
            and all(v[IN] == v[OUT] + v[QUARANTINED] for v in report["by_split"].values())
        )

    def summary(self) -> str:
        report = self._report
        nonzero = {name: report[name] for name in OUTCOMES if report[name]}
        return (
            f"ImageCaptioner: {report[IN]} examples in, {report[OUT]} out, "
            f"{report[QUARANTINED]} quarantined; {nonzero or 'none'}; "
            f"distinct images captioned {report['distinct_images'][IMAGES_GENERATED]}, "
            f"from cache {report['distinct_images'][IMAGES_FROM_CACHE]}"
        )
