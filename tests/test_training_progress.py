"""The trainers' progress lines: step, examples/s, elapsed and ETAs, from a real fit."""

import keras
import numpy as np

from trainer.training_progress import TrainingProgress


class _Clock:
    """Advances 20 s per reading: every other step is due a report at a 30 s interval."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 20.0
        return self.now


def _fit(progress, epochs=2, rows=32, batch_size=8):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((rows, 3)), np.ones((rows, 1)), batch_size=batch_size, epochs=epochs,
              callbacks=[progress], verbose=0)


def test_a_real_fit_reports_steps_rate_and_both_etas():
    lines = []
    _fit(TrainingProgress("teacher", epochs=2, steps_per_epoch=4, batch_size=8,
                          emit=lines.append, clock=_Clock()))
    assert len(lines) == 4  # 8 steps, a report every other step
    assert lines[0].startswith("teacher step 2/8 · epoch 1/2 · 0.4 examples/s · elapsed 40s")
    assert "ETA epoch 40s, run 2m00s" in lines[0]
    assert lines[-1].startswith("teacher step 8/8 · epoch 2/2")


def test_unknown_epoch_length_reports_without_eta_until_an_epoch_ends():
    lines = []
    _fit(TrainingProgress("student", epochs=2, steps_per_epoch=None, batch_size=8,
                          emit=lines.append, clock=_Clock()))
    assert "ETA" not in lines[0] and lines[0].startswith("student step 2 ·")
    assert lines[-1].startswith("student step 8/8") and "ETA epoch" in lines[-1]
