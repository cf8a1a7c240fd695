"""Progress reports on the run's terminal: a tqdm bar when it is a terminal, lines when not.

The reports come from `relevance.progress.RateProgress` (one per Beam worker, each
with its own share of a label's rows); the display adds the workers' shares up per
label. On a terminal each label gets a bar with tqdm's rate and ETA; elsewhere (CI,
pipes, files) the reports' own lines are printed, at most one per label every
`plain_interval_seconds`, plus every worker's final line.

>>> import io
>>> from relevance.progress import ProgressReport
>>> out = io.StringIO()
>>> display = ProgressDisplay(out, interactive=False)
>>> display.report(ProgressReport("Teacher", "w1", 40, 100, "rows", False), "Teacher: 40/100")
>>> display.report(ProgressReport("Teacher", "w1", 100, 100, "rows", True), "Teacher: done")
>>> out.getvalue().splitlines()
['  Teacher: done']
"""

import time
from typing import Callable, Dict, Optional, TextIO

from tqdm import tqdm

from relevance.progress import ProgressReport


class ProgressDisplay:
    """Bars (terminal) or thinned-out lines (anything else) for progress reports.

    Args:
        stream: the terminal's stream.
        interactive: draw bars; default: whether `stream` is a terminal.
        plain_interval_seconds: least time between two plain lines of one label.
        clock: seconds (tests pass a fake one).
    """

    def __init__(self, stream: TextIO, interactive: Optional[bool] = None,
                 plain_interval_seconds: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self._stream = stream
        if interactive is None:
            isatty = getattr(stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self._plain_interval = plain_interval_seconds
        self._clock = clock
        self._bars: Dict[str, tqdm] = {}
        self._shares: Dict[str, Dict[str, int]] = {}
        self._last_plain: Dict[str, float] = {}
        self._completed = set()  # labels whose bar reached its total: later reports are late

    def write(self, text: str) -> None:
        """A plain line, printed above any bars instead of through them."""
        if self._bars:
            tqdm.write(text, file=self._stream)
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def report(self, report: ProgressReport, line: str) -> None:
        if self.interactive:
            self._draw(report)
            return
        now = self._clock()
        last = self._last_plain.setdefault(report.label, now)
        if report.final or now - last >= self._plain_interval:
            self._last_plain[report.label] = now
            self.write(f"  {line}")

    def _draw(self, report: ProgressReport) -> None:
        if report.label in self._completed:
            return
        shares = self._shares.setdefault(report.label, {})
        shares[report.reporter] = report.done
        done = sum(shares.values())
        bar = self._bars.get(report.label)
        if bar is None:
            # Starts at the rows already done, so tqdm's rate counts only what follows.
            bar = self._bars[report.label] = tqdm(
                desc=f"  {report.label}", total=report.total or None, initial=done,
                unit=f" {report.unit}", file=self._stream, dynamic_ncols=True, leave=True)
        else:
            bar.update(done - bar.n)
        if report.total and done >= report.total:
            self._completed.add(report.label)
            self._close(report.label)

    def _close(self, label: str) -> None:
        self._bars.pop(label).close()
        self._shares.pop(label, None)

    def close(self) -> None:
        """Ends every bar (a component finished); the next report of a label starts anew."""
        for label in list(self._bars):
            self._close(label)
        self._shares.clear()
        self._last_plain.clear()
        self._completed.clear()
