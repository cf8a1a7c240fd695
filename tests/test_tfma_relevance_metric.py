"""The custom TFMA metric through real TFMA on a tiny SavedModel, and its combiner directly."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

from relevance.contract import FIELDS_PRESENT, REFERENCE_GRADE
from evaluation.eval_config import relevance_eval_config
from evaluation.results import read_evaluation
from evaluation.tfma_metric import RelevanceMetrics
from relevance import contract
from evaluation import metrics
from models.export import RelevanceServingModule
from support.examples import serialized_example, write_tfrecord

NUM_GRADES = 3
# (query_id, language, label_source, title, description, reference grade)
ROWS = [
    ("q1", "en", "human", "a", "", 1),
    ("q1", "en", "human", "aaa", "x", 3),
    ("q1", "en", "human", "aa", "", 2),
    ("q2", "en", "human", "aaaa", "", 2),
    ("q2", "en", "human", "a", "x", 3),
    ("q3", "de", "pseudo", "aaaaa", "", 3),
    ("q3", "de", "pseudo", "aa", "", 1),
    ("q1", "de", "pseudo", "aaa", "", 2),  # same query id as a human query: kept apart
]


def _probabilities(title_lengths):
    """The tiny model: longer titles look more relevant (a softmax over grade distance)."""
    lengths = np.asarray(title_lengths, dtype=np.float64)
    logits = -np.abs(np.arange(1, NUM_GRADES + 1)[None, :] - lengths[:, None] * 0.7)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def _predict(raw):
    lengths = tf.cast(tf.strings.length(raw["title"]), tf.float64)
    grades = tf.range(1, NUM_GRADES + 1, dtype=tf.float64)
    return tf.nn.softmax(-tf.abs(grades[None, :] - lengths[:, None] * 0.7), axis=1)


def _example(query_id, language, source, title, description, grade):
    return serialized_example({
        contract.QUERY: "query " + query_id, contract.QUERY_ID: query_id,
        contract.ITEM_ID: title, contract.LANGUAGE: language, contract.LABEL_SOURCE: source,
        "title": title, "description": description,
        FIELDS_PRESENT: "title+description" if description else "title", REFERENCE_GRADE: grade,
    })


def _expected(rows):
    grades = [row[5] for row in rows]
    queries = [f"{row[2]}/{row[0]}" for row in rows]
    return metrics.compute_all(grades, _probabilities([len(r[3]) for r in rows]), queries,
                               NUM_GRADES)


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfma")
    module = RelevanceServingModule(_predict, num_grades=NUM_GRADES)
    model_dir = str(root / "model")
    tf.saved_model.save(module, model_dir, signatures=module.signatures())
    data = str(root / "eval.tfrecord")
    write_tfrecord(data, [_example(*row) for row in ROWS], compression="")
    config = relevance_eval_config(NUM_GRADES)
    tfma.run_model_analysis(
        eval_shared_model=tfma.default_eval_shared_model(model_dir, eval_config=config),
        eval_config=config, data_location=data, output_path=str(root / "out"))
    return read_evaluation(str(root / "out"), candidate_name="tiny")["tiny"]


def test_overall_metrics_equal_relevance_metrics(evaluation):
    expected = _expected(ROWS)
    got = evaluation["overall"]
    assert got["n"] == len(ROWS) and got["example_count"] == len(ROWS)
    for key in metrics.metric_keys(NUM_GRADES):
        assert got[key] == pytest.approx(expected[key]), key
    # q1 human, q2 human, q3 pseudo, q1 pseudo (one grade only: no nDCG)
    assert got["ndcg_queries"] == 3


def test_every_slice_is_reported(evaluation):
    assert {"language=en", "language=de", "label_source=human", "label_source=pseudo",
            "fields_present=title", "fields_present=title+description",
            "label_source=pseudo,language=de"} <= set(evaluation)
    human = [row for row in ROWS if row[2] == "human"]
    assert evaluation["label_source=human"]["accuracy"] == pytest.approx(
        _expected(human)["accuracy"])
    assert evaluation["label_source=human"]["ndcg@10"] == pytest.approx(_expected(human)["ndcg@10"])


def test_combiner_counts_unlabeled_rows_and_hand_values():
    """Two rows of one query, hand-computed: perfect order, one argmax right."""
    computation = RelevanceMetrics(num_grades=2).computations(model_names=[""])[0]
    combiner = computation.combiner
    rows = combiner.create_accumulator()
    for grade, probabilities in [([2], [0.4, 0.6]), ([1], [0.45, 0.55]), ([], [0.5, 0.5])]:
        element = metric_types.StandardMetricInputs(
            labels=np.asarray(grade, dtype=np.int64), predictions=np.asarray(probabilities),
            example_weights=None,
            features={contract.QUERY_ID: np.asarray([b"q"]),
                      contract.LABEL_SOURCE: np.asarray([b"human"])})
        rows = combiner.add_input(rows, element)
    merged = combiner.merge_accumulators([rows, combiner.create_accumulator()])
    output = {key.name: value for key, value in combiner.extract_output(merged).items()}
    assert output["n"] == 2 and output["unlabeled"] == 1
    assert output["accuracy"] == 0.5  # both predicted grade 2
    assert output["ndcg@5"] == 1.0 and output["auroc_ge_2"] == 1.0
    # O = [[0, 1], [0, 1]] equals the chance table E: agreement at chance level.
    assert output["qwk"] == 0.0
