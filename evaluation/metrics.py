"""Offline relevance metrics on graded (query, item) pairs, in plain numpy.

Conventions shared by every function here:

* grades are integers 1..G (G = highly relevant); `probabilities` is [N, G] with class
  k holding grade k + 1, as every exported model returns it;
* the predicted grade is the argmax class + 1; the *score* used for ranking and
  calibration is the expected grade `sum_k p_k * (k + 1)` (the models' `score` output);
  `compute_all(..., scores=...)` ranks by other scores instead (nDCG and AUROC), for a
  model whose probabilities are binned from a finer score (the BM25 baseline);
* a metric that is undefined on the given data returns None (JSON null), never NaN.

Formulas (n pairs, true grade y_i, predicted grade yhat_i, expected grade s_i):

* accuracy = mean(yhat_i == y_i).
* QWK (quadratic weighted kappa) = 1 - sum(W * O) / sum(W * E), with O the G x G
  confusion counts, E = outer(histogram(y), histogram(yhat)) / n and
  W_ij = (i - j)^2 / (G - 1)^2. Grades absent from both sides add zero rows/columns, so
  they are harmless. Undefined (None) when both sides use one and the same grade only.
* AUROC at threshold t (key `auroc_ge_t`, t = 2..G): positives are y_i >= t, the score is
  P(grade >= t) = sum of the probabilities of classes t..G. This per-threshold tail
  probability is what "is this at least grade t" asks; the expected grade would rank
  every threshold the same way. Ties count 1/2 (Mann-Whitney U with mid-ranks).
  None when only positives or only negatives are present.
* nDCG@k per query: DCG = sum over the top k of (2^(y-1) - 1) / log2(rank + 1), rank
  1-based, items ordered by descending s; divided by the DCG of the ideal order. Ties in
  s are broken *pessimistically* (lower true grade first), so a constant model cannot
  look good thanks to the order of the input file. Averaged over the queries that have at
  least two distinct grades (others carry no ranking signal); None when there is none.
* ECE (expected-score calibration error): the range [1, G] of s is cut into B equal-width
  bins (default 10); ECE = sum_b (n_b / n) * |mean(s in b) - mean(y in b)|, in grade
  units (0 = calibrated expected grade).

Example:
    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    >>> m = compute_all([1, 2, 2], probs, ["q", "q", "q"], num_grades=2)
    >>> round(m["accuracy"], 3), m["auroc_ge_2"], m["ndcg@5"]
    (0.667, 1.0, 1.0)
"""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

NDCG_CUTOFFS = (5, 10, 20)
DEFAULT_CALIBRATION_BINS = 10
# The metrics a one-line summary shows (the run summary, `relevance evaluate`).
HEADLINE_METRICS = ("accuracy", "qwk", "ndcg@10")


def metric_keys(num_grades: int) -> List[str]:
    """The keys of `compute_all`'s result, in report order.

    Example:
        >>> metric_keys(3)
        ['n', 'accuracy', 'qwk', 'ndcg@5', 'ndcg@10', 'ndcg@20', 'auroc_ge_2', 'auroc_ge_3', 'ece']
    """
    return (
        ["n", "accuracy", "qwk"]
        + [f"ndcg@{k}" for k in NDCG_CUTOFFS]
        + [f"auroc_ge_{t}" for t in range(2, num_grades + 1)]
        + ["ece"]
    )


def expected_grade(probabilities) -> np.ndarray:
    """Expected grade sum_k p_k * (k + 1) of each row of [N, G] probabilities."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    grades = np.arange(1, probabilities.shape[1] + 1, dtype=np.float64)
    return probabilities @ grades


def predicted_grade(probabilities) -> np.ndarray:
    """Argmax grade (1..G) of each row; the lowest grade wins an exact tie."""
    return np.argmax(np.asarray(probabilities), axis=1) + 1


def accuracy(grades, predicted) -> Optional[float]:
    """Share of pairs whose predicted grade equals the true grade."""
    grades, predicted = np.asarray(grades), np.asarray(predicted)
    if grades.size == 0:
        return None
    return float(np.mean(grades == predicted))


def confusion_matrix(grades, predicted, num_grades: int) -> np.ndarray:
    """[G, G] counts: row = true grade, column = predicted grade."""
    matrix = np.zeros((num_grades, num_grades), dtype=np.int64)
    np.add.at(matrix, (np.asarray(grades, int) - 1, np.asarray(predicted, int) - 1), 1)
    return matrix


def quadratic_weighted_kappa(grades, predicted, num_grades: int) -> Optional[float]:
    """Cohen's kappa with quadratic weights over grades 1..G (see module docstring)."""
    if num_grades < 2 or len(grades) == 0:
        return None
    observed = confusion_matrix(grades, predicted, num_grades).astype(np.float64)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    index = np.arange(num_grades)
    weights = (index[:, None] - index[None, :]) ** 2 / (num_grades - 1) ** 2
    chance_disagreement = float(np.sum(weights * expected))
    if chance_disagreement == 0.0:
        return None  # both raters used one single grade: agreement by chance is total
    return 1.0 - float(np.sum(weights * observed)) / chance_disagreement


