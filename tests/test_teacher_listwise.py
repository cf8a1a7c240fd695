"""The teacher's listwise term: the loss, whole-query batches and a run_fn that uses them."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.saved_model import loader_impl
from tfx.components.trainer.fn_args_utils import FnArgs

from relevance import contract
from trainer.teacher import task
from trainer.teacher.config import TeacherConfig
from trainer.teacher.default_preset import write_default_preset
from trainer.teacher.listwise_training import TeacherLoss, query_grouped_dataset
from trainer.teacher.model import TeacherModel
from trainer.teacher.vocabulary import train_sentencepiece
from test_teacher import NUM_GRADES, ROWS, TINY, _write_split


def test_without_weight_the_loss_is_the_cross_entropy_and_with_it_order_counts():
    logits = tf.constant([[0.1, 0.2, 0.0, 0.3, 0.5], [0.4, 0.1, 0.0, 0.2, 0.1],
                          [0.0, 0.0, 0.3, 0.0, 0.0]])
    packed = tf.constant([[4, 0], [0, 0], [2, 1]])
    cross_entropy = keras.losses.sparse_categorical_crossentropy(packed[:, 0], logits,
                                                                 from_logits=True)
    np.testing.assert_allclose(TeacherLoss(0.0)(packed, logits).numpy(),
                               np.mean(cross_entropy.numpy()), rtol=1e-6)
    # Query 0's relevant row scored below its irrelevant one costs more than the
    # cross-entropy alone; query 1 (one row) adds nothing.
    swapped = tf.gather(logits, [1, 0, 2])
    gap = (TeacherLoss(1.0)(packed, swapped) - TeacherLoss(0.0)(packed, swapped)).numpy()
    gap_right = (TeacherLoss(1.0)(packed, logits) - TeacherLoss(0.0)(packed, logits)).numpy()
    assert gap > gap_right > 0


def test_batches_hold_whole_queries_and_every_graded_row_once(tmp_path):
    config = TeacherConfig(**TINY)
    proto = train_sentencepiece([("red", 3), ("shoes", 2)], vocabulary_size=300)
    teacher = TeacherModel.from_preset(
        write_default_preset(str(tmp_path / "preset"), proto, config, NUM_GRADES), NUM_GRADES,
        config)
    unlabeled = [row[:4] + (None,) for row in ROWS[:2]]
    files = tf.io.gfile.glob(_write_split(str(tmp_path / "train"), ROWS + unlabeled))
    dataset, rows = query_grouped_dataset(files, teacher, batch_size=4, seed=3)
    assert rows == len(ROWS)
    seen = []
    for inputs, packed in dataset:
        labels, groups = packed.numpy()[:, 0], packed.numpy()[:, 1]
        assert len(labels) <= 4 and set(inputs) == set(teacher.input_names)
        seen += [(int(g), int(label)) for g, label in zip(groups, labels)]
        # ROWS holds two candidates per query, in order: a batch holds both or neither.
        assert all(np.sum(groups == g) == 2 for g in set(groups.tolist()))
    assert sorted(label for _, label in seen) == sorted(row[-1] - 1 for row in ROWS)
    assert query_grouped_dataset([], teacher, 4) == (None, 0)


def test_run_fn_trains_with_the_listwise_term(tmp_path):
    train = _write_split(str(tmp_path / "examples" / "Split-train"), ROWS, copies=2)
    evaluation = _write_split(str(tmp_path / "examples" / "Split-eval"), ROWS[:4])
    fn_args = FnArgs(
        train_files=[train], eval_files=[evaluation], transform_output=None,
        serving_model_dir=str(tmp_path / "serving"), model_run_dir=None,
        train_steps=2, eval_steps=None,
        custom_config={"num_grades": NUM_GRADES, "teacher": {**TINY, "listwise_weight": 0.5}})
    summary = task.run_fn(fn_args)
    assert summary["num_train"] == 2 * len(ROWS) and summary["num_eval"] == 4
    assert all(np.isfinite(summary["history"]["loss"]))
    assert 0.0 <= summary["history"]["accuracy"][-1] <= 1.0
    saved_model = loader_impl.parse_saved_model(str(tmp_path / "serving"))
    assert contract.SIGNATURE_RAW in saved_model.meta_graphs[0].signature_def


@pytest.mark.parametrize("listwise_weight", [0.0, 0.5])
def test_run_fn_without_a_graded_row_says_so_on_either_path(tmp_path, listwise_weight):
    unlabeled = [row[:4] + (None,) for row in ROWS]
    train = _write_split(str(tmp_path / "examples" / "Split-train"), unlabeled)
    fn_args = FnArgs(
        train_files=[train], eval_files=[], transform_output=None,
        serving_model_dir=str(tmp_path / "serving"), model_run_dir=None,
        train_steps=2, eval_steps=None,
        custom_config={"num_grades": NUM_GRADES,
                       "teacher": {**TINY, "listwise_weight": listwise_weight}})
    with pytest.raises(ValueError, match=r"no labeled rows \(grade 1\.\.5\)"):
        task.run_fn(fn_args)
