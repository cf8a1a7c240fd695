"""Metrics on small examples computed by hand, cross-checked with scikit-learn."""

import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, roc_auc_score

from evaluation import metrics


def test_qwk_by_hand_with_absent_grade():
    # G = 4, grade 4 never used. Confusion (rows true 1..3, cols predicted 1..3):
    #   [[2,0,0],[0,1,1],[0,1,1]]; W_ij = (i-j)^2/9 -> sum W*O = 2/9.
    # Histograms [2,2,2,0] both sides, E_ij = 2*2/6 = 2/3 on the 3x3 block;
    # sum over the block of (i-j)^2 = 4*1 + 2*4 = 12 -> sum W*E = 2/3 * 12/9 = 8/9.
    # QWK = 1 - (2/9)/(8/9) = 0.75.
    true = [1, 2, 3, 3, 1, 2]
    predicted = [1, 3, 3, 2, 1, 2]
    assert metrics.quadratic_weighted_kappa(true, predicted, 4) == pytest.approx(0.75)
    assert cohen_kappa_score(true, predicted, weights="quadratic") == pytest.approx(0.75)


def test_qwk_absent_middle_grade_matches_sklearn_with_full_label_list():
    # Grade 2 is absent: the weights must still use the distance on the 1..G scale.
    true = [1, 3, 4, 4, 1, 3, 1]
    predicted = [1, 4, 4, 3, 3, 3, 1]
    ours = metrics.quadratic_weighted_kappa(true, predicted, 4)
    reference = cohen_kappa_score(true, predicted, weights="quadratic", labels=[1, 2, 3, 4])
    assert ours == pytest.approx(reference)


def test_qwk_one_class():
    # Truth varies, prediction constant: observed == expected, kappa 0.
    assert metrics.quadratic_weighted_kappa([1, 2, 3], [2, 2, 2], 3) == pytest.approx(0.0)
    # Both sides one and the same grade: kappa is 0/0 -> None, not NaN.
    assert metrics.quadratic_weighted_kappa([2, 2], [2, 2], 3) is None
    assert metrics.quadratic_weighted_kappa([], [], 3) is None


def test_auroc_ties_by_hand_and_sklearn():
    # Pairs (pos, neg): 0.4>0.1, 0.4=0.4 (1/2), 0.9>0.1, 0.9>0.4 -> 3.5 / 4.
    labels, scores = [0, 0, 1, 1], [0.1, 0.4, 0.4, 0.9]
    assert metrics.auroc(labels, scores) == pytest.approx(0.875)
    assert roc_auc_score(labels, scores) == pytest.approx(0.875)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = rng.integers(0, 5, 200) / 4.0  # many ties
    assert metrics.auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))


def test_auroc_single_class_is_none():
    assert metrics.auroc([1, 1, 1], [0.1, 0.2, 0.3]) is None
    assert metrics.auroc([0, 0], [0.1, 0.2]) is None


def test_auroc_by_threshold_uses_tail_probability():
    grades = [1, 2, 3]
    probabilities = np.array([[0.6, 0.3, 0.1], [0.1, 0.2, 0.7], [0.0, 0.6, 0.4]])
    # t=2: P(>=2) = 0.4, 0.9, 1.0, positives items 2,3 -> both above 0.4 -> 1.0.
    # t=3: P(>=3) = 0.1, 0.7, 0.4, positive item 3 (0.4) beats 0.1 but not 0.7 -> 0.5.
    result = metrics.auroc_by_threshold(grades, probabilities)
    assert result == {"auroc_ge_2": pytest.approx(1.0), "auroc_ge_3": pytest.approx(0.5)}


def test_ndcg_by_hand():
    # Gains 2^(g-1)-1: grade 3 -> 3, 1 -> 0, 2 -> 1. Order by score: g1, g2, g3.
    # DCG = 0 + 1/log2(3) + 3/log2(4) = 2.1309; IDCG = 3 + 1/log2(3) = 3.6309.
    value = metrics.ndcg_for_query([3, 1, 2], [0.2, 0.9, 0.5], k=3)
    assert value == pytest.approx((1 / math.log2(3) + 1.5) / (3 + 1 / math.log2(3)))
    # k=1 cuts after the first item, which has gain 0.
    assert metrics.ndcg_for_query([3, 1, 2], [0.2, 0.9, 0.5], k=1) == 0.0


