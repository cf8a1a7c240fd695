"""Paired bootstrap over queries: how much of a difference between two models scored on
the same eval rows is sampling noise.

Rows of one query are not independent (same query, same annotator, same ranking), so
the unit resampled is the *query*: B times, draw as many queries as there are, with
replacement (a fixed seed: the same inputs always give the same answer), and recompute
the difference "model a - model b" on the resampled queries. The standard error (SE) is
the standard deviation of those B differences; an observed difference within about two
SEs of 0 is not evidence that one model is better.

How the difference is recomputed on a resample:

* nDCG@k: the mean of the per-query differences (queries with at least two distinct
  grades, as `evaluation.metrics.mean_ndcg` averages over);
* accuracy: the pooled row accuracy difference, sum over the drawn queries of
  (rows a gets right - rows b gets right) / sum of their rows;
* qwk, auroc_ge_t: the metric itself on the drawn queries' rows (a query drawn twice
  counts twice).

Example:
>>> import numpy as np
>>> a, b = np.array([0.9, 0.8, 0.7, 0.95]), np.array([0.85, 0.8, 0.75, 0.9])
>>> round(paired_bootstrap_se(a, b, resamples=1000, seed=0), 4)
0.0209
"""

from typing import Callable, Dict, Optional, Sequence

import numpy as np

from evaluation import metrics

DEFAULT_SEED = 0
# Index draws are made in blocks of at most this many (resample, query) cells, ~32 MB;
# the blocks come from one generator, so the draws are those of a single matrix.
_BLOCK_CELLS = 1 << 22


def _resampled(per_query_statistics: Callable[[np.ndarray], np.ndarray], num_queries: int,
               resamples: int, seed: int) -> np.ndarray:
    """statistics([r, num_queries] drawn query indices) -> [r], for all `resamples` rows,
    drawn as `np.random.default_rng(seed).integers(0, n, (resamples, n))` would be."""
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_CELLS // max(num_queries, 1))
    parts = []
    for start in range(0, resamples, block):
        rows = min(block, resamples - start)
        parts.append(per_query_statistics(rng.integers(0, num_queries, (rows, num_queries))))
    return np.concatenate(parts) if parts else np.zeros(0)


def paired_bootstrap_differences(per_query_a, per_query_b, resamples: int,
                                 seed: int = DEFAULT_SEED) -> np.ndarray:
    """The B resampled means of per-query differences a - b (paired: same query order).

    Example:
    >>> paired_bootstrap_differences([1.0, 0.5], [0.5, 0.5], resamples=3, seed=0).round(2)
    array([0.  , 0.25, 0.5 ])
    """
    differences = (np.asarray(per_query_a, dtype=np.float64)
                   - np.asarray(per_query_b, dtype=np.float64))
    return _resampled(lambda drawn: differences[drawn].mean(axis=1), len(differences),
                      resamples, seed)


def paired_bootstrap_se(per_query_a, per_query_b, resamples: int,
                        seed: int = DEFAULT_SEED) -> Optional[float]:
    """Standard error of mean(a - b) over queries; None with fewer than two queries."""
    if len(per_query_a) < 2:
        return None
    return float(paired_bootstrap_differences(per_query_a, per_query_b, resamples, seed).std())


def pooled_accuracy_differences(correct_a, correct_b, query_ids, resamples: int,
                                seed: int = DEFAULT_SEED) -> np.ndarray:
    """The B resampled pooled row accuracy differences a - b (queries resampled)."""
    groups = list(metrics.rows_by_query(query_ids).values())
    gained = np.asarray(correct_a, dtype=np.float64) - np.asarray(correct_b, dtype=np.float64)
    per_query_gain = np.array([gained[rows].sum() for rows in groups])
    per_query_rows = np.array([len(rows) for rows in groups], dtype=np.float64)
    return _resampled(
        lambda drawn: per_query_gain[drawn].sum(axis=1) / per_query_rows[drawn].sum(axis=1),
        len(groups), resamples, seed)


def _metric_on_rows(metric: str, num_grades: int):
    """(grades, probabilities) -> value of a `evaluation.metrics` key other than nDCG."""
    if metric == "qwk":
        return lambda grades, probabilities: metrics.quadratic_weighted_kappa(
            grades, metrics.predicted_grade(probabilities), num_grades)
    if metric.startswith("auroc_ge_"):
        threshold = int(metric[len("auroc_ge_"):])
        return lambda grades, probabilities: metrics.auroc(
            grades >= threshold, probabilities[:, threshold - 1:].sum(axis=1))
    raise ValueError(f"no paired bootstrap for metric {metric!r} "
                     "(accuracy, qwk, ndcg@k, auroc_ge_t)")


