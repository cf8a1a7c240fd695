"""Hands memory back between the components of a local run.

The LocalDagRunner runs every component in one process. A component's models, graphs
and Beam state become garbage when it ends, but the next one starts before Python's
collector has run, and glibc keeps freed heap pages mapped: the process's resident size
then grows with every component that loads a model (the TeacherTrainer's two encoders,
the PseudoLabeler's and the TeacherEvaluator's SavedModels). After each component
`release_memory` collects garbage, clears Keras's global graph state and asks glibc to
return free pages (`malloc_trim`), so the run's peak is the largest component's, not
their sum.

Example:

>>> import logging
>>> handler = ReleaseMemoryAfterComponents()
>>> handler.emit(logging.makeLogRecord({"name": "absl", "msg": "Component %s is finished.",
...                                     "args": ("Transform",)}))
>>> handler.releases
1
"""

import ctypes
import ctypes.util
import gc
import logging
import sys

_FINISHED = "Component %s is finished."


def release_memory() -> None:
    """Collects garbage, clears Keras's session (if Keras is loaded) and trims the heap."""
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.backend.clear_session()
    gc.collect()
    library = ctypes.util.find_library("c")
    if library:
        try:
            ctypes.CDLL(library).malloc_trim(0)
        except (OSError, AttributeError):  # not glibc: nothing to trim
            pass


class ReleaseMemoryAfterComponents(logging.Handler):
    """A logging handler on the orchestrator's records: `release_memory` after each
    "Component X is finished." line."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.releases = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == _FINISHED:
            release_memory()
            self.releases += 1
