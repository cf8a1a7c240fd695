"""evaluation/bootstrap.py (the paired bootstrap over queries the validation gate uses),
`evaluation.metrics.ndcg_by_query`, and bench/paired_bootstrap.py on top of them."""

import os
import sys

import numpy as np
import pytest

from evaluation import bootstrap, metrics

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))

import paired_bootstrap as bench  # noqa: E402


def _random_rows(num_queries=40, seed=0, num_grades=3):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, num_queries)
    query_ids = [f"q{query}" for query, size in enumerate(sizes) for _ in range(size)]
    rows = len(query_ids)
    return (rng.integers(1, num_grades + 1, rows), rng.dirichlet(np.ones(num_grades), rows),
            rng.dirichlet(np.ones(num_grades), rows), query_ids)


def test_ndcg_by_query_is_what_mean_ndcg_averages():
    grades, probabilities, _, query_ids = _random_rows()
    scores = metrics.expected_grade(probabilities)
    values = metrics.ndcg_by_query(grades, scores, query_ids, 10)
    mean, count = metrics.mean_ndcg(grades, scores, query_ids, 10)
    assert count == len(values) and mean == pytest.approx(np.mean(list(values.values())))
    query_ids = np.array(query_ids)
    for query, value in values.items():
        rows = query_ids == query
        assert len(set(grades[rows])) >= 2
        assert value == metrics.ndcg_for_query(grades[rows], scores[rows], 10)
    single_grade = {q for q in set(query_ids) if len(set(grades[query_ids == q])) < 2}
    assert single_grade and not single_grade & set(values)


def test_resampled_differences_are_one_seeded_matrix_whatever_the_block_size(monkeypatch):
    rng = np.random.default_rng(1)
    a, b = rng.random(301), rng.random(301)
    expected = (a - b)[np.random.default_rng(7).integers(0, 301, (500, 301))].mean(axis=1)
    np.testing.assert_array_equal(bootstrap.paired_bootstrap_differences(a, b, 500, seed=7),
                                  expected)
    monkeypatch.setattr(bootstrap, "_BLOCK_CELLS", 1000)  # blocks of 3 resamples
    np.testing.assert_array_equal(bootstrap.paired_bootstrap_differences(a, b, 500, seed=7),
                                  expected)
    assert bootstrap.paired_bootstrap_se(a, b, 500, seed=7) == pytest.approx(expected.std())
    assert bootstrap.paired_bootstrap_se(a[:1], b[:1], 500) is None  # one query: no spread


def test_pooled_accuracy_resamples_whole_queries():
    # Query x: a is right on 3 of its 4 rows more than b; query y: a tie. A resample of
    # two queries is x+x (6/8), y+y (0) or x+y (3/8): rows move with their query.
    correct_a = [1, 1, 1, 0, 1, 1, 1, 1]
    correct_b = [0, 0, 0, 0, 1, 1, 1, 1]
    differences = bootstrap.pooled_accuracy_differences(
        correct_a, correct_b, ["x"] * 4 + ["y"] * 4, resamples=200, seed=0)
    assert set(np.round(differences, 4)) == {0.0, 0.375, 0.75}
    same = bootstrap.metric_difference_se(
        "accuracy", [1, 2, 1, 2], np.eye(2)[[0, 1, 1, 1]], np.eye(2)[[0, 1, 1, 1]],
        ["x", "x", "y", "y"], 100)
    assert same == {"queries": 2, "rows": 4, "difference": 0.0, "standard_error": 0.0}


@pytest.mark.parametrize("metric", ["accuracy", "ndcg@10", "qwk", "auroc_ge_2"])
def test_every_gate_metric_has_a_deterministic_paired_se(metric):
    grades, a, b, query_ids = _random_rows(num_queries=30)
    first = bootstrap.metric_difference_se(metric, grades, a, b, query_ids, 200, seed=3)
    assert first == bootstrap.metric_difference_se(metric, grades, a, b, query_ids, 200, seed=3)
    assert 0 < first["standard_error"] < 1
    assert first["queries"] <= 30 and first["rows"] <= len(grades)
    mirrored = bootstrap.metric_difference_se(metric, grades, b, a, query_ids, 200, seed=3)
    assert mirrored["difference"] == pytest.approx(-first["difference"])
    assert mirrored["standard_error"] == pytest.approx(first["standard_error"])
    with pytest.raises(ValueError, match="no paired bootstrap"):
        bootstrap.metric_difference_se("ece", grades, a, b, query_ids, 10)


def test_bench_paired_bootstrap_keeps_its_per_query_keys_and_figures():
    grades, a, b, query_ids = _random_rows(num_queries=30)
    records = [{"grade": int(g), "query_id": q, "language": ("de" if int(q[1:]) % 2 else None)}
               for g, q in zip(grades, query_ids)]
    model = bench.per_query_ndcg(records, metrics.expected_grade(a))
    assert list(model) == sorted(model)  # (language, query id), sorted as before
    assert {language for language, _ in model} == {"de", "und"}
    values = metrics.ndcg_by_query(grades, metrics.expected_grade(a), query_ids, 10)
    assert {query: value for (_, query), value in model.items()} == values
    baseline = bench.per_query_ndcg(records, metrics.expected_grade(b))
    x, y = np.array(list(model.values())), np.array([baseline[k] for k in model])
    result = bench.paired_bootstrap(x, y, 300)
    means = (x - y)[np.random.default_rng(0).integers(0, len(x), (300, len(x)))].mean(axis=1)
    assert result["standard_error"] == round(float(means.std()), 4)
    assert result["ci95"] == [round(float(np.percentile(means, 2.5)), 4),
                              round(float(np.percentile(means, 97.5)), 4)]
