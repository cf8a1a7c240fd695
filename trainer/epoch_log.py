"""One line per training epoch on the `relevance.progress` logger, which the console shows.

>>> import logging
>>> callback = EpochLog("teacher", epochs=2)
>>> callback.on_epoch_begin(0)
>>> callback.on_epoch_end(0, {"loss": 1.5, "val_loss": 1.6})
"""

import logging
import time

import keras

from relevance.progress import LOGGER_NAME as PROGRESS_LOGGER


class EpochLog(keras.callbacks.Callback):
    """Logs `<name> epoch i/n · loss 1.234 · val_loss 1.301 · 3.2 s` after each epoch."""

    def __init__(self, name: str, epochs: int):
        super().__init__()
        self._name = name
        self._epochs = epochs
        self._started = time.time()
        self._logger = logging.getLogger(PROGRESS_LOGGER)

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        metrics = " · ".join(f"{key} {float(value):.3f}" for key, value in (logs or {}).items())
        self._logger.info("%s epoch %d/%d · %s · %.1f s", self._name, epoch + 1, self._epochs,
                          metrics, time.time() - self._started)