def test_ndcg_ties_are_pessimistic():
    # Grade 3 and grade 1 tie on 0.5: the grade-1 item is ranked first.
    # Order g1, g3, g2: DCG = 0 + 3/log2(3) + 1/2; IDCG = 3 + 1/log2(3).
    value = metrics.ndcg_for_query([3, 1, 2], [0.5, 0.5, 0.1], k=3)
    assert value == pytest.approx((3 / math.log2(3) + 0.5) / (3 + 1 / math.log2(3)))
    # A constant model gets the worst order whatever the input order.
    assert metrics.ndcg_for_query([3, 1], [1.0, 1.0], k=5) == metrics.ndcg_for_query(
        [1, 3], [1.0, 1.0], k=5
    )


def test_mean_ndcg_skips_single_grade_queries():
    grades = [2, 1, 3, 3, 3]
    scores = [0.9, 0.1, 0.5, 0.4, 0.3]
    query_ids = ["a", "a", "b", "b", "b"]  # query b has one grade only
    value, count = metrics.mean_ndcg(grades, scores, query_ids, k=10)
    assert (value, count) == (1.0, 1)
    assert metrics.mean_ndcg([2, 2], [0.1, 0.2], ["a", "a"], k=10) == (None, 0)


def test_ece_by_hand():
    # Every pair predicts P = [0.2, 0.8] -> expected grade 1.8; mean true grade 1.5.
    probabilities = np.tile([0.2, 0.8], (4, 1))
    assert metrics.expected_calibration_error([1, 1, 2, 2], probabilities) == pytest.approx(0.3)
    # Two bins: {1.0 (true 1)}, {2.0 (true 1), 2.0 (true 2)}: gaps 0 and 0.5 -> 2/3 * 0.5.
    probabilities = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert metrics.expected_calibration_error([1, 1, 2], probabilities) == pytest.approx(1 / 3)


def test_compute_all_fixed_example_and_sklearn():
    num_grades = 3
    grades = np.array([3, 1, 2, 1, 2, 2])
    probabilities = np.array(
        [
            [0.1, 0.2, 0.7],
            [0.7, 0.2, 0.1],
            [0.2, 0.5, 0.3],
            [0.25, 0.5, 0.25],
            [0.0, 1.0, 0.0],
            [0.2, 0.6, 0.2],
        ]
    )
    query_ids = ["q1", "q1", "q1", "q2", "q2", "q3"]  # q3 has a single pair
    result = metrics.compute_all(grades, probabilities, query_ids, num_grades)
    assert list(result)[: len(metrics.metric_keys(3))] == metrics.metric_keys(3)
    assert result["n"] == 6
    # Predicted grades 3,1,2,2,2,2: 5 of 6 right.
    assert result["accuracy"] == pytest.approx(5 / 6)
    assert result["qwk"] == pytest.approx(
        cohen_kappa_score(grades, [3, 1, 2, 2, 2, 2], weights="quadratic")
    )
    # q1: expected grades 2.6 (g3), 1.4 (g1), 2.1 (g2) -> perfect order, nDCG 1.
    # q2: both expected grades are exactly 2.0 (binary fractions): a tie, broken
    # pessimistically (grade 1 first) -> DCG = 0 + 1/log2(3), IDCG = 1.
    # q3 has one pair, so one grade: left out of the mean.
    q2 = 1 / math.log2(3)
    assert result["ndcg@5"] == pytest.approx((1.0 + q2) / 2)
    assert result["ndcg_queries"] == 2
    for t in (2, 3):
        tail = probabilities[:, t - 1 :].sum(axis=1)
        assert result[f"auroc_ge_{t}"] == pytest.approx(roc_auc_score(grades >= t, tail))
    assert 0.0 <= result["ece"] <= 2.0


def test_compute_all_empty_and_mismatch():
    result = metrics.compute_all([], np.zeros((0, 4)), [], 4)
    assert result["n"] == 0 and result["accuracy"] is None and result["auroc_ge_4"] is None
    with pytest.raises(ValueError):
        metrics.compute_all([1, 2], np.zeros((3, 2)), ["a", "b"], 2)
    with pytest.raises(ValueError):
        metrics.compute_all([5], np.ones((1, 2)) / 2, ["a"], 2)


def test_compute_by_language_slices():
    grades = [2, 1, 2, 1]
    probabilities = np.array([[0.2, 0.8], [0.9, 0.1], [0.9, 0.1], [0.2, 0.8]])
    by_language = metrics.compute_by_language(
        grades, probabilities, ["a", "a", "b", "b"], ["en", "en", "es", "es"], 2
    )
    assert sorted(by_language) == ["en", "es"]
    assert by_language["en"]["accuracy"] == 1.0 and by_language["es"]["accuracy"] == 0.0
    assert by_language["en"]["auroc_ge_2"] == 1.0 and by_language["es"]["auroc_ge_2"] == 0.0
