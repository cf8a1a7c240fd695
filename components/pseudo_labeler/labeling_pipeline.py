"""The Beam graph of the pseudo-labeler: read, score, select, write, count.

Kept free of TFX artifacts so it can be run and tested on plain paths.

Example:

    config = LabelingConfig(model_path="/teacher/Format-Serving", teacher_id="/teacher",
                            num_grades=5, max_per_query=20)
    with beam.Pipeline() as pipeline:
        build_labeling_graph(pipeline, config, LabelingPaths(
            input_patterns={"train": [...], "eval": [...], "unlabeled": [...]},
            output_split_dirs={"train": "/out/Split-train", "eval": "/out/Split-eval"},
            quarantine_dir="/out/quarantine", scratch_dir="/out/_scratch"))
"""

import dataclasses
from typing import Dict, List, Optional

import apache_beam as beam

from components.event_counts import WriteEventTotals
from components.pseudo_labeler import counts, ranking, records, sampling, selection
from components.pseudo_labeler.config import LabelingConfig  # noqa: F401 - re-exported
from components.pseudo_labeler.records import Candidate
from components.pseudo_labeler.scoring import score_candidates
from components.pseudo_labeler.teacher import ScoreWithTeacher
from components.sharded_writer import WriteDeterministicShards
from relevance import contract

_PARSED = "parsed"
_ALREADY_LABELED = "already_labeled"
_LOW_CONFIDENCE = "low_confidence"


@dataclasses.dataclass(frozen=True)
class LabelingPaths:
    """Where to read (file patterns per input split) and write."""

    input_patterns: Dict[str, List[str]]
    output_split_dirs: Dict[str, str]
    quarantine_dir: str
    scratch_dir: str  # removed by the caller after the run
    # Rows per input split, for progress lines (0 or absent: unknown).
    expected_rows: Dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def events_path(self) -> str:
        return f"{self.scratch_dir}/events.json"


class _Parse(beam.DoFn):
    def process(self, serialized: bytes):
        try:
            yield records.parse_candidate(serialized)
        except records.UnparseableExampleError:
            yield beam.pvalue.TaggedOutput(counts.UNPARSEABLE, serialized)


def _read_split(pipeline, split: str, patterns: List[str]):
    reads = [
        pipeline
        | f"Read[{split}][{index}]"
        >> beam.io.ReadFromTFRecord(pattern, coder=beam.coders.BytesCoder())
        for index, pattern in enumerate(patterns)
    ]
    return reads | f"FlattenReads[{split}]" >> beam.Flatten(pipeline=pipeline)


def _parse(raw, split: str):
    """Returns (candidates, raw records that are not canonical examples)."""
    parsed = raw | f"Parse[{split}]" >> beam.ParDo(_Parse()).with_outputs(
        counts.UNPARSEABLE, main=_PARSED
    )
    return parsed[_PARSED], parsed[counts.UNPARSEABLE]


def _to_dir(records, output_dir: str, label: str):
    return records | f"ToDir[{label}]" >> beam.Map(lambda record: (output_dir, record))


def _events(pcoll, label: str, event_fn) -> beam.PCollection:
    """One event name per element (or a list of names, counted each)."""
    def as_list(element):
        events = event_fn(element)
        return events if isinstance(events, list) else [events]

    return pcoll | label >> beam.FlatMap(as_list)


def _skip_without_budget(candidates, budget):
    """(candidates, unbudgeted): when the volume budget is 0 (a human-only run, e.g. a
    scaling experiment's 0x) no candidate could be kept, so none is sent to the teacher;
    they are counted under the volume cap, as if scored and capped."""
    def route(candidate, total_budget):
        if total_budget == 0:
            yield beam.pvalue.TaggedOutput("unbudgeted", candidate)
        else:
            yield candidate

    routed = candidates | "SkipWithoutBudget" >> beam.FlatMap(
        route, beam.pvalue.AsSingleton(budget)).with_outputs("unbudgeted", main="candidates")
    return routed.candidates, routed.unbudgeted


def _drop_already_labeled(candidates, human_pairs):
    def split_pair(pair_and_groups):
        _, groups = pair_and_groups
        labeled = bool(list(groups["human"]))
        for candidate in groups["unlabeled"]:
            if labeled:
                yield beam.pvalue.TaggedOutput(_ALREADY_LABELED, candidate)
            else:
                yield candidate

    joined = {
        "unlabeled": candidates | "KeyByPair" >> beam.Map(lambda c: (c.pair, c)),
        "human": human_pairs,
    } | "JoinHumanPairs" >> beam.CoGroupByKey()
    outputs = joined | "DropAlreadyLabeled" >> beam.ParDo(split_pair).with_outputs(
        _ALREADY_LABELED, main=_PARSED
    )
    return outputs[_PARSED], outputs[_ALREADY_LABELED]


