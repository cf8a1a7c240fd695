"""The student's order terms: listwise KL and margin MSE over a query's candidates, the
batches that keep a query's rows together, and a tiny student trained with them."""

import json
import os
import random

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfx.components.trainer.fn_args_utils import FnArgs

from relevance import contract
from trainer.student.losses import DistillationLoss, pack_targets
from models.query_batches import (
    group_rows, grouped_batches, pack_query_batches, query_keys,
)
from trainer.student.task import run_fn
from support.examples import serialized_example
from support.transform_output import build_transform_output
from test_student import G, WORDS, _make_row, _soft_label, _to_example, \
    _write

ORDER_ONLY = {"distill_weight": 0.0, "human_weight": 0.0}


# --------------------------------------------------------------------------- loss


def test_listwise_kl_matches_hand_computed_values():
    # Query 7: teacher expected grades 1, 3, 2; query 9: one row. Student flat: 2 each.
    teacher = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0], [0.5, 0, 0.5]], "float32")
    targets = pack_targets(teacher, [0, 0, 0, 0], 3, query_group=[7, 7, 7, 9])
    logits = np.zeros((4, 3), "float32")
    loss = DistillationLoss(3, listwise_weight=1.0, listwise_temperature=0.5, **ORDER_ONLY)
    # P_t = softmax((1, 3, 2) / 0.5) = (0.01588, 0.86681, 0.11731), P_s = (1/3, 1/3, 1/3):
    # KL = sum P_t log(3 P_t) = 0.65753 for the query, 0 for the lone row; mean of 4 rows.
    p_t = np.exp([2.0, 6.0, 4.0]) / np.exp([2.0, 6.0, 4.0]).sum()
    assert float(np.sum(p_t * np.log(3 * p_t))) == pytest.approx(0.65753, abs=1e-4)
    assert float(loss(targets, logits)) == pytest.approx(0.65753 / 4, abs=1e-4)
    # Twice the weight, twice the term; the temperature matters.
    twice = DistillationLoss(3, listwise_weight=2.0, listwise_temperature=0.5, **ORDER_ONLY)
    assert float(twice(targets, logits)) == pytest.approx(2 * 0.65753 / 4, abs=1e-4)
    flatter = DistillationLoss(3, listwise_weight=1.0, listwise_temperature=2.0, **ORDER_ONLY)
    assert float(flatter(targets, logits)) < 0.05


def test_margin_mse_matches_hand_computed_values_beside_the_human_term():
    # Query 0: teacher scores 2, 1, 1.5; student 1.75, 1.5, 1.25 (p_2 = 0.75, 0.5, 0.25).
    teacher = np.array([[0, 1], [1, 0], [0.5, 0.5], [0.5, 0.5]], "float32")
    logits = np.log(np.array([[1, 3], [1, 1], [3, 1], [1, 1]], "float32"))
    # Row 3 (query 1, alone, human grade 1) gets only its cross-entropy, log 2.
    targets = pack_targets(teacher, [0, 0, 0, 1], 2, query_group=[0, 0, 0, 1])
    loss = DistillationLoss(2, distill_weight=0.0, human_weight=1.0, margin_weight=1.0)
    # e = s - t = (-0.25, 0.5, -0.25); row i: mean over j != i of (e_i - e_j)^2.
    rows = [(0.75**2 + 0) / 2, (0.75**2 + 0.75**2) / 2, (0 + 0.75**2) / 2, np.log(2)]
    assert float(loss(targets, logits)) == pytest.approx(np.mean(rows), rel=1e-5)
    assert np.mean(rows) == pytest.approx(0.454537, abs=1e-6)


def test_order_terms_see_only_the_order_within_a_query():
    teacher = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]], "float32")
    targets = pack_targets(teacher, [0] * 4, 2, query_group=[0, 0, 1, 1])
    teacher_logit = np.log(teacher[:, 1] / teacher[:, 0])
    both = DistillationLoss(2, listwise_weight=1.0, margin_weight=1.0, **ORDER_ONLY)
    # Expected grade 1 + p_2: shift each query's student scores by its own constant.
    shifted = 1 + teacher[:, 1] + np.array([0.05, 0.05, -0.1, -0.1])
    same_order = np.stack([np.zeros(4), np.log((shifted - 1) / (2 - shifted))], 1)
    assert float(both(targets, same_order.astype("float32"))) == pytest.approx(0.0, abs=1e-6)
    reversed_order = np.stack([np.zeros(4), -teacher_logit], 1).astype("float32")
    assert float(both(targets, reversed_order)) > 0.1
    # Every row alone in its query: nothing to order, so nothing added.
    alone = pack_targets(teacher, [0] * 4, 2, query_group=[0, 1, 2, 3])
    assert float(both(alone, reversed_order)) == pytest.approx(0.0, abs=1e-6)


