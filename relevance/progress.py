"""Progress of long batch steps (pseudo-labeling, captioning): rows done, rate, ETA.

Reports go to the `relevance.progress` logger at most every `interval_seconds` and once
at the end, e.g.

    PseudoLabeler[unlabeled]: 1,200/5,023 rows (23.9%) · 19.8 rows/s · ETA 3m13s

Each record also carries a `ProgressReport` (attribute `PROGRESS_FIELD`), from which the
run's console draws a progress bar on a terminal (`cli.progress_display`); the
text is what the log file, and a console that is not a terminal, show.

Each Beam worker reports its own share; `total` is the whole split's row count (0 when
unknown: no percentage or ETA then). A worker in this process reaches the console; one
in another process (multi-process DirectRunner, Dataflow) logs to that worker's log.

Example:

>>> clock = iter([0.0, 5.0, 8.0]).__next__
>>> lines = []
>>> progress = RateProgress("Teacher", total=100, interval_seconds=5, emit=lines.append,
...                         clock=clock)
>>> progress.update(40); progress.update(40); progress.finish()
>>> lines
['Teacher: 40/100 rows (40.0%) · 8.0 rows/s · ETA 8s', 'Teacher: 80/100 rows (80.0%) · 10.0 rows/s done']
"""

import logging
import os
import time
from typing import Callable, NamedTuple, Optional

LOGGER_NAME = "relevance.progress"
PROGRESS_FIELD = "progress_report"


class ProgressReport(NamedTuple):
    """One reporter's state: `reporter` tells workers apart, so a display can add them up."""

    label: str
    reporter: str
    done: int
    total: int
    unit: str
    final: bool


def format_duration(seconds: float) -> str:
    """'7s', '3m13s', '1h02m'."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


class RateProgress:
    """Counts rows and reports rate and ETA every `interval_seconds`.

    Args:
        label: what is being done, e.g. "PseudoLabeler[unlabeled]".
        total: rows expected in all (0: unknown).
        interval_seconds: least time between two reports (short enough for a smooth bar;
            a plain console thins the lines out itself).
        emit: where a report line goes (default: the `relevance.progress` logger, with
            a `ProgressReport` attached).
        clock: seconds (tests pass a fake one).
        unit: what is counted ("rows", "images").
    """

    def __init__(self, label: str, total: int = 0, interval_seconds: float = 2.0,
                 emit: Optional[Callable[[str], None]] = None,
                 clock: Callable[[], float] = time.monotonic, unit: str = "rows"):
        self.label = label
        self.total = int(total)
        self.interval_seconds = float(interval_seconds)
        self.unit = unit
        self._emit = emit
        self._clock = clock
        self._reporter = f"{os.getpid()}:{id(self)}"
        self._started = clock()
        self._last_report = self._started
        self._last_update = self._started
        self.done = 0

    def _line(self, now: float, final: bool) -> str:
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        count = f"{self.done:,}/{self.total:,}" if self.total else f"{self.done:,}"
        share = f" ({100.0 * self.done / self.total:.1f}%)" if self.total else ""
        line = f"{self.label}: {count} {self.unit}{share} · {rate:.1f} {self.unit}/s"
        if final:
            return line + " done"
        if self.total and rate > 0:
            line += f" · ETA {format_duration(max(self.total - self.done, 0) / rate)}"
        return line

    def _report(self, now: float, final: bool) -> None:
        line = self._line(now, final)
        if self._emit is not None:
            self._emit(line)
            return
        report = ProgressReport(self.label, self._reporter, self.done, self.total,
                                self.unit, final)
        logging.getLogger(LOGGER_NAME).info(line, extra={PROGRESS_FIELD: report})

    def update(self, rows: int) -> None:
        self.done += int(rows)
        now = self._last_update = self._clock()
        if now - self._last_report >= self.interval_seconds:
            self._last_report = now
            self._report(now, final=False)

    def finish(self) -> None:
        # The rate of the work itself: up to the last update, not to a worker's teardown.
        if self.done:
            self._report(self._last_update, final=True)
