"""Score what can be kept: a deterministic sample of the unlabeled pool, sized from the
volume cap, instead of the whole pool.

With a cap of B pseudo-labels and a pool of N >> B candidates, scoring all N and keeping
the B most confident spends most of the teacher's time on rows that are thrown away.
When the cap binds, the PseudoLabeler scores a sample instead:

1. **Positions.** Each query's candidates are ordered by a stable hash of the pair and
   given positions ``(rank + u_q) / n_q`` in [0, 1), where ``u_q`` in [0, 1) is a stable
   hash of the query id. The rows below any fraction ``f`` are then a sample of
   ``floor(f * n_q)`` or ``ceil(f * n_q)`` rows of every query (stratified by query, hence
   by language), the same on every runner, and a smaller sample is part of a larger one.
2. **Keep rate.** With a confidence threshold, a pilot slice (the rows below
   ``PILOT_ROWS / N``) is scored first; the share of it that passes the threshold is the
   keep rate ``r`` (at least ``MIN_KEEP_RATE``). Without a threshold ``r = 1`` and there is
   no pilot.
3. **Sample size.** Each budget group (the whole pool; each language with
   `balance_languages`) with budget ``B_g`` and ``N_g`` candidates scores the rows below
   ``f_g = min(1, MARGIN * B_g / (r * N_g))``. ``MARGIN`` (1.25) covers the keep rate
   being lower on the pool than on the pilot by up to 20%, and leaves the cap a quarter
   more rows to choose the most confident from.

Rows above ``f_g`` are counted as `counts.NOT_SAMPLED`, so ``unlabeled = pseudo_labeled_out
+ sum(filtered)`` still holds. The caps then run on the scored rows exactly as before.
A per-query cap (`max_per_query`) is applied after scoring and is not part of the sizing:
when it binds hard, the sample can hold fewer keepable rows than the volume cap allows
(`score_all_unlabeled` scores everything, as before).

Example (positions of one query's three rows):

>>> rows = [(b"q1", b"q1\\x1fa"), (b"q1", b"q1\\x1fb"), (b"q1", b"q1\\x1fc")]
>>> positions = query_positions(b"q1", [pair for _, pair in rows])
>>> sorted(round(p, 3) for p in positions.values())
[0.274, 0.607, 0.94]
>>> sample_fraction(budget=10, candidates=100, keep_rate=0.5)
0.25
>>> sample_fraction(budget=None, candidates=100, keep_rate=1.0)
1.0
"""

from typing import Dict, Iterable, Mapping, Optional, Sequence

import apache_beam as beam

from components.hashing import stable_hash
from components.pseudo_labeler import ranking
from components.pseudo_labeler.teacher import ScoreWithTeacher

# How many candidates the pilot scores to measure the confidence filter's keep rate.
PILOT_ROWS = 512
# The sample is this much larger than the cap needs at the pilot's keep rate.
MARGIN = 1.25
# A pilot that keeps (almost) nothing must not make the sample the whole pool: below
# this keep rate the sample is sized as if this share passed.
MIN_KEEP_RATE = 0.05

SAMPLED = "sampled"
NOT_SAMPLED = "not_sampled"
PILOT = "pilot"
FAILED_OUTPUT = ScoreWithTeacher.FAILED

_HASH_RANGE = float(2 ** 63)


def query_positions(query_id: bytes, pairs: Sequence[bytes]) -> Dict[bytes, float]:
    """Each pair's position in [0, 1) within its query (see the module docstring)."""
    offset = stable_hash(b"sample\x1f" + query_id) / _HASH_RANGE
    ordered = sorted(pairs, key=lambda pair: (stable_hash(pair), pair))
    return {pair: (rank + offset) / len(ordered) for rank, pair in enumerate(ordered)}


def sample_fraction(budget: Optional[int], candidates: int, keep_rate: float) -> float:
    """The share of a group's candidates to score: enough, at `keep_rate`, to fill
    `budget` with MARGIN to spare (1.0 with no budget)."""
    if budget is None or candidates <= 0:
        return 1.0
    return min(1.0, MARGIN * budget / (max(keep_rate, MIN_KEEP_RATE) * candidates))


def keep_rate(kept: int, scored: int) -> float:
    """The pilot's share of rows that pass the confidence threshold (1.0 with no pilot).

    >>> keep_rate(30, 120), keep_rate(0, 0)
    (0.25, 1.0)
    """
    return kept / scored if scored else 1.0


def _positioned(query_and_candidates):
    query_id, candidates = query_and_candidates
    candidates = list(candidates)
    # Exact duplicates of a pair share a position; they are scored or skipped together.
    positions = query_positions(query_id, sorted({c.pair for c in candidates}))
    for candidate in candidates:
        yield positions[candidate.pair], candidate


class PositionInQuery(beam.PTransform):
    """Candidates -> (position in [0, 1), candidate); one query's rows are held together."""

    def expand(self, candidates):
        return (candidates
                | "KeyByQueryForSample" >> beam.Map(lambda c: (c.query_id, c))
                | "GroupByQueryForSample" >> beam.GroupByKey()
                | "Position" >> beam.FlatMap(_positioned))