def _mid_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_values)) + 1]
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values), dtype=np.float64)
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return ranks


def auroc(is_positive, scores) -> Optional[float]:
    """Area under the ROC curve; ties count 1/2. None with a single class present.

    Example:
        >>> auroc([0, 0, 1, 1], [0.1, 0.4, 0.4, 0.9])
        0.875
    """
    is_positive = np.asarray(is_positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    positives = int(is_positive.sum())
    negatives = len(is_positive) - positives
    if positives == 0 or negatives == 0:
        return None
    rank_sum = _mid_ranks(scores)[is_positive].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def auroc_by_threshold(grades, probabilities) -> Dict[str, Optional[float]]:
    """`auroc_ge_t` for t = 2..G, scoring with P(grade >= t)."""
    grades = np.asarray(grades)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    return {
        f"auroc_ge_{t}": auroc(grades >= t, probabilities[:, t - 1 :].sum(axis=1))
        for t in range(2, probabilities.shape[1] + 1)
    }


def _dcg(gains_in_rank_order: np.ndarray, k: int) -> float:
    top = gains_in_rank_order[:k]
    return float(np.sum(top / np.log2(np.arange(2, len(top) + 2))))


def ndcg_for_query(grades, scores, k: int) -> Optional[float]:
    """nDCG@k of one query; None when the query has no gain (all grade 1).

    Example:
        >>> round(ndcg_for_query([3, 1, 2], [0.2, 0.9, 0.5], k=3), 4)
        0.5869
    """
    grades = np.asarray(grades, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    gains = 2.0 ** (grades - 1.0) - 1.0
    ideal = _dcg(np.sort(gains)[::-1], k)
    if ideal == 0.0:
        return None
    # lexsort: last key is primary. Descending score, then ascending grade (pessimistic).
    order = np.lexsort((grades, -scores))
    return _dcg(gains[order], k) / ideal


def ndcg_by_query(grades, scores, query_ids, k: int) -> Dict[object, float]:
    """{query id: nDCG@k} of each query with at least two distinct grades (the queries
    `mean_ndcg` averages over), in order of first appearance.

    Example:
        >>> values = ndcg_by_query([3, 1, 2, 2, 2], [0.2, 0.9, 0.5, 0.1, 0.3], list("qqqrr"), 3)
        >>> {query: round(value, 4) for query, value in values.items()}
        {'q': 0.5869}
    """
    grades = np.asarray(grades)
    scores = np.asarray(scores, dtype=np.float64)
    values = {}
    for query, rows in rows_by_query(query_ids).items():
        if len(np.unique(grades[rows])) >= 2:
            values[query] = ndcg_for_query(grades[rows], scores[rows], k)
    return values


def mean_ndcg(grades, scores, query_ids, k: int) -> Tuple[Optional[float], int]:
    """Mean nDCG@k over queries with at least two distinct grades, and their number."""
    values = list(ndcg_by_query(grades, scores, query_ids, k).values())
    if not values:
        return None, 0
    return float(np.mean(values)), len(values)


def rows_by_query(query_ids) -> Dict[object, np.ndarray]:
    """{query id: its row indices}, queries in order of first appearance."""
    groups: Dict[object, list] = {}
    for row, query in enumerate(np.asarray(query_ids, dtype=object).tolist()):
        groups.setdefault(query, []).append(row)
    return {query: np.asarray(rows) for query, rows in groups.items()}


def calibration_curve(
    grades, probabilities, num_bins: int = DEFAULT_CALIBRATION_BINS
) -> Dict[str, np.ndarray]:
    """Per non-empty bin of expected grade: mean expected grade, mean true grade, count."""
    scores = expected_grade(probabilities)
    grades = np.asarray(grades, dtype=np.float64)
    num_grades = np.asarray(probabilities).shape[1]
    edges = np.linspace(1.0, float(num_grades), num_bins + 1)
    # Inner edges only: the bottom and top bins are closed on the outside.
    bins = np.digitize(scores, edges[1:-1])
    counts = np.bincount(bins, minlength=num_bins)
    filled = counts > 0
    score_sums = np.bincount(bins, weights=scores, minlength=num_bins)
    grade_sums = np.bincount(bins, weights=grades, minlength=num_bins)
    return {
        "mean_score": score_sums[filled] / counts[filled],
        "mean_grade": grade_sums[filled] / counts[filled],
        "count": counts[filled],
    }


def expected_calibration_error(
    grades, probabilities, num_bins: int = DEFAULT_CALIBRATION_BINS
) -> Optional[float]:
    """sum_b (n_b / n) |mean expected grade - mean true grade| over bins of expected grade."""
    if len(grades) == 0:
        return None
    curve = calibration_curve(grades, probabilities, num_bins)
    gaps = np.abs(curve["mean_score"] - curve["mean_grade"])
    return float(np.sum(curve["count"] * gaps) / np.sum(curve["count"]))


def compute_all(
    grades: Sequence[int], probabilities, query_ids: Sequence[str], num_grades: int,
    scores=None,
) -> Dict[str, Optional[float]]:
    """Every metric of the module docstring for one set of predictions.

    `scores` [N], when given, is what nDCG ranks by and every `auroc_ge_t` scores with,
    instead of the expected grade and P(grade >= t); accuracy, QWK and ECE still read
    the probabilities.

    Returns the keys of `metric_keys(num_grades)` plus `ndcg_queries`, the number of
    queries the nDCG means are taken over.

    Example (grades binned from a score tie two candidates the score orders):
        >>> binned = np.array([[0.2, 0.8], [0.2, 0.8], [0.9, 0.1]])
        >>> compute_all([1, 2, 1], binned, ["q"] * 3, 2)["ndcg@5"] < 1.0
        True
        >>> compute_all([1, 2, 1], binned, ["q"] * 3, 2, scores=[0.6, 0.7, 0.1])["ndcg@5"]
        1.0

    Raises:
        ValueError: the shapes disagree, or a grade lies outside 1..G.
    """
    grades = np.asarray(grades, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1, num_grades)
    if not len(grades) == len(probabilities) == len(query_ids) or (
            scores is not None and len(scores) != len(grades)):
        raise ValueError(
            f"{len(grades)} grades, {len(probabilities)} probability rows, "
            f"{len(query_ids)} query ids and {'no' if scores is None else len(scores)} "
            "scores: they must be as many"
        )
    if len(grades) and (grades.min() < 1 or grades.max() > num_grades):
        raise ValueError(f"grades must lie in 1..{num_grades}")
    result: Dict[str, Optional[float]] = {"n": int(len(grades))}
    if len(grades) == 0:
        result.update({key: None for key in metric_keys(num_grades)[1:]})
        result["ndcg_queries"] = 0
        return result
    predicted = predicted_grade(probabilities)
    ranking = expected_grade(probabilities) if scores is None else np.asarray(scores, np.float64)
    result["accuracy"] = accuracy(grades, predicted)
    result["qwk"] = quadratic_weighted_kappa(grades, predicted, num_grades)
    ndcg_queries = 0
    for k in NDCG_CUTOFFS:
        result[f"ndcg@{k}"], ndcg_queries = mean_ndcg(grades, ranking, query_ids, k)
    if scores is None:
        result.update(auroc_by_threshold(grades, probabilities))
    else:
        result.update({f"auroc_ge_{t}": auroc(grades >= t, ranking)
                       for t in range(2, num_grades + 1)})
    result["ece"] = expected_calibration_error(grades, probabilities)
    result["ndcg_queries"] = ndcg_queries
    return result


def compute_by_language(
    grades, probabilities, query_ids, languages, num_grades: int, scores=None
) -> Dict[str, Dict[str, Optional[float]]]:
    """`compute_all` on each language slice, keyed by language code (sorted)."""
    languages = np.asarray(languages, dtype=object)
    grades = np.asarray(grades)
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1, num_grades)
    query_ids = np.asarray(query_ids, dtype=object)
    scores = None if scores is None else np.asarray(scores, dtype=np.float64)
    return {
        language: compute_all(
            grades[languages == language],
            probabilities[languages == language],
            query_ids[languages == language],
            num_grades,
            None if scores is None else scores[languages == language],
        )
        for language in sorted(set(languages.tolist()))
    }
