"""What `relevance run` / `demo` print: one line per component start and end, one per
training epoch, a progress bar (or, off a terminal, progress lines) for long batch
steps, and a closing summary. Everything else goes to the run's log (`cli.run_log`).

Component starts and ends are read from the TFX local orchestrator's own log records
("Component X is running." / "... is finished."); each end line reads that component's
counts from its output artifacts in MLMD. Trainers report epochs on the
`relevance.progress` logger (`trainer/epoch_log.py`); batch steps report rows there too,
with a `ProgressReport` attached (`relevance/progress.py`), which
`cli.progress_display` draws.

>>> import io
>>> out = io.StringIO()
>>> console = RunConsole(out, counts_fn=lambda node: "3 rows")
>>> console.emit(logging.makeLogRecord({"name": "absl", "msg": "Component %s is running.",
...                                     "args": ("ExampleGen",)}))
>>> console.emit(logging.makeLogRecord({"name": "absl", "msg": "Component %s is finished.",
...                                     "args": ("ExampleGen",)}))
>>> print(out.getvalue().splitlines()[1][:32])
ExampleGen          3 rows · 0 s
"""

import logging
import time
from typing import Any, Callable, Dict, List, Optional, TextIO

from relevance.progress import LOGGER_NAME as PROGRESS_LOGGER, PROGRESS_FIELD
from evaluation.metrics import HEADLINE_METRICS
from cli.progress_display import ProgressDisplay

_RUNNING = "Component %s is running."
_FINISHED = "Component %s is finished."
_CACHED = "A cached execution %d is used."
_MODEL_ORDER = ("teacher", "student", "previous", "bm25_baseline")


class RunConsole(logging.Handler):
    """A logging handler that turns orchestrator and progress records into terminal lines.

    Args:
        stream: where the lines go (the terminal).
        counts_fn: node id -> a short text of that component's counts ("" if none).
        interactive: draw progress bars; default: whether `stream` is a terminal.
    """

    def __init__(self, stream: TextIO, counts_fn: Callable[[str], str],
                 interactive: Optional[bool] = None):
        super().__init__(level=logging.INFO)
        self._display = ProgressDisplay(stream, interactive=interactive)
        self._counts_fn = counts_fn
        self._started: Dict[str, float] = {}
        self._cached = set()
        self._current: Optional[str] = None

    @property
    def current_component(self) -> Optional[str]:
        """The component that started last (the one running when a run fails)."""
        return self._current

    def line(self, text: str) -> None:
        self._display.write(text)

    def close(self) -> None:
        self._display.close()  # a failed run must not leave a bar half drawn
        super().close()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._handle(record)
        except Exception:  # the display must never break a run
            self.handleError(record)

    def _handle(self, record: logging.LogRecord) -> None:
        if record.name == PROGRESS_LOGGER:
            report = getattr(record, PROGRESS_FIELD, None)
            if report is None:
                self.line(f"  {record.getMessage()}")
            else:
                self._display.report(report, record.getMessage())
        elif record.msg == _RUNNING:
            node = self._current = record.args[0]
            self._started[node] = time.time()
            self.line(f"{node:<19} started")
        elif record.msg == _CACHED and self._current:
            self._cached.add(self._current)
        elif record.msg == _FINISHED:
            node = record.args[0]
            self._display.close()
            seconds = max(0.0, time.time() - self._started.get(node, time.time()))
            counts = self._counts_fn(node)
            parts = [part for part in (counts, "cached" if node in self._cached else "",
                                       f"{seconds:.0f} s") if part]
            self.line(f"{node:<19} {' · '.join(parts)}")


def _metric(value) -> str:
    return "  n/a" if value is None else f"{value:5.2f}"


def summary_lines(summary: Dict[str, Any], model_name: str, log_path: str,
                  summary_path: str) -> List[str]:
    """The closing summary: headline metrics side by side, the gate, the next commands.

    >>> lines = summary_lines({"eval_metrics": {"student": {"label_source=human":
    ...     {"accuracy": 0.6, "qwk": 0.8, "ndcg@10": 0.9, "n": 20}}},
    ...     "evaluation_gate": {"blessed": False, "reasons": ["accuracy too low"]},
    ...     "student": None}, "relevance_student", "w/logs/run.log", "w/run_summary.json")
    >>> lines[2].split()
    ['student', '0.60', '0.80', '0.90']
    """
    human = "label_source=human"
    models = summary.get("eval_metrics") or {}
    sizes = {values.get(human, {}).get("n") for values in models.values()} - {None}
    lines = [f"held-out human grades ({', '.join(map(str, sorted(sizes))) or '?'} pairs):",
             f"  {'model':<15}" + "".join(f"{name:>10}" for name in HEADLINE_METRICS)]
    for name in sorted(models, key=lambda m: (_MODEL_ORDER + (m,)).index(m)):
        values = models[name].get(human) or {}
        lines.append(f"  {name:<15}" + "".join(f"{_metric(values.get(k)):>10}"
                                                for k in HEADLINE_METRICS))
    gate = summary.get("evaluation_gate") or {}
    verdict = "blessed" if gate.get("blessed") else "NOT blessed"
    reasons = "; ".join(gate.get("reasons") or []) or "every gate rule passed"
    lines.append(f"gate: student {verdict}: {reasons}")
    student = summary.get("student")
    if student:
        base = summary.get("serving_model_dir") or student.rsplit("/", 1)[0]
        lines += [f"pushed: {student}",
                  "serve it:",
                  f"  relevance serve --model-base-path {base} --model-name {model_name} "
                  "--port 8500 --rest-port 8501",
                  "score against it (one JSON candidate per line in items.jsonl):",
                  f"  relevance score --server localhost:8500 --model-name {model_name} "
                  "--query \"red running shoes\" --candidates items.jsonl"]
    else:
        lines.append("pushed: nothing (the gate did not bless the student)")
    lines += [f"summary: {summary_path}", f"full log: {log_path}"]
    return lines
