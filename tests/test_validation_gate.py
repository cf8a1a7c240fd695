"""The validation gate's rules (the noise-aware student-vs-teacher tolerance included),
and the BM25 floor's per-slice evaluation."""

import numpy as np
import pytest

from relevance.contract import FIELDS_PRESENT, REFERENCE_GRADE
from evaluation import gate_rows
from evaluation.bm25_eval import evaluate_bm25
from evaluation.gate import GatePolicy, PairedRows
from evaluation.gate_report import read_gate_report, write_gate_report
from evaluation.slices import HUMAN_SLICE
from relevance import contract
from evaluation import metrics
from support.examples import make_example


def _metrics(accuracy, ndcg):
    return {HUMAN_SLICE: {"accuracy": accuracy, "ndcg@10": ndcg},
            "label_source=pseudo": {"accuracy": 0.1, "ndcg@10": 0.1}}


TEACHER = _metrics(0.70, 0.90)


def test_student_within_tolerance_of_teacher_is_blessed_on_first_push():
    decision = GatePolicy(student_tolerance=0.05).decide(_metrics(0.66, 0.86), TEACHER, None)
    assert decision["blessed"] is True
    by_rule = {(c["rule"], c["metric"]): c for c in decision["checks"]}
    assert by_rule[("teacher_tolerance", "accuracy")]["bound"] == pytest.approx(0.65)
    assert by_rule[("not_worse_than_pushed", "ndcg@10")]["passed"] is None  # nothing pushed


def test_student_beyond_tolerance_is_not_blessed_with_the_reason():
    decision = GatePolicy(student_tolerance=0.05).decide(_metrics(0.60, 0.95), TEACHER, None)
    assert decision["blessed"] is False
    assert decision["reasons"] == [
        "teacher_tolerance: accuracy 0.6000 < teacher 0.7000 - 0.05 = 0.6500"]


def test_student_worse_than_pushed_model_is_not_blessed():
    policy = GatePolicy(student_tolerance=0.5)
    previous = _metrics(0.68, 0.88)
    assert policy.decide(_metrics(0.68, 0.88), TEACHER, previous)["blessed"] is True  # equal
    decision = policy.decide(_metrics(0.69, 0.87), TEACHER, previous)
    assert decision["blessed"] is False
    assert decision["reasons"] == ["not_worse_than_pushed: ndcg@10 0.8700 < pushed 0.8800"]
    tolerant = GatePolicy(student_tolerance=0.5, pushed_tolerance=0.02)
    assert tolerant.decide(_metrics(0.69, 0.87), TEACHER, previous)["blessed"] is True


def test_min_accuracy_and_undefined_metrics():
    policy = GatePolicy(student_tolerance=1.0, min_student_accuracy=0.8)
    assert policy.decide(_metrics(0.75, 0.9), TEACHER, None)["reasons"] == [
        "min_accuracy: accuracy 0.7500 < minimum 0.8000"]
    # The teacher's nDCG is undefined (no query with two grades): skipped, not failed.
    decision = GatePolicy().decide(_metrics(0.7, None), _metrics(0.7, None), None)
    assert decision["blessed"] is True
    # The student's is undefined where the teacher's is not: failed.
    assert GatePolicy().decide(_metrics(0.7, None), TEACHER, None)["blessed"] is False
    with pytest.raises(ValueError, match="higher-is-better"):
        GatePolicy(gate_metrics=("ece",))


def _example(query_id, source, title, grade, human_grade=None, language="en"):
    return make_example({
        contract.QUERY: query_id.replace("-", " "), contract.QUERY_ID: query_id,
        contract.ITEM_ID: title, contract.LANGUAGE: language, contract.LABEL_SOURCE: source,
        "title": title, FIELDS_PRESENT: "title", REFERENCE_GRADE: grade,
        contract.GRADE: human_grade,
    })


def test_bm25_floor_is_evaluated_per_slice_and_reported(tmp_path):
    train = [_example("red-lamp", "human", "red desk lamp", 2, 2),
             _example("red-lamp", "human", "blue sofa", 1, 1),
             _example("blue-sofa", "human", "blue corner sofa", 2, 2),
             _example("blue-sofa", "human", "oak table", 1, 1)]
    evaluation = [_example("oak-table", "human", "oak table", 2),
                  _example("oak-table", "human", "red lamp", 1),
                  _example("red-sofa", "pseudo", "red sofa", 2, language="de"),
                  _example("red-sofa", "pseudo", "oak lamp", 1, language="de")]
    result = evaluate_bm25(train, evaluation, num_grades=2)
    # Lexical overlap ranks the matching item first in both queries.
    assert result["overall"]["ndcg@10"] == 1.0 and result["overall"]["n"] == 4
    assert result[HUMAN_SLICE]["n"] == 2 and result["language=de"]["n"] == 2
    assert result["label_source=pseudo,language=de"]["ndcg_queries"] == 1
    assert set(result["overall"]) >= set(metrics.metric_keys(2))
    decision = GatePolicy().decide(result, result, None)
    write_gate_report(str(tmp_path), {"bm25_baseline": result}, decision, num_grades=2)
    assert read_gate_report(str(tmp_path))["models"]["bm25_baseline"][HUMAN_SLICE]["n"] == 2
    assert "| bm25_baseline |" in (tmp_path / "report.md").read_text()


