"""Deterministic caps on scored pseudo-label candidates, as Beam transforms.

Both caps keep the best rows by `Candidate.rank_key` (confidence desc, ties broken by
a stable hash of (query_id, item_id)), so the kept set never depends on arrival order
or on how the runner splits bundles. Each returns a dict with `KEPT` and `DROPPED`
PCollections of candidates.

The volume cap never holds all candidates in one place: a confidence histogram tells
each row whether it is clearly in or clearly out, and only the rows of the one bucket
where a budget runs out are sorted together.

Example:

    per_query = candidates | CapPerQuery(max_per_query=20)
    volume = per_query[KEPT] | CapVolume(total_budget, balance_languages=False)
    kept, dropped = volume[KEPT], volume[DROPPED]
"""

from typing import Callable, Iterable, Tuple

import apache_beam as beam

from components.pseudo_labeler import ranking
from components.pseudo_labeler.records import Candidate

KEPT = "kept"
DROPPED = "dropped"
_BOUNDARY = "boundary"


def _keep_best(
    key_and_candidates: Tuple[object, Iterable[Candidate]], slots: int
) -> Iterable:
    _, candidates = key_and_candidates
    ordered = sorted(candidates, key=lambda c: c.rank_key)
    for index, candidate in enumerate(ordered):
        yield candidate if index < slots else beam.pvalue.TaggedOutput(DROPPED, candidate)


class CapPerQuery(beam.PTransform):
    """Keeps at most `max_per_query` candidates per query_id (0 = no cap).

    Args:
        max_per_query: the cap; rows of a query are sorted in memory, one query at a time.
    """

    def __init__(self, max_per_query: int):
        super().__init__()
        self._max_per_query = max_per_query

    def expand(self, candidates):
        if self._max_per_query <= 0:
            return {KEPT: candidates, DROPPED: candidates.pipeline | "NoneDropped" >> beam.Create([])}
        outputs = (
            candidates
            | "KeyByQuery" >> beam.Map(lambda c: (c.query_id, c))
            | "GroupByQuery" >> beam.GroupByKey()
            | "KeepBestPerQuery"
            >> beam.ParDo(_keep_best, slots=self._max_per_query).with_outputs(
                DROPPED, main=KEPT
            )
        )
        return {KEPT: outputs[KEPT], DROPPED: outputs[DROPPED]}


def _no_group(candidate: Candidate) -> str:
    return ""


def _language_group(candidate: Candidate) -> str:
    return candidate.language


class _SplitAtBoundary(beam.DoFn):
    def __init__(self, group_fn: Callable[[Candidate], str]):
        self._group_fn = group_fn

    def process(self, candidate: Candidate, boundaries):
        group = self._group_fn(candidate)
        boundary = boundaries.get(group)
        if boundary is None:
            yield candidate
            return
        bucket = ranking.confidence_bucket(candidate.confidence)
        if bucket > boundary[0]:
            yield candidate
        elif bucket < boundary[0]:
            yield beam.pvalue.TaggedOutput(DROPPED, candidate)
        else:
            yield beam.pvalue.TaggedOutput(_BOUNDARY, (group, candidate))


def _keep_best_of_boundary(group_and_candidates, boundaries):
    group, _ = group_and_candidates
    yield from _keep_best(group_and_candidates, slots=boundaries[group][1])


def _histogram_entry(group_fn: Callable[[Candidate], str], candidate: Candidate):
    return (group_fn(candidate), ranking.confidence_bucket(candidate.confidence)), 1


def budget_group_fn(balance_languages: bool) -> Callable[[Candidate], str]:
    """What a candidate's volume budget is shared with: its language, or every row."""
    return _language_group if balance_languages else _no_group


class CapVolume(beam.PTransform):
    """Keeps at most `total_budget` candidates overall, or per language when balancing.

    Args:
        total_budget: singleton PCollection holding the budget (int, or None = no cap).
        balance_languages: give every language the same share (see
            `ranking.group_budgets`).
    """

    def __init__(self, total_budget: beam.PCollection, balance_languages: bool):
        super().__init__()
        self._total_budget = total_budget
        self._balance_languages = balance_languages

    def expand(self, candidates):
        group_fn = budget_group_fn(self._balance_languages)
        balance = self._balance_languages
        candidates_per_group = (
            candidates
            | "GroupOf" >> beam.Map(group_fn)
            | "CountPerGroup" >> beam.combiners.Count.PerElement()
            | "CountsToDict" >> beam.combiners.ToDict()
        )
        budgets = self._total_budget | "GroupBudgets" >> beam.Map(
            lambda total, counts: ranking.group_budgets(total, counts, balance),
            counts=beam.pvalue.AsSingleton(candidates_per_group),
        )
        boundaries = (
            candidates
            | "HistogramEntry" >> beam.Map(lambda c: _histogram_entry(group_fn, c))
            | "CountPerBucket" >> beam.CombinePerKey(sum)
            | "KeyByGroup" >> beam.Map(lambda kv: (kv[0][0], (kv[0][1], kv[1])))
            | "GroupHistogram" >> beam.GroupByKey()
            | "FindBoundary"
            >> beam.Map(
                lambda kv, budgets: (kv[0], ranking.boundary_bucket(dict(kv[1]), budgets[kv[0]])),
                budgets=beam.pvalue.AsSingleton(budgets),
            )
            | "BoundariesToDict" >> beam.combiners.ToDict()
        )
        boundaries_view = beam.pvalue.AsSingleton(boundaries)
        split = candidates | "SplitAtBoundary" >> beam.ParDo(
            _SplitAtBoundary(group_fn), boundaries=boundaries_view
        ).with_outputs(DROPPED, _BOUNDARY, main=KEPT)
        resolved = (
            split[_BOUNDARY]
            | "GroupBoundaryRows" >> beam.GroupByKey()
            | "KeepBestOfBoundary"
            >> beam.ParDo(_keep_best_of_boundary, boundaries=boundaries_view).with_outputs(
                DROPPED, main=KEPT
            )
        )
        kept = (split[KEPT], resolved[KEPT]) | "FlattenKept" >> beam.Flatten()
        dropped = (split[DROPPED], resolved[DROPPED]) | "FlattenDropped" >> beam.Flatten()
        return {KEPT: kept, DROPPED: dropped}


def total_budget_view(
    human_train_count: beam.PCollection, max_volume_multiple: float
) -> beam.PCollection:
    """Singleton PCollection: the volume budget from the human train count."""
    return human_train_count | "VolumeBudget" >> beam.Map(
        lambda n: ranking.volume_budget(max_volume_multiple, n)
    )

