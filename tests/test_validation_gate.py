"""The validation gate's rules, and the BM25 floor's per-slice evaluation."""

import pytest
import tensorflow as tf

from components.pseudo_labeler.records import FIELDS_PRESENT, REFERENCE_GRADE
from pipeline.evaluation.bm25_eval import evaluate_bm25
from pipeline.evaluation.gate import GatePolicy
from pipeline.evaluation.gate_report import read_gate_report, write_gate_report
from pipeline.evaluation.slices import HUMAN_SLICE
from relevance import contract, metrics


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
    example = tf.train.Example()
    feature = example.features.feature
    for name, value in [(contract.QUERY, query_id.replace("-", " ")),
                        (contract.QUERY_ID, query_id), (contract.ITEM_ID, title),
                        (contract.LANGUAGE, language), (contract.LABEL_SOURCE, source),
                        ("title", title), (FIELDS_PRESENT, "title")]:
        feature[name].bytes_list.value.append(value.encode())
    feature[REFERENCE_GRADE].int64_list.value.append(grade)
    if human_grade is not None:
        feature[contract.GRADE].int64_list.value.append(human_grade)
    return example


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