def test_order_terms_pull_the_teachers_top_candidate_up():
    teacher = np.array([[0.1, 0.9], [0.9, 0.1]], "float32")
    targets = pack_targets(teacher, [0, 0], 2, query_group=[4, 4])
    logits = tf.Variable(np.zeros((2, 2), "float32"))
    for weights in ({"listwise_weight": 1.0}, {"margin_weight": 1.0}):
        with tf.GradientTape() as tape:
            value = DistillationLoss(2, **weights, **ORDER_ONLY)(targets, logits)
        gradient = tape.gradient(value, logits).numpy()
        # Descent raises grade 2 of the teacher's top row and lowers it on the other.
        assert gradient[0, 1] < 0 < gradient[1, 1], (weights, gradient)


def test_order_terms_need_the_group_column_and_survive_serialization():
    loss = DistillationLoss(2, listwise_weight=0.5, listwise_temperature=0.25, margin_weight=2.0)
    assert loss.needs_query_groups and not DistillationLoss(2).needs_query_groups
    with pytest.raises(ValueError, match="query_group"):
        loss(pack_targets([[0.5, 0.5]], [0], 2), np.zeros((1, 2), "float32"))
    with pytest.raises(ValueError, match="listwise_temperature"):
        DistillationLoss(2, listwise_temperature=0.0)
    restored = keras.losses.deserialize(json.loads(json.dumps(keras.losses.serialize(loss))))
    assert (restored.listwise_weight, restored.listwise_temperature,
            restored.margin_weight) == (0.5, 0.25, 2.0)
    # Off, the group column is ignored: same pointwise loss with or without it.
    teacher, logits = [[0.7, 0.3], [0.4, 0.6]], np.array([[0.2, 0.0], [0.0, 0.3]], "float32")
    plain = DistillationLoss(2)
    assert float(plain(pack_targets(teacher, [1, 0], 2, query_group=[0, 0]), logits)) == \
        pytest.approx(float(plain(pack_targets(teacher, [1, 0], 2), logits)))


def test_the_listwise_flag_reaches_the_student_config():
    from cli import main as cli
    from trainer.student.config import StudentConfig
    from trainer.student.task import distillation_loss

    def student(*flags):
        args = cli.build_parser().parse_args(
            ["compile", "--runner", "kubeflow", "--output", "x.json", *flags])
        return StudentConfig.from_dict(cli._config_overrides(args)["student"])

    assert student().listwise_weight == 0.0  # off by default: today's pointwise student
    assert not distillation_loss(student(), 4).needs_query_groups
    config = student("--student-listwise-weight", "0.5")
    assert distillation_loss(config, 4).listwise_weight == 0.5
    with pytest.raises(SystemExit):
        student("--student-listwise-weight", "-1")


# ------------------------------------------------------------------ batching


def _keys(rng, num_rows):
    # Queries of 1 to 12 candidates, rows of a query scattered over the corpus.
    keys = [f"q{i}" for i in range(num_rows) for _ in range(rng.randint(1, 12))][:num_rows]
    rng.shuffle(keys)
    return keys


def test_query_batches_keep_every_row_once_and_a_query_in_one_batch():
    rng = random.Random(3)
    keys = _keys(rng, 500)
    groups = group_rows(keys)
    orders = []
    for seed in (0, 1):
        batches = pack_query_batches(groups, 32, np.random.default_rng(seed))
        rows = np.concatenate([batch_rows for batch_rows, _ in batches])
        assert sorted(rows.tolist()) == list(range(len(keys)))  # each row exactly once
        batch_of_key = {}
        for number, (batch_rows, group) in enumerate(batches):
            assert len(batch_rows) <= 32
            for row, index in zip(batch_rows, group):
                # One batch per query, and one group index per query within it.
                assert batch_of_key.setdefault(keys[row], (number, index)) == (number, index)
        assert len({key for key in batch_of_key}) == len(groups)
        orders.append(rows.tolist())
    assert orders[0] != orders[1]  # the seed shuffles the queries


