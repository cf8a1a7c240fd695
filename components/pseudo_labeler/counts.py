"""Row accounting for the pseudo-labeler: every unlabeled row ends up kept or filtered.

The pipeline emits one event name per row and stage (counted with Beam combiners, so
the numbers are exact on every runner, unlike best-effort metrics); `PseudoLabelCounts`
turns the event totals into the report written next to the output splits.

Example:

>>> counts = PseudoLabelCounts.from_events({
...     "unlabeled_in": 5, "pseudo_labeled_out": 3, "filtered/low_confidence": 2,
...     "human_train": 4, "language_in/en": 5, "language_out/en": 3})
>>> counts.reconciles()
True
>>> counts.as_dict()["filtered"]["low_confidence"], counts.as_dict()["by_language"]
(2, {'en': {'in': 5, 'out': 3}})
"""

import json
from typing import Dict, Mapping

UNLABELED_IN = "unlabeled_in"
PSEUDO_LABELED_OUT = "pseudo_labeled_out"
# Pseudo-labeled rows of held-out queries, written to `eval` (part of pseudo_labeled_out).
PSEUDO_HELD_OUT = "pseudo_held_out"
HUMAN_TRAIN = "human_train"
HUMAN_EVAL = "human_eval"
FILTERED_PREFIX = "filtered/"
HUMAN_QUARANTINED_PREFIX = "human_quarantined/"
LANGUAGE_IN_PREFIX = "language_in/"
LANGUAGE_OUT_PREFIX = "language_out/"

# Why an unlabeled row was not kept. Every reason is always reported, zero or not, so
# dashboards and alerts see a stable schema.
UNPARSEABLE = "unparseable"  # not a tf.Example with query_id and item_id
TEACHER_ERROR = "teacher_error"  # the teacher failed on the row or returned NaN/inf
ALREADY_LABELED = "already_labeled"  # the pair has a human grade in train or eval
LOW_CONFIDENCE = "low_confidence"  # max probability below confidence_threshold
PER_QUERY_CAP = "per_query_cap"
VOLUME_CAP = "volume_cap"
LANGUAGE_CAP = "language_cap"  # the volume budget split evenly over languages
NOT_SAMPLED = "not_sampled"  # the cap needed only a sample of the pool scored (sampling.py)
REASONS = (
    UNPARSEABLE,
    TEACHER_ERROR,
    ALREADY_LABELED,
    LOW_CONFIDENCE,
    PER_QUERY_CAP,
    VOLUME_CAP,
    LANGUAGE_CAP,
    NOT_SAMPLED,
)

COUNTS_FILE_NAME = "pseudo_label_counts.json"


def filtered(reason: str) -> str:
    return FILTERED_PREFIX + reason


def language_in(language: str) -> str:
    return LANGUAGE_IN_PREFIX + language


def language_out(language: str) -> str:
    return LANGUAGE_OUT_PREFIX + language


def human_quarantined(split: str) -> str:
    return HUMAN_QUARANTINED_PREFIX + split


class PseudoLabelCounts:
    """Totals of one pseudo-labeling run, built from event counts."""

    def __init__(self, report: Dict):
        self._report = report

    @classmethod
    def from_events(cls, events: Mapping[str, int]) -> "PseudoLabelCounts":
        def with_prefix(prefix):
            return {
                name[len(prefix):]: int(n) for name, n in events.items() if name.startswith(prefix)
            }

        unknown_reasons = set(with_prefix(FILTERED_PREFIX)) - set(REASONS)
        if unknown_reasons:
            raise ValueError(f"unknown filter reasons: {sorted(unknown_reasons)}")
        languages_in = with_prefix(LANGUAGE_IN_PREFIX)
        languages_out = with_prefix(LANGUAGE_OUT_PREFIX)
        report = {
            UNLABELED_IN: int(events.get(UNLABELED_IN, 0)),
            PSEUDO_LABELED_OUT: int(events.get(PSEUDO_LABELED_OUT, 0)),
            PSEUDO_HELD_OUT: int(events.get(PSEUDO_HELD_OUT, 0)),
            "filtered": {reason: with_prefix(FILTERED_PREFIX).get(reason, 0) for reason in REASONS},
            HUMAN_TRAIN: int(events.get(HUMAN_TRAIN, 0)),
            HUMAN_EVAL: int(events.get(HUMAN_EVAL, 0)),
            "human_quarantined": with_prefix(HUMAN_QUARANTINED_PREFIX),
            "by_language": {
                language: {"in": languages_in.get(language, 0), "out": languages_out.get(language, 0)}
                for language in sorted(set(languages_in) | set(languages_out))
            },
        }
        return cls(report)

    @classmethod
    def from_json(cls, text: str) -> "PseudoLabelCounts":
        return cls(json.loads(text))

    def as_dict(self) -> Dict:
        return json.loads(json.dumps(self._report))

    def to_json(self) -> str:
        return json.dumps(self._report, indent=2, sort_keys=True) + "\n"

    def reconciles(self) -> bool:
        """in = out + sum(filtered), overall and for each language's in >= out."""
        report = self._report
        total_filtered = sum(report["filtered"].values())
        languages_ok = all(v["out"] <= v["in"] for v in report["by_language"].values())
        language_totals_ok = (
            sum(v["in"] for v in report["by_language"].values()) == report[UNLABELED_IN]
            and sum(v["out"] for v in report["by_language"].values())
            == report[PSEUDO_LABELED_OUT]
        )
        return (
            report[UNLABELED_IN] == report[PSEUDO_LABELED_OUT] + total_filtered
            and report.get(PSEUDO_HELD_OUT, 0) <= report[PSEUDO_LABELED_OUT]
            and languages_ok
            and language_totals_ok
        )

    def summary(self) -> str:
        report = self._report
        nonzero = {r: n for r, n in report["filtered"].items() if n}
        return (
            f"PseudoLabeler: {report[UNLABELED_IN]} unlabeled in, "
            f"{report[PSEUDO_LABELED_OUT]} pseudo-labeled out "
            f"({report.get(PSEUDO_HELD_OUT, 0)} held out for eval), filtered {nonzero or 'none'}; "
            f"human train {report[HUMAN_TRAIN]}, human eval {report[HUMAN_EVAL]}, "
            f"human quarantined {report['human_quarantined'] or 'none'}; "
            f"{len(report['by_language'])} languages"
        )
