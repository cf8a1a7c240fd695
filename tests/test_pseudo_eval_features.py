"""Evaluation features the PseudoLabeler writes, and its held-out pseudo-labeled queries."""

import tensorflow as tf

from components.pseudo_labeler import counts
from components.pseudo_labeler.labeling_pipeline import is_held_out
from components.pseudo_labeler.records import (
    FIELDS_PRESENT,
    REFERENCE_GRADE,
    parse_candidate,
    to_output_example,
)
from relevance import contract


def _candidate(grade=None, **fields):
    example = tf.train.Example()
    feature = example.features.feature
    for name, value in [("query_id", "q1"), ("item_id", "i1"), ("language", "en"), *fields.items()]:
        feature[name].bytes_list.value.append(value.encode())
    if grade is not None:
        feature[contract.GRADE].int64_list.value.append(grade)
    return parse_candidate(example.SerializeToString())._replace(probabilities=(0.2, 0.5, 0.3))


def _written(candidate, source):
    example = tf.train.Example.FromString(to_output_example(candidate, source, "teacher/1"))
    feature = example.features.feature
    return (feature[FIELDS_PRESENT].bytes_list.value[0].decode(),
            feature[REFERENCE_GRADE].int64_list.value[0])


def test_reference_grade_is_human_grade_else_teacher_argmax():
    assert _written(_candidate(grade=3, title="Lamp", image_caption="a lamp"), "human") == (
        "title+image_caption", 3)
    assert _written(_candidate(description="Oak", title=" "), "pseudo") == ("description", 2)


def test_held_out_queries_are_a_stable_share_and_counted():
    queries = [f"q{i}".encode() for i in range(2000)]
    held = [q for q in queries if is_held_out(q, 10.0)]
    assert 150 < len(held) < 250
    assert held == [q for q in queries if is_held_out(q, 10.0)]  # same every run
    report = counts.PseudoLabelCounts.from_events(
        {"unlabeled_in": 3, "pseudo_labeled_out": 3, "pseudo_held_out": 1,
         "language_in/en": 3, "language_out/en": 3})
    assert report.reconciles() and report.as_dict()["pseudo_held_out"] == 1
