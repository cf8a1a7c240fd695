"""Where a run's framework output goes: WORKDIR/logs/run.log, not the terminal.

TFX, absl, TensorFlow, Beam and Python warnings all log at INFO into the run's log;
C++ code (TensorFlow's CUDA-factory registration errors on a CPU machine, gRPC) writes to
file descriptor 2 directly, so the descriptors themselves are pointed at the log while
the run lasts. The terminal keeps only what `cli.console` prints.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "logs", "run.log")
>>> with routed_logs(path, verbose=False) as terminal:
...     logging.getLogger("absl").info("Component ExampleGen is running.")
>>> "ExampleGen" in open(path).read()
True
"""

import contextlib
import errno
import io
import logging
import os
import sys
import warnings
from typing import Iterator, Optional, TextIO

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_active_terminal = None


class RunFailed(RuntimeError):
    """A pipeline component failed; the message is one line and names the log."""


def quiet_native_logs(verbose: bool) -> None:
    """Environment read by TensorFlow / gRPC at import time; call before importing TF."""
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


def _terminal_stream(fd: int) -> TextIO:
    return io.TextIOWrapper(os.fdopen(os.dup(fd), "wb", buffering=0),
                            encoding="utf-8", errors="replace", line_buffering=True)


@contextlib.contextmanager
def routed_logs(log_path: str, verbose: bool) -> Iterator[TextIO]:
    """Sends all logging, warnings and fds 1/2 to `log_path`; yields the terminal's stdout.

    Re-entrant: an inner call (e.g. `relevance demo` calling the run) reuses the outer
    routing. With `verbose`, the descriptors stay on the terminal and log records are
    shown on stderr as well as written to the log.
    """
    global _active_terminal
    if _active_terminal is not None:
        yield _active_terminal
        return
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    log_file = open(log_path, "a", encoding="utf-8", buffering=1)
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    file_handler = logging.StreamHandler(log_file)
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handlers = [file_handler]
    saved_fds, saved_streams = {}, (sys.stdout, sys.stderr)
    if verbose:
        terminal = sys.stdout
        shown = logging.StreamHandler(sys.stderr)
        shown.setFormatter(logging.Formatter(LOG_FORMAT))
        handlers.append(shown)
    else:
        terminal = _terminal_stream(1)
        for fd in (1, 2):
            saved_fds[fd] = os.dup(fd)
            os.dup2(log_file.fileno(), fd)
        # Python-level writes (library prints, tracebacks of worker threads) follow
        # the descriptors; our own lines go to `terminal`.
        sys.stdout = sys.stderr = log_file
    root.handlers = handlers
    root.setLevel(logging.INFO)
    # Once TensorFlow has imported absl, its logger sits at WARNING until flags are parsed.
    logging.getLogger("absl").setLevel(logging.INFO)
    logging.captureWarnings(True)
    _active_terminal = terminal
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            yield terminal
    finally:
        _active_terminal = None
        logging.captureWarnings(False)
        root.handlers, root.level = saved_handlers, saved_level
        sys.stdout, sys.stderr = saved_streams
        for fd, saved in saved_fds.items():
            os.dup2(saved, fd)
            os.close(saved)
        if terminal is not saved_streams[0]:
            terminal.close()
        # On a full disk the log's last lines cannot be written: the error that stopped
        # the run is the one to show, not a second one from closing its log.
        with contextlib.suppress(OSError):
            log_file.close()


def disk_full_message(error: OSError) -> Optional[str]:
    """The one line to show for a write that failed because the disk (or the quota) is
    full, else None.

    >>> import errno
    >>> disk_full_message(OSError(errno.ENOSPC, "No space left on device", "w/run.log"))
    'no space left on device writing w/run.log; free some space and run again (finished components are reused)'
    """
    if error.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    where = f" writing {error.filename}" if error.filename else ""
    return (f"{os.strerror(error.errno).lower()}{where}; free some space and run again "
            "(finished components are reused)")