def split_pilot(positioned, pilot_fraction):
    """(pilot candidates, the rest as (position, candidate)) for a singleton fraction."""
    def route(position_and_candidate, fraction):
        position, candidate = position_and_candidate
        if position < fraction:
            yield beam.pvalue.TaggedOutput(PILOT, candidate)
        else:
            yield position_and_candidate

    routed = positioned | "SplitPilot" >> beam.FlatMap(
        route, beam.pvalue.AsSingleton(pilot_fraction)).with_outputs(PILOT, main="rest")
    return routed[PILOT], routed.rest


def draw_sample(positioned, fractions, group_fn):
    """(sampled candidates, not-sampled candidates): a row is drawn when its position is
    below its group's fraction (`fractions`: singleton dict group -> fraction)."""
    def route(position_and_candidate, fractions_by_group):
        position, candidate = position_and_candidate
        if position < fractions_by_group.get(group_fn(candidate), 1.0):
            yield candidate
        else:
            yield beam.pvalue.TaggedOutput(NOT_SAMPLED, candidate)

    routed = positioned | "DrawSample" >> beam.FlatMap(
        route, beam.pvalue.AsSingleton(fractions)).with_outputs(NOT_SAMPLED, main=SAMPLED)
    return routed[SAMPLED], routed[NOT_SAMPLED]


def group_fractions(total_budget: Optional[int], candidates_per_group: Mapping[str, int],
                    balance_groups: bool, rate: float) -> Dict[str, float]:
    """Each budget group's sample fraction.

    >>> group_fractions(20, {"de": 100, "en": 300}, balance_groups=True, rate=1.0)
    {'de': 0.125, 'en': 0.041666666666666664}
    """
    budgets = ranking.group_budgets(total_budget, candidates_per_group, balance_groups)
    return {group: sample_fraction(budgets[group], count, rate)
            for group, count in candidates_per_group.items()}


def pilot_fraction(total_candidates: int, has_threshold: bool) -> float:
    """The share of the pool the pilot scores (0 without a confidence threshold).

    >>> pilot_fraction(2048, True), pilot_fraction(100, True), pilot_fraction(2048, False)
    (0.25, 1.0, 0.0)
    """
    if not has_threshold or total_candidates <= 0:
        return 0.0
    return min(1.0, PILOT_ROWS / total_candidates)


def count_per_group(pcoll, group_fn, label: str):
    """Singleton dict group -> count (every group of `pcoll`; empty dict when empty)."""
    return (pcoll
            | f"GroupOf[{label}]" >> beam.Map(lambda element: group_fn(element[1]))
            | f"CountPerGroup[{label}]" >> beam.combiners.Count.PerElement()
            | f"CountsToDict[{label}]" >> beam.combiners.ToDict())



def _sum_pairs(pairs):
    kept = scored = 0
    for pair_kept, pair_scored in pairs:
        kept += pair_kept
        scored += pair_scored
    return kept, scored


def score_sample(candidates, budget, config, group_fn, score_fn):
    """Scores the pilot and then the sample the budget needs.

    Args:
        candidates: the unlabeled pool (after the filters that need no teacher).
        budget: singleton PCollection, the total volume budget (int).
        config: the `LabelingConfig` (confidence threshold, languages balanced or not).
        group_fn: candidate -> its budget group (`selection.budget_group_fn`).
        score_fn: (candidates, label, expected rows) -> `scoring.score_candidates`'s outputs.

    Returns:
        (scored candidates, candidates the teacher failed on, candidates not drawn).
    """
    threshold = config.confidence_threshold
    positioned = candidates | "PositionInQuery" >> PositionInQuery()
    per_group = count_per_group(positioned, group_fn, "pool")
    fraction = per_group | "PilotFraction" >> beam.Map(
        lambda counts: pilot_fraction(sum(counts.values()), threshold > 0))
    pilot, rest = split_pilot(positioned, fraction)
    pilot_scored = score_fn(pilot, "unlabeled pilot", 0)
    rate = (pilot_scored["scored"]
            | "PilotKept" >> beam.Map(lambda c: (int(c.confidence >= threshold), 1))
            | "PilotTotals" >> beam.CombineGlobally(_sum_pairs)
            | "PilotKeepRate" >> beam.Map(lambda totals: keep_rate(*totals)))
    fractions = budget | "SampleFractions" >> beam.Map(
        lambda total, counts, rate_: group_fractions(total, counts, config.balance_languages,
                                                     rate_),
        beam.pvalue.AsSingleton(per_group), beam.pvalue.AsSingleton(rate))
    sampled, not_sampled = draw_sample(rest, fractions, group_fn)
    expected = sampled | "CountSampled" >> beam.combiners.Count.Globally()
    main_scored = score_fn(sampled, "unlabeled", expected)
    scored = ((pilot_scored["scored"], main_scored["scored"])
              | "FlattenScored" >> beam.Flatten())
    failed = ((pilot_scored[FAILED_OUTPUT], main_scored[FAILED_OUTPUT])
              | "FlattenFailed" >> beam.Flatten())
    return scored, failed, not_sampled