def _drop_low_confidence(scored, threshold: float):
    def split_confident(candidate):
        if candidate.confidence < threshold:
            yield beam.pvalue.TaggedOutput(_LOW_CONFIDENCE, candidate)
        else:
            yield candidate

    outputs = scored | "DropLowConfidence" >> beam.ParDo(split_confident).with_outputs(
        _LOW_CONFIDENCE, main=_PARSED
    )
    return outputs[_PARSED], outputs[_LOW_CONFIDENCE]


def is_held_out(query_id: bytes, eval_holdout_percent: float) -> bool:
    """Whether a query's pseudo-labels go to `eval` (whole queries, by a stable hash).

    Example:
    >>> is_held_out(b"q1", 0.0), is_held_out(b"q1", 100.0)
    (False, True)
    """
    return ranking.stable_hash(query_id) % 10_000 < eval_holdout_percent * 100


def _hold_out_queries(kept, eval_holdout_percent: float):
    """(train, held-out) pseudo-labeled candidates; held-out queries never reach training."""
    parts = kept | "HoldOutQueries" >> beam.Partition(
        lambda candidate, _: int(is_held_out(candidate.query_id, eval_holdout_percent)), 2
    )
    return parts[0], parts[1]


def build_labeling_graph(pipeline, config: LabelingConfig, paths: LabelingPaths) -> None:
    """Adds the whole pseudo-labeling graph to `pipeline`."""
    events = []
    outputs = []  # (output_dir, serialized example) for the one writer
    quarantine = {}
    human_pairs, human_train_out, human_train_count = _label_human_splits(
        pipeline, config, paths, events, outputs, quarantine)
    kept, held_out = _label_unlabeled(
        pipeline, config, paths, human_pairs, human_train_count, events, quarantine)
    pseudo_out, pseudo_eval_out = (
        candidates_out
        | f"ToExample[{label}]"
        >> beam.Map(records.to_output_example, contract.LABEL_SOURCE_PSEUDO, config.teacher_id)
        for label, candidates_out in (("pseudo", kept), ("pseudo_eval", held_out))
    )
    train_dir = paths.output_split_dirs[contract.SPLIT_TRAIN]
    outputs.append(_to_dir(human_train_out, train_dir, "HumanTrain"))
    outputs.append(_to_dir(pseudo_out, train_dir, "PseudoTrain"))
    outputs.append(
        _to_dir(pseudo_eval_out, paths.output_split_dirs[contract.SPLIT_EVAL], "PseudoEval")
    )
    for quarantined_split, quarantined in sorted(quarantine.items()):
        outputs.append(_to_dir(quarantined, f"{paths.quarantine_dir}/{quarantined_split}",
                               f"Quarantine[{quarantined_split}]"))
    _ = outputs | "FlattenOutputs" >> beam.Flatten() | "Write" >> WriteDeterministicShards(
        paths.scratch_dir, order_key=records.order_key)
    _write_events(events, paths.events_path)


def _label_human_splits(pipeline, config: LabelingConfig, paths: LabelingPaths,
                        events: list, outputs: list, quarantine: dict):
    """Scores the human train and eval rows (eval goes to `outputs` at once).

    Returns (human (pair, None) PCollections, the human train examples, their count).
    """
    human_pairs = []
    human_train_out = None
    human_train_count: Optional[beam.PCollection] = None
    for split, event in ((contract.SPLIT_TRAIN, counts.HUMAN_TRAIN),
                         (contract.SPLIT_EVAL, counts.HUMAN_EVAL)):
        raw = _read_split(pipeline, split, paths.input_patterns[split])
        parsed, unparseable = _parse(raw, split)
        scored = score_candidates(parsed, split, config, paths.expected_rows.get(split, 0))
        human_pairs.append(parsed | f"HumanPair[{split}]" >> beam.Map(lambda c: (c.pair, None)))
        failed = scored[ScoreWithTeacher.FAILED] | f"FailedBytes[{split}]" >> beam.Map(
            lambda c: c.serialized
        )
        quarantine[split] = (unparseable, failed) | f"Quarantine[{split}]" >> beam.Flatten()
        events.append(_events(scored["scored"], f"Count[{split}]", lambda _, e=event: e))
        events.append(_events(quarantine[split], f"CountQuarantined[{split}]",
                              lambda _, s=split: counts.human_quarantined(s)))
        labeled = scored["scored"] | f"ToExample[{split}]" >> beam.Map(
            records.to_output_example, contract.LABEL_SOURCE_HUMAN, config.teacher_id
        )
        if split == contract.SPLIT_TRAIN:
            human_train_out = labeled
            human_train_count = scored["scored"] | "CountHumanTrain" >> beam.combiners.Count.Globally()
        else:
            outputs.append(_to_dir(labeled, paths.output_split_dirs[contract.SPLIT_EVAL], "Eval"))
    return human_pairs, human_train_out, human_train_count


