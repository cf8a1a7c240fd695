"""One run per work directory: `relevance run` and `demo` hold WORKDIR/.relevance.lock.

Two runs on one workdir would both run every component into the same pipeline root and
metadata store, and the second would overwrite the first's run_summary.json. The lock
is an `fcntl.flock` on a file that names its holder (pid, host, start time). The
kernel releases a flock when its process ends, however it ends (an exception, a kill,
a crash), so a lock is never stale: a file whose holder has gone is simply taken over,
and the run says so in its log.

Example:

>>> import tempfile
>>> workdir = tempfile.mkdtemp()
>>> with workdir_lock(workdir):
...     with workdir_lock(workdir):  # a second run on the same workdir
...         pass
Traceback (most recent call last):
...
relevance.errors.InputError: ...is in use by another run...
"""

import contextlib
import datetime
import fcntl
import json
import logging
import os
import socket
from typing import Iterator

from relevance.errors import InputError

LOCK_FILE = ".relevance.lock"

log = logging.getLogger(__name__)


def _holder_text(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"pid {holder['pid']} on {holder['host']}, started {holder['started']}"
    except (ValueError, KeyError, TypeError):
        return "its holder has not written its name yet"


@contextlib.contextmanager
def workdir_lock(workdir: str) -> Iterator[None]:
    """Holds the workdir's lock while the block runs.

    Raises:
        InputError: another process holds it; the message names that process.
    """
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, LOCK_FILE)
    handle = open(path, "a+", encoding="utf-8")
    acquired = False
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise InputError(
                f"--workdir {workdir} is in use by another run ({_holder_text(handle.read())}); "
                "wait for it to finish, or give this run another --workdir"
            ) from None
        acquired = True
        handle.seek(0)
        left = handle.read().strip()
        if left:
            # Written by a run that was killed before its cleanup: its flock is gone.
            log.warning("%s: taking over the lock of a run that has ended (%s)", path,
                        _holder_text(left))
        handle.truncate(0)
        handle.write(json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(),
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }))
        handle.flush()
        yield
    finally:
        if acquired:  # however the run ended, it ended: only a killed run leaves its name
            with contextlib.suppress(OSError):
                handle.truncate(0)
        with contextlib.suppress(OSError):
            handle.close()  # releases the flock