def metric_difference_se(
    metric: str, grades: Sequence[int], probabilities_a, probabilities_b,
    query_ids: Sequence, resamples: int, seed: int = DEFAULT_SEED,
) -> Dict[str, Optional[float]]:
    """Paired bootstrap over queries of `metric`(a) - `metric`(b) on the same rows.

    Returns {"standard_error", "difference" (on all the rows), "queries", "rows"}: the
    queries resampled and their rows (for nDCG, the queries with two or more grades).
    `standard_error` is None with fewer than two queries, or when the metric is
    undefined on almost every resample.

    Example:
    >>> grades = [2, 1, 2, 1, 1, 2]
    >>> a = np.array([[0.2, 0.8], [0.7, 0.3], [0.4, 0.6], [0.9, 0.1], [0.6, 0.4], [0.1, 0.9]])
    >>> b = np.array([[0.6, 0.4], [0.7, 0.3], [0.4, 0.6], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    >>> result = metric_difference_se("accuracy", grades, a, b, list("qqrrss"), 1000)
    >>> round(result["difference"], 4), round(result["standard_error"], 4), result["queries"]
    (0.3333, 0.1365, 3)
    """
    grades = np.asarray(grades, dtype=np.int64)
    probabilities_a = np.asarray(probabilities_a, dtype=np.float64)
    probabilities_b = np.asarray(probabilities_b, dtype=np.float64)
    if not len(grades) == len(probabilities_a) == len(probabilities_b) == len(query_ids):
        raise ValueError(f"{len(grades)} grades, {len(probabilities_a)} and "
                         f"{len(probabilities_b)} probability rows, {len(query_ids)} query "
                         "ids: they must be as many")
    query_ids = np.asarray(query_ids, dtype=object)
    if metric.startswith("ndcg@"):
        cutoff = int(metric[len("ndcg@"):])
        by_query_a = metrics.ndcg_by_query(
            grades, metrics.expected_grade(probabilities_a), query_ids, cutoff)
        by_query_b = metrics.ndcg_by_query(
            grades, metrics.expected_grade(probabilities_b), query_ids, cutoff)
        a = np.array(list(by_query_a.values()))
        b = np.array([by_query_b[query] for query in by_query_a])
        groups = metrics.rows_by_query(query_ids)
        rows = sum(len(groups[query]) for query in by_query_a)
        return {"standard_error": paired_bootstrap_se(a, b, resamples, seed),
                "difference": float(np.mean(a - b)) if len(a) else None,
                "queries": len(a), "rows": rows}
    queries = len(metrics.rows_by_query(query_ids))
    result = {"queries": queries, "rows": int(len(grades))}
    if metric == "accuracy":
        correct_a = metrics.predicted_grade(probabilities_a) == grades
        correct_b = metrics.predicted_grade(probabilities_b) == grades
        result["difference"] = (float(np.mean(correct_a) - np.mean(correct_b))
                                if len(grades) else None)
        result["standard_error"] = (
            float(pooled_accuracy_differences(correct_a, correct_b, query_ids, resamples,
                                              seed).std())
            if queries >= 2 else None)
        return result
    value = _metric_on_rows(metric, probabilities_a.shape[1])
    result["difference"] = _difference(value, grades, probabilities_a, probabilities_b,
                                       np.arange(len(grades)))
    result["standard_error"] = (
        _generic_se(value, grades, probabilities_a, probabilities_b, query_ids, resamples, seed)
        if queries >= 2 else None)
    return result


def _difference(value, grades, probabilities_a, probabilities_b, rows) -> Optional[float]:
    first = value(grades[rows], probabilities_a[rows])
    second = value(grades[rows], probabilities_b[rows])
    return None if first is None or second is None else first - second


def _generic_se(value, grades, probabilities_a, probabilities_b, query_ids, resamples,
                seed) -> Optional[float]:
    groups = list(metrics.rows_by_query(query_ids).values())

    def differences(drawn: np.ndarray) -> np.ndarray:
        values = [_difference(value, grades, probabilities_a, probabilities_b,
                              np.concatenate([groups[query] for query in queries]))
                  for queries in drawn]
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    resampled = _resampled(differences, len(groups), resamples, seed)
    defined = resampled[~np.isnan(resampled)]
    # A metric undefined on most resamples (e.g. one class only) has no usable spread.
    if len(defined) < max(2, resamples // 2):
        return None
    return float(defined.std())