def test_a_query_larger_than_a_batch_is_cut_into_batch_sized_chunks():
    groups = group_rows(["big"] * 10 + ["a", "a"])
    batches = pack_query_batches(groups, 4)
    assert [rows.tolist() for rows, _ in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert batches[-1][1].tolist() == [0, 0, 1, 1]


def test_grouped_dataset_reshuffles_every_pass_and_keeps_records_intact():
    keys = _keys(random.Random(5), 200)
    # Trailing zero bytes would be lost in a numpy bytes array.
    records = [key.encode() + b"/%d\x00" % row for row, key in enumerate(keys)]
    dataset = grouped_batches(records, keys, 16, seed=11)
    passes = [[(batch.numpy().tolist(), group.numpy().tolist()) for batch, group in dataset]
              for _ in range(2)]
    for batches in passes:
        flat = [record for batch, _ in batches for record in batch]
        assert sorted(flat) == sorted(records)
        for batch, group in batches:
            key_of_group = {}
            for record, index in zip(batch, group):
                assert key_of_group.setdefault(index, record.split(b"/")[0]) == \
                    record.split(b"/")[0]
            assert len(set(key_of_group.values())) == len(key_of_group)
    assert passes[0] != passes[1]
    # Without a seed (evaluation): the same order on every pass, queries as first seen.
    unshuffled = grouped_batches(np.arange(len(keys)), keys, 16)
    first = [batch.numpy().tolist() for batch, _ in unshuffled]
    assert first == [batch.numpy().tolist() for batch, _ in unshuffled]
    assert first[0][0] == 0


def test_query_keys_fall_back_to_the_query_text():
    records = [serialized_example({contract.QUERY: "red shoes", contract.QUERY_ID: "q-1"}),
               serialized_example({contract.QUERY: "red shoes"})]
    assert query_keys(records) == [b"q-1", b"red shoes"]


# ------------------------------------------------------------------- end to end


def _queries(rng, num_queries, candidates):
    rows = []
    for number in range(num_queries):
        query_words = rng.sample(WORDS, 2)
        for _ in range(candidates):
            row, grade = _make_row(rng, query_words)
            rows.append(({**row, contract.QUERY_ID: f"q{number}"}, grade))
    rng.shuffle(rows)  # a query's rows scattered over the files
    return rows


def test_a_tiny_student_trains_with_the_listwise_term_end_to_end(tmp_path):
    rng = random.Random(11)
    train, held_out = _queries(rng, 40, 8), _queries(rng, 20, 8)
    transform_dir = build_transform_output([row for row, _ in train], str(tmp_path / "tf"))
    examples = [_to_example(row, grade if i < 80 else None, _soft_label(grade, rng),
                            contract.LABEL_SOURCE_HUMAN if i < 80 else contract.LABEL_SOURCE_PSEUDO)
                for i, (row, grade) in enumerate(train)]
    for split, rows in (("train", examples), ("eval", examples[:64])):
        (tmp_path / split).mkdir()
        _write(str(tmp_path / split / "data-00000-of-00001.gz"), rows)
    fn_args = FnArgs(
        train_files=[str(tmp_path / "train" / "*")], eval_files=[str(tmp_path / "eval" / "*")],
        transform_output=transform_dir, serving_model_dir=str(tmp_path / "serving"),
        model_run_dir=str(tmp_path / "run"), train_steps=40, eval_steps=1,
        custom_config={"num_grades": G, "student": {
            "embedding_dim": 8, "epochs": 2, "batch_size": 64, "learning_rate": 0.01,
            "listwise_weight": 1.0, "margin_weight": 0.5}},
    )
    run_fn(fn_args)

    with open(os.path.join(fn_args.model_run_dir, "student_config.json")) as handle:
        assert json.load(handle)["student"]["listwise_weight"] == 1.0
    loaded = tf.saved_model.load(fn_args.serving_model_dir)
    out = loaded.signatures[contract.SIGNATURE_EXAMPLES](
        examples=tf.constant([_to_example(row) for row, _ in held_out]))
    probabilities = out[contract.OUTPUT_PROBABILITIES].numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # It learnt the order: a held-out query's grade-5 candidates above its grade-1 ones.
    score = out[contract.OUTPUT_SCORE].numpy()
    grades = np.array([grade for _, grade in held_out])
    assert score[grades == 5].mean() > score[grades == 1].mean() + 0.5
