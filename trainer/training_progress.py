"""Progress while a trainer fits: step, examples/s, elapsed time, ETA for the epoch and
for the run, on the `relevance.progress` logger (which the run's console shows).

A teacher epoch on 2 cores can take half an hour; one line per epoch (`EpochLog`) cannot
tell a slow run from a hung one. This callback reports every `interval_seconds` (default
30 s, so a plain console, which thins progress lines to one per label every 10 s, prints
one at least every 60 s) and draws a bar on a terminal through the `ProgressReport` it
attaches, counted in steps over the whole run.

Example (a fake clock; lines collected instead of logged):

>>> clock = iter([0.0, 40.0, 70.0, 100.0]).__next__
>>> lines = []
>>> progress = TrainingProgress("teacher", epochs=2, steps_per_epoch=4, batch_size=8,
...                             emit=lines.append, clock=clock)
>>> progress.on_train_begin()
>>> progress.on_epoch_begin(0)
>>> for step in range(3):
...     progress.on_train_batch_end(step)
>>> for line in lines:
...     print(line)
teacher step 1/8 · epoch 1/2 · first step (graph tracing) · elapsed 40s
teacher step 2/8 · epoch 1/2 · 0.3 examples/s · elapsed 1m10s · ETA epoch 1m00s, run 3m00s
teacher step 3/8 · epoch 1/2 · 0.3 examples/s · elapsed 1m40s · ETA epoch 30s, run 2m30s
"""

import logging
import os
import time
from typing import Callable, Optional

import keras

from relevance.progress import LOGGER_NAME, PROGRESS_FIELD, ProgressReport, format_duration


class TrainingProgress(keras.callbacks.Callback):
    """Reports `<name> step s/S · epoch e/E · r examples/s · elapsed t · ETA epoch a, run b`.

    Args:
        name: the trainer ("teacher", "student").
        epochs: epochs in the run.
        steps_per_epoch: steps in an epoch (None: unknown, then no ETA until the first
            epoch has ended and shown its length).
        batch_size: examples per step, for the rate.
        interval_seconds: least time between two reports.
        emit: where a line goes (default: the progress logger, with a `ProgressReport`).
        clock: seconds (tests pass a fake one).
    """

    def __init__(self, name: str, epochs: int, steps_per_epoch: Optional[int],
                 batch_size: int, interval_seconds: float = 30.0,
                 emit: Optional[Callable[[str], None]] = None,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self._name = name
        self._epochs = int(epochs)
        self._steps_per_epoch = int(steps_per_epoch) if steps_per_epoch else None
        self._batch_size = int(batch_size)
        self._interval = float(interval_seconds)
        self._emit = emit
        self._clock = clock
        self._reporter = f"{os.getpid()}:{id(self)}"
        self._started = self._last_report = self._first_step_done = 0.0
        self._epoch = 0
        self._step_in_epoch = 0
        self._steps_done = 0

    def on_train_begin(self, logs=None):
        self._started = self._last_report = self._clock()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch)
        self._step_in_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self._steps_per_epoch is None:
            # The first epoch shows how long an epoch is.
            self._steps_per_epoch = self._step_in_epoch

    def on_train_batch_end(self, batch, logs=None):
        self._step_in_epoch += 1
        self._steps_done += 1
        now = self._clock()
        if self._steps_done == 1:
            self._first_step_done = now
        if now - self._last_report >= self._interval:
            self._last_report = now
            self._report(now)

    def _report(self, now: float) -> None:
        elapsed = max(now - self._started, 1e-9)
        # The first step traces (and compiles) the graph: the rate is measured after it.
        steps_per_second = (self._steps_done - 1) / max(now - self._first_step_done, 1e-9)
        total = self._steps_per_epoch * self._epochs if self._steps_per_epoch else 0
        count = f"{self._steps_done:,}/{total:,}" if total else f"{self._steps_done:,}"
        line = f"{self._name} step {count} · epoch {self._epoch + 1}/{self._epochs} · "
        if self._steps_done == 1:
            line += f"first step (graph tracing) · elapsed {format_duration(elapsed)}"
        else:
            line += (f"{steps_per_second * self._batch_size:.1f} examples/s · "
                     f"elapsed {format_duration(elapsed)}")
        if total and steps_per_second > 0:
            epoch_left = max(self._steps_per_epoch - self._step_in_epoch, 0)
            run_left = max(total - self._steps_done, 0)
            line += (f" · ETA epoch {format_duration(epoch_left / steps_per_second)}, "
                     f"run {format_duration(run_left / steps_per_second)}")
        if self._emit is not None:
            self._emit(line)
            return
        report = ProgressReport(f"{self._name} training", self._reporter, self._steps_done,
                                total, "steps", False)
        logging.getLogger(LOGGER_NAME).info(line, extra={PROGRESS_FIELD: report})
