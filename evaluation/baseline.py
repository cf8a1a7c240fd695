"""A lexical baseline: BM25 of the query against the item text, mapped to grade probabilities.

Scoring. The item text is every item text field of the record (title, description,
image caption, link title/description, engaged queries, board titles) joined. Text is
cut into the tokens of `evaluation.bm25_tokens`: whole words (combining marks kept
inside them) plus their character trigrams, and character n-grams for scripts written
without spaces. With the document frequencies df and average length avgdl of the
*training* items (k1 = 1.2, b = 0.75):

    bm25(q, d) = sum_{t in q} idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t)     = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

Raw BM25 grows with the number of query terms, so it is divided by sum_{t in q} idf(t):
the normalised score lies in [0, k1 + 1] whatever the query, and one grade mapping fits
every query. Within a query the divisor is one constant, so the normalised score ranks a
query's candidates exactly as raw BM25 does.

Ranking. `predict` returns the normalised score itself as the ranking score: nDCG and
AUROC rank by it (`evaluation.metrics.compute_all(..., scores=...)`). The grade
probabilities below serve accuracy, QWK and calibration only; ranking by their expected
grade would tie every candidate above the top bin centre, below the bottom one, and
inside flat stretches of the mapping.

Grade mapping. Training scores are cut at their quantiles (10 bins by default); each bin
gets the Laplace-smoothed distribution of its training grades; adjacent bins whose mean
grade decreases are pooled (pool-adjacent-violators), so the expected grade never falls
as BM25 rises. A new pair gets the distribution interpolated linearly between the two
nearest bin centres (clamped at the ends), which keeps ranking resolution inside a bin.

Example:
    >>> train = [
    ...     {"query": "red lamp", "title": "red desk lamp", "grade": 3},
    ...     {"query": "red lamp", "title": "blue sofa", "grade": 1},
    ...     {"query": "blue sofa", "title": "blue corner sofa", "grade": 3},
    ...     {"query": "blue sofa", "title": "oak table", "grade": 1},
    ... ]
    >>> model = fit_bm25_baseline(train, num_grades=3)
    >>> probs = model.predict_proba([{"query": "oak table", "title": "oak table"},
    ...                              {"query": "oak table", "title": "red lamp"}])
    >>> bool(probs[0] @ [1, 2, 3] > probs[1] @ [1, 2, 3])
    True
    >>> model.predict([{"query": "oak table", "title": "oak table"}]).scores.round(2)
    array([1.1])
"""

import collections
import math
from typing import Dict, Iterable, List, NamedTuple, Sequence

import numpy as np

from evaluation.bm25_tokens import tokenize
from relevance import contract


class BM25Prediction(NamedTuple):
    """`scores` [N]: the normalised BM25 scores, to rank by; `probabilities` [N, G]: the
    grade probabilities mapped from them, for accuracy, QWK and calibration."""

    scores: np.ndarray
    probabilities: np.ndarray


def item_text(record: dict) -> str:
    """All item text fields of a record, joined with spaces."""
    parts = []
    for name in contract.ITEM_TEXT_FIELDS:
        value = record.get(name)
        if isinstance(value, (list, tuple)):
            parts.extend(str(v) for v in value)
        elif value:
            parts.append(str(value))
    return " ".join(parts)