# --- The noise-aware tolerance: max(student_tolerance, z x paired bootstrap SE) ---------

NUM_GRADES = 3


def _probabilities(grades, correct):
    """One row per grade: 0.8 on the true grade when `correct`, else on the next grade."""
    predicted = np.where(correct, grades, grades % NUM_GRADES + 1)
    probabilities = np.full((len(grades), NUM_GRADES), 0.1)
    probabilities[np.arange(len(grades)), predicted - 1] = 0.8
    return probabilities


def _paired(grades, student_correct, teacher_correct, query_ids):
    paired = PairedRows(grades=np.asarray(grades),
                        student=_probabilities(np.asarray(grades), np.asarray(student_correct)),
                        teacher=_probabilities(np.asarray(grades), np.asarray(teacher_correct)),
                        query_ids=list(query_ids))
    student = {HUMAN_SLICE: metrics.compute_all(paired.grades, paired.student, paired.query_ids,
                                                NUM_GRADES)}
    teacher = {HUMAN_SLICE: metrics.compute_all(paired.grades, paired.teacher, paired.query_ids,
                                                NUM_GRADES)}
    return paired, student, teacher


def _small_eval_set():
    """6 queries x 6 rows: the teacher gets 4 rows of each query right, the student
    6, 2, 4, 5, 1 and 3: 3 rows (0.083) behind in all, but unevenly across queries."""
    grades, student_correct, teacher_correct, queries = [], [], [], []
    for query, student_right in enumerate([6, 2, 4, 5, 1, 3]):
        grades += [1, 2, 3, 1, 2, 3]
        student_correct += [row < student_right for row in range(6)]
        teacher_correct += [row < 4 for row in range(6)]
        queries += [f"human/q{query}"] * 6
    return _paired(grades, student_correct, teacher_correct, queries)


def _large_eval_set(student_accuracy, num_queries=2000, rows_per_query=5, seed=1):
    """Many queries; the teacher right on 70% of rows, the student on `student_accuracy`."""
    rng = np.random.default_rng(seed)
    rows = num_queries * rows_per_query
    grades = rng.integers(1, NUM_GRADES + 1, rows)
    return _paired(grades, rng.random(rows) < student_accuracy, rng.random(rows) < 0.7,
                   [f"human/q{row // rows_per_query}" for row in range(rows)])


def _teacher_check(decision, metric="accuracy"):
    return next(c for c in decision["checks"]
                if c["rule"] == "teacher_tolerance" and c["metric"] == metric)


def test_small_noisy_eval_set_widens_the_tolerance_to_z_standard_errors():
    paired, student, teacher = _small_eval_set()
    gap = teacher[HUMAN_SLICE]["accuracy"] - student[HUMAN_SLICE]["accuracy"]
    assert gap == pytest.approx(3 / 36)
    # The fixed tolerance alone (z = 0, or no paired rows) fails this student...
    assert GatePolicy(z=0).decide(student, teacher, None, paired)["blessed"] is False
    assert GatePolicy().decide(student, teacher, None)["blessed"] is False
    # ...the default noise-aware one passes it: 3 rows are within the eval set's noise.
    decision = GatePolicy().decide(student, teacher, None, paired)
    check = _teacher_check(decision)
    se = check["standard_error"]
    assert check["tolerance_asked"] == 0.05 and check["z"] == 1.96
    assert check["effective_tolerance"] == check["tolerance"] == pytest.approx(1.96 * se)
    assert check["effective_tolerance"] > gap > 0.05
    assert (check["queries"], check["rows"]) == (6, 36)
    assert check["paired_difference"] == pytest.approx(-gap)
    assert decision["blessed"] is True
    assert "tolerance max(0.05, 1.96 x SE" in check["reason"]
    assert "over 6 queries, 36 rows" in check["reason"]
    # It passes only while the gap is within z x SE.
    assert GatePolicy(z=1.1 * gap / se).decide(student, teacher, None, paired)["blessed"]
    narrow = GatePolicy(z=0.9 * gap / se).decide(student, teacher, None, paired)
    assert narrow["blessed"] is False
    assert _teacher_check(narrow)["effective_tolerance"] == pytest.approx(0.9 * gap)