def _label_unlabeled(pipeline, config: LabelingConfig, paths: LabelingPaths, human_pairs,
                     human_train_count, events: list, quarantine: dict):
    """Filters, scores and selects the unlabeled rows; returns (kept, held out of training)."""
    split = contract.SPLIT_UNLABELED
    raw = _read_split(pipeline, split, paths.input_patterns[split])
    events.append(_events(raw, "CountUnlabeledIn", lambda _: counts.UNLABELED_IN))
    candidates, unparseable = _parse(raw, split)
    events.append(_events(unparseable, "CountUnparseable", lambda _: [
        counts.filtered(counts.UNPARSEABLE), counts.language_in(records.UNKNOWN_LANGUAGE)]))
    events.append(_events(candidates, "CountLanguageIn", lambda c: counts.language_in(c.language)))

    if config.drop_human_labeled_pairs:
        all_human_pairs = human_pairs | "FlattenHumanPairs" >> beam.Flatten()
        candidates, already_labeled = _drop_already_labeled(candidates, all_human_pairs)
        events.append(_events(already_labeled, "CountAlreadyLabeled",
                              lambda _: counts.filtered(counts.ALREADY_LABELED)))

    budget = None
    if config.max_volume_multiple > 0 or config.balance_languages:
        budget = selection.total_budget_view(human_train_count, config.max_volume_multiple)
        volume_reason = counts.LANGUAGE_CAP if config.balance_languages else counts.VOLUME_CAP
        candidates, unbudgeted = _skip_without_budget(candidates, budget)
        events.append(_events(unbudgeted, "CountNoBudget",
                              lambda _: counts.filtered(volume_reason)))

    if budget is not None and not config.score_all_unlabeled:
        scored, failed, not_sampled = sampling.score_sample(
            candidates, budget, config, selection.budget_group_fn(config.balance_languages),
            lambda rows, label, expected: score_candidates(rows, label, config, expected))
        events.append(_events(not_sampled, "CountNotSampled",
                              lambda _: counts.filtered(counts.NOT_SAMPLED)))
    else:
        outputs = score_candidates(candidates, split, config, paths.expected_rows.get(split, 0))
        scored, failed = outputs["scored"], outputs[ScoreWithTeacher.FAILED]
    events.append(_events(failed, "CountTeacherError",
                          lambda _: counts.filtered(counts.TEACHER_ERROR)))
    quarantine[split] = (
        unparseable,
        failed | "FailedBytes[unlabeled]" >> beam.Map(lambda c: c.serialized),
    ) | "Quarantine[unlabeled]" >> beam.Flatten()

    confident, low_confidence = _drop_low_confidence(scored, config.confidence_threshold)
    events.append(_events(low_confidence, "CountLowConfidence",
                          lambda _: counts.filtered(counts.LOW_CONFIDENCE)))

    per_query = confident | "CapPerQuery" >> selection.CapPerQuery(config.max_per_query)
    events.append(_events(per_query[selection.DROPPED], "CountPerQueryCap",
                          lambda _: counts.filtered(counts.PER_QUERY_CAP)))
    kept = per_query[selection.KEPT]

    if budget is not None:
        volume = kept | "CapVolume" >> selection.CapVolume(budget, config.balance_languages)
        events.append(_events(volume[selection.DROPPED], "CountVolumeCap",
                              lambda _: counts.filtered(volume_reason)))
        kept = volume[selection.KEPT]

    events.append(_events(kept, "CountOut", lambda c: [
        counts.PSEUDO_LABELED_OUT, counts.language_out(c.language)]))
    kept, held_out = _hold_out_queries(kept, config.eval_holdout_percent)
    events.append(_events(held_out, "CountHeldOut", lambda _: counts.PSEUDO_HELD_OUT))
    return kept, held_out


def _write_events(events: list, events_path: str) -> None:
    """One JSON file of event totals (counts.py reads it back)."""
    _ = tuple(events) | "WriteEventTotals" >> WriteEventTotals(events_path)
