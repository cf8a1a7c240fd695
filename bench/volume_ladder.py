"""Pseudo-label volumes from one scored pool, and per-language paired differences.

Score once, cap per volume: `nested_volumes` cuts the pseudo-labeled corpus of a run
(human rows plus the teacher's labels) into corpora of k x the human rows' count of
pseudo-labels, for each multiple k, by one fixed random order of the pseudo rows, so a
smaller volume is a subset of every larger one and only the volume changes between them.
`by_language_differences` gives a difference of mean nDCG@10 per test language with
its paired-bootstrap standard error.

Example:

>>> import numpy as np
>>> features = {"x": np.arange(6)}
>>> grade = np.array([3, 0, 0, 2, 0, 0])  # 0: a pseudo-labeled row
>>> corpus = (features, np.zeros((6, 4)), grade, list("aabbcc"))
>>> ladder = nested_volumes(corpus, [1, 2])
>>> sorted(ladder), [len(c[2]) for c in ladder.values()]
(['pseudo@1', 'pseudo@2'], [4, 6])
>>> set(ladder["pseudo@1"][0]["x"]) <= set(ladder["pseudo@2"][0]["x"])
True
"""

from typing import Dict, Sequence

import numpy as np

from evaluation import bootstrap


def nested_volumes(corpus, multiples: Sequence[float], seed: int = 0) -> Dict[str, tuple]:
    """{"pseudo@k": corpus} for each k: every human row and the first k x (human rows)
    pseudo rows of one fixed random order (all of them when k asks for more)."""
    features, soft_label, grade, keys = corpus
    human = np.flatnonzero(grade > 0)
    pseudo = np.random.default_rng(seed).permutation(np.flatnonzero(grade == 0))
    ladder = {}
    for multiple in multiples:
        wanted = int(round(multiple * len(human)))
        rows = np.sort(np.concatenate([human, pseudo[:wanted]]))
        ladder[f"pseudo@{multiple:g}"] = (
            {name: _take(value, rows) for name, value in features.items()},
            soft_label[rows], grade[rows], [keys[i] for i in rows])
    return ladder


def _take(value, rows):
    return value[rows] if isinstance(value, np.ndarray) else [value[i] for i in rows]


def by_language_differences(per_query_a: Dict, per_query_b: Dict, split,
                            resamples: int = 2000) -> Dict[str, dict]:
    """{language: {"difference", "se", "queries"}} of mean per-query nDCG, a − b, over
    the test queries of each language (and "all")."""
    language_of = dict(zip(split["query_id"], split["language"]))
    groups = {"all": sorted(set(per_query_a) & set(per_query_b))}
    for query in groups["all"]:
        groups.setdefault(str(language_of[query]), []).append(query)
    return {language: {**paired_difference(per_query_a, per_query_b, queries, resamples),
                       "queries": len(queries)}
            for language, queries in sorted(groups.items())}


def paired_difference(per_query_a: Dict, per_query_b: Dict, queries: Sequence,
                      resamples: int = 2000) -> dict:
    """{"difference", "se"}: mean of a − b over `queries` and its paired-bootstrap
    standard error (None with fewer than two queries)."""
    a = [per_query_a[q] for q in queries]
    b = [per_query_b[q] for q in queries]
    se = bootstrap.paired_bootstrap_se(a, b, resamples)
    return {"difference": round(float(np.mean(a) - np.mean(b)), 4),
            "se": None if se is None else round(se, 4)}