class BM25Baseline:
    """BM25 scores of fitted corpus statistics plus a monotone score -> grade mapping.

    Build it with `fit_bm25_baseline`; `predict(records)` returns the ranking scores and
    the [N, G] probabilities, `predict_proba(records)` the probabilities alone.

    Example:
        >>> model = fit_bm25_baseline(
        ...     [{"query": "lamp", "title": "lamp", "grade": 2},
        ...      {"query": "lamp", "title": "sofa", "grade": 1}], num_grades=2)
        >>> model.predict_proba([{"query": "lamp", "title": "desk lamp"}]).shape
        (1, 2)
    """

    def __init__(self, num_grades: int, k1: float = 1.2, b: float = 0.75):
        self.num_grades = num_grades
        self.k1 = k1
        self.b = b
        self.num_documents = 0
        self.document_frequency: Dict[str, int] = {}
        self.average_length = 1.0
        self.bin_centres = np.zeros(1)
        self.bin_distributions = np.full((1, num_grades), 1.0 / num_grades)

    def idf(self, term: str) -> float:
        df = self.document_frequency.get(term, 0)
        return math.log(1.0 + (self.num_documents - df + 0.5) / (df + 0.5))

    def normalised_scores(self, records: Iterable[dict]) -> np.ndarray:
        """BM25(query, item text) / sum of the query terms' idf, per record."""
        scores = []
        for record in records:
            # Sorted: summing idf in set order would vary with the hash seed, and the
            # last-bit differences reorder tied scores from one process to the next.
            query_terms = sorted(set(tokenize(str(record.get(contract.QUERY, "")))))
            document = tokenize(item_text(record))
            counts = collections.Counter(document)
            length_norm = self.k1 * (1 - self.b + self.b * len(document) / self.average_length)
            score = idf_total = 0.0
            for term in query_terms:
                idf = self.idf(term)
                idf_total += idf
                tf = counts.get(term, 0)
                score += idf * tf * (self.k1 + 1) / (tf + length_norm) if tf else 0.0
            scores.append(score / idf_total if idf_total > 0 else 0.0)
        return np.asarray(scores, dtype=np.float64)

    def predict(self, records: Sequence[dict]) -> BM25Prediction:
        """The normalised scores (to rank by) and the grade probabilities mapped from them."""
        scores = self.normalised_scores(records)
        return BM25Prediction(scores, self.probabilities_of_scores(scores))

    def predict_proba(self, records: Sequence[dict]) -> np.ndarray:
        """[N, G] grade probabilities (class k is grade k + 1)."""
        return self.predict(records).probabilities

    def probabilities_of_scores(self, scores: np.ndarray) -> np.ndarray:
        """[N, G] grade probabilities of normalised scores, interpolated between bins."""
        columns = [
            np.interp(scores, self.bin_centres, self.bin_distributions[:, k])
            for k in range(self.num_grades)
        ]
        probabilities = np.stack(columns, axis=1) if len(scores) else np.zeros((0, self.num_grades))
        return probabilities / probabilities.sum(axis=1, keepdims=True).clip(min=1e-12)


def fit_bm25_baseline(
    train_records: Iterable[dict], num_grades: int, num_bins: int = 10, smoothing: float = 1.0
) -> BM25Baseline:
    """Fit corpus statistics and the score -> grade mapping on labeled records.

    Records without a grade still count towards the corpus statistics.

    Raises:
        ValueError: no record has a grade.
    """
    records = list(train_records)
    model = BM25Baseline(num_grades)
    lengths = []
    document_frequency: Dict[str, int] = collections.Counter()
    for record in records:
        tokens = tokenize(item_text(record))
        lengths.append(len(tokens))
        document_frequency.update(set(tokens))
    model.num_documents = len(records)
    model.document_frequency = dict(document_frequency)
    model.average_length = max(float(np.mean(lengths)) if lengths else 1.0, 1.0)

    labeled = [r for r in records if r.get(contract.GRADE) is not None]
    if not labeled:
        raise ValueError("the BM25 baseline needs labeled training records; none has a grade")
    scores = model.normalised_scores(labeled)
    grades = np.asarray([int(r[contract.GRADE]) for r in labeled])
    model.bin_centres, model.bin_distributions = _monotone_bins(
        scores, grades, num_grades, num_bins, smoothing
    )
    return model


def _monotone_bins(scores, grades, num_grades, num_bins, smoothing):
    edges = np.unique(np.quantile(scores, np.linspace(0, 1, num_bins + 1)[1:-1]))
    bin_index = np.searchsorted(edges, scores, side="right")
    # Each pool: [score sum, count, grade counts]; merged while the mean grade decreases.
    pools: List[list] = []
    for index in np.unique(bin_index):
        mask = bin_index == index
        grade_counts = np.bincount(grades[mask] - 1, minlength=num_grades).astype(np.float64)
        pools.append([scores[mask].sum(), mask.sum(), grade_counts])
        # Compare smoothed means: smoothing shrinks small pools more, which could
        # otherwise reorder them.
        while len(pools) > 1 and _mean_grade(pools[-2], smoothing) > _mean_grade(
            pools[-1], smoothing
        ):
            last = pools.pop()
            pools[-1] = [pools[-1][0] + last[0], pools[-1][1] + last[1], pools[-1][2] + last[2]]
    centres = np.asarray([pool[0] / pool[1] for pool in pools])
    distributions = np.stack([pool[2] + smoothing for pool in pools])
    distributions /= distributions.sum(axis=1, keepdims=True)
    return centres, distributions


def _mean_grade(pool, smoothing: float) -> float:
    counts = pool[2] + smoothing
    return float(counts @ np.arange(1, len(counts) + 1) / counts.sum())