def test_large_eval_set_keeps_the_tolerance_and_fails_a_truly_worse_student():
    paired, student, teacher = _large_eval_set(student_accuracy=0.55)
    decision = GatePolicy().decide(student, teacher, None, paired)
    for metric in ("accuracy", "ndcg@10"):
        check = _teacher_check(decision, metric)
        assert 1.96 * check["standard_error"] < 0.05
        assert check["effective_tolerance"] == check["tolerance_asked"] == 0.05
    accuracy = _teacher_check(decision)
    assert (accuracy["queries"], accuracy["rows"]) == (2000, 10000)
    assert accuracy["passed"] is False and decision["blessed"] is False
    assert "teacher_tolerance: accuracy" in decision["reasons"][0]
    # A student as good as the teacher passes on the same eval set.
    paired, student, teacher = _large_eval_set(student_accuracy=0.7)
    assert _teacher_check(GatePolicy().decide(student, teacher, None, paired))["passed"]


def test_noise_aware_gate_is_deterministic_with_its_seed():
    paired, student, teacher = _small_eval_set()
    first = GatePolicy().decide(student, teacher, None, paired)
    assert GatePolicy().decide(student, teacher, None, paired) == first
    other_seed = GatePolicy(seed=1).decide(student, teacher, None, paired)
    assert (_teacher_check(other_seed)["standard_error"]
            != _teacher_check(first)["standard_error"])
    assert first["policy"]["z"] == 1.96 and first["policy"]["resamples"] == 1000


def test_z_zero_disables_widening_but_still_records_the_noise():
    paired, student, teacher = _small_eval_set()
    check = _teacher_check(GatePolicy(z=0).decide(student, teacher, None, paired))
    assert check["standard_error"] > 0 and check["z"] == 0
    assert check["effective_tolerance"] == check["tolerance"] == 0.05
    assert check["bound"] == pytest.approx(teacher[HUMAN_SLICE]["accuracy"] - 0.05)
    with pytest.raises(ValueError, match="z must be >= 0"):
        GatePolicy(z=-1)
    with pytest.raises(ValueError, match="resamples"):
        GatePolicy(resamples=1)


def test_noise_aware_check_is_in_gate_json_and_the_report(tmp_path):
    paired, student, teacher = _small_eval_set()
    decision = GatePolicy().decide(student, teacher, None, paired)
    write_gate_report(str(tmp_path), {"student": student, "teacher": teacher}, decision,
                      num_grades=NUM_GRADES)
    checks = read_gate_report(str(tmp_path))["decision"]["checks"]
    accuracy = next(c for c in checks if c["rule"] == "teacher_tolerance"
                    and c["metric"] == "accuracy")
    for key in ("tolerance_asked", "standard_error", "z", "effective_tolerance", "queries",
                "rows", "resamples"):
        assert key in accuracy, key
    report = (tmp_path / "report.md").read_text()
    assert "## Student vs teacher: noise-aware tolerance" in report
    row = next(line for line in report.splitlines() if line.startswith("| accuracy |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells == ["accuracy", "-0.0833", "0.0500", f"{accuracy['standard_error']:.4f}",
                     "1.96", f"{1.96 * accuracy['standard_error']:.4f}",
                     f"{accuracy['effective_tolerance']:.4f}", "6", "36", "True"]
    # Without paired rows (e.g. a direct GatePolicy call) there is no such table.
    write_gate_report(str(tmp_path), {"student": student}, GatePolicy().decide(
        student, teacher, None), num_grades=NUM_GRADES)
    assert "noise-aware" not in (tmp_path / "report.md").read_text()


def test_gate_rows_pair_the_students_scores_with_the_teachers_soft_labels():
    rows = [_example("red-lamp", "human", "red desk lamp", 2, 2),
            _example("red-lamp", "human", "blue sofa", 1, 1),
            _example("blue-sofa", "pseudo", "blue corner sofa", 2)]
    for example, soft in zip(rows, ([0.3, 0.7], [0.6, 0.4], [0.1, 0.9])):
        example.features.feature[contract.SOFT_LABEL].float_list.value.extend(soft)
    human = gate_rows.gate_slice_rows(rows, HUMAN_SLICE)
    assert len(human) == 2
    scored = []

    def score_student(serialized):
        scored.extend(serialized)
        return np.array([[0.9, 0.1], [0.2, 0.8]])

    paired = gate_rows.paired_rows(human, 2, score_student)
    assert scored == [e.SerializeToString() for e in human]
    np.testing.assert_allclose(paired.teacher, [[0.3, 0.7], [0.6, 0.4]])
    np.testing.assert_allclose(paired.student, [[0.9, 0.1], [0.2, 0.8]])
    assert list(paired.grades) == [2, 1] and paired.query_ids == ["human/red-lamp"] * 2
    del rows[0].features.feature[contract.SOFT_LABEL]
    with pytest.raises(ValueError, match="soft_label"):
        gate_rows.paired_rows(human, 2, score_student)
