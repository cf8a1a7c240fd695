"""Teacher contrast of the distillation loss: a flat teacher's ranking reaches the student."""

import json

import keras
import numpy as np
import pytest

from relevance import contract
from trainer.student.losses import DistillationLoss, amplify_contrast, pack_targets
from trainer.student.task import MAX_TEACHER_CONTRAST, teacher_contrast, teacher_log_prob_stats
from support.examples import float_feature, serialized_example, write_tfrecord


def test_contrast_scales_log_probability_departures_from_the_center():
    teacher = np.array([[0.5, 0.3, 0.2]], "float32")
    center = [-1.0, -1.2, -1.5]
    # Hand-computed: c + 2 * (log p - c) = 2 log p - c, then softmax.
    logits = 2 * np.log([0.5, 0.3, 0.2]) - np.array(center)
    expected = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(amplify_contrast(teacher, center, 2.0).numpy()[0], expected,
                               rtol=1e-5)
    np.testing.assert_allclose(amplify_contrast(teacher, center, 1.0).numpy(), teacher, rtol=1e-5)


def test_loss_distils_the_contrasted_teacher_before_the_temperature():
    teacher = np.array([[0.5, 0.3, 0.2]], "float32")
    center = [-1.0, -1.2, -1.5]
    student_logits = np.array([[0.3, 0.0, -0.4]], "float32")
    t = 2.0
    contrasted = amplify_contrast(teacher, center, 3.0).numpy()[0]
    p_t = contrasted ** (1 / t) / np.sum(contrasted ** (1 / t))
    q_t = np.exp(student_logits[0] / t) / np.exp(student_logits[0] / t).sum()
    expected = t * t * np.sum(p_t * np.log(p_t / q_t))
    loss = DistillationLoss(3, t, human_weight=0.0, teacher_contrast=3.0, teacher_center=center)
    assert float(loss(pack_targets(teacher, [2], 3), student_logits)) == pytest.approx(
        expected, rel=1e-4)


def test_contrast_leaves_the_human_term_alone():
    teacher = np.array([[0.4, 0.6]], "float32")
    logits = np.array([[0.0, 1.0]], "float32")
    human_only = {"distill_weight": 0.0, "human_weight": 1.0}
    plain = DistillationLoss(2, **human_only)(pack_targets(teacher, [1], 2), logits)
    contrasted = DistillationLoss(2, teacher_contrast=50.0, teacher_center=[0.0, 0.0],
                                  **human_only)(pack_targets(teacher, [1], 2), logits)
    assert float(contrasted) == pytest.approx(float(plain)) == pytest.approx(np.log(1 + np.e))


def test_contrast_needs_a_center_and_survives_serialization():
    with pytest.raises(ValueError, match="teacher_center"):
        DistillationLoss(3, teacher_contrast=2.0)
    with pytest.raises(ValueError, match="teacher_contrast"):
        DistillationLoss(2, teacher_contrast=0.0, teacher_center=[0.0, 0.0])
    loss = DistillationLoss(2, teacher_contrast=4.0, teacher_center=[-0.5, -1.0])
    restored = keras.losses.deserialize(json.loads(json.dumps(keras.losses.serialize(loss))))
    assert (restored.teacher_contrast, restored.teacher_center) == (4.0, [-0.5, -1.0])


def test_teacher_statistics_and_contrast_from_the_training_files(tmp_path):
    rows = [[0.5, 0.5], [0.25, 0.75]]
    path = str(tmp_path / "part.gz")
    write_tfrecord(
        path, [serialized_example({contract.SOFT_LABEL: float_feature(row)}) for row in rows])
    center, spread = teacher_log_prob_stats([path], 2)
    logs = np.log(rows)
    np.testing.assert_allclose(center, logs.mean(axis=0), rtol=1e-6)
    assert spread == pytest.approx(np.sqrt(np.mean((logs - logs.mean(axis=0)) ** 2)))
    assert teacher_contrast(spread, 0.0) == 1.0  # off
    assert teacher_contrast(spread, spread / 2) == 1.0  # spread enough already
    assert teacher_contrast(spread, 2 * spread) == pytest.approx(2.0)
    assert teacher_contrast(0.0, 1.0) == MAX_TEACHER_CONTRAST
