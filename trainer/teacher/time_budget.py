"""Training for a wall-clock budget instead of a number of epochs.

`TimeBudget(seconds, peak)` spends the learning-rate schedule over time: a linear
warm-up over the first `warmup_fraction` of the budget, then a cosine decay to 0 at its
end, when training stops (within the batch that crosses it). Epochs then only cap the
run. It is how two teachers of very different cost are compared fairly (each gets what
fits in the same minutes) and how a user says "train for 20 minutes".

Example:

>>> budget = TimeBudget(seconds=100, peak_learning_rate=1e-3, warmup_fraction=0.1)
>>> [round(budget.learning_rate(f), 6) for f in (0.0, 0.05, 0.1, 0.55, 1.0)]
[0.0, 0.0005, 0.001, 0.0005, 0.0]
"""

import math
import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Sets the optimizer's learning rate from the elapsed share of `seconds` before each
    batch and stops training once the budget is spent."""

    def __init__(self, seconds: float, peak_learning_rate: float, warmup_fraction: float = 0.1):
        super().__init__()
        if seconds <= 0:
            raise ValueError(f"the training budget must be > 0 seconds, got {seconds}")
        self.seconds = float(seconds)
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_fraction = float(warmup_fraction)
        self.started = None
        self.steps = 0

    def learning_rate(self, fraction: float) -> float:
        """The rate at `fraction` (0..1) of the budget."""
        fraction = min(max(fraction, 0.0), 1.0)
        if self.warmup_fraction and fraction < self.warmup_fraction:
            return self.peak_learning_rate * fraction / self.warmup_fraction
        decay = (fraction - self.warmup_fraction) / max(1e-9, 1.0 - self.warmup_fraction)
        return self.peak_learning_rate * 0.5 * (1.0 + math.cos(math.pi * decay))

    def on_train_begin(self, logs=None):
        self.started = time.time()

    def on_train_batch_begin(self, batch, logs=None):
        fraction = (time.time() - self.started) / self.seconds
        if fraction >= 1.0:
            self.model.stop_training = True
        self.model.optimizer.learning_rate.assign(self.learning_rate(fraction))
        self.steps += 1
