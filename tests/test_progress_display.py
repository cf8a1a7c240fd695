"""Progress of long batch steps on the run's terminal: tqdm bars on a terminal, plain
lines elsewhere; reports reach the console through the `relevance.progress` logger."""

import io
import logging
import re
import time

from relevance.progress import LOGGER_NAME, PROGRESS_FIELD, ProgressReport, RateProgress
from cli.console import RunConsole
from cli.progress_display import ProgressDisplay


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _report(done, reporter="w1", final=False, total=100, label="PseudoLabeler[unlabeled]"):
    return ProgressReport(label, reporter, done, total, "rows", final)


def test_plain_output_is_one_line_per_label_every_interval_and_each_final_line():
    out, clock = io.StringIO(), _Clock()
    display = ProgressDisplay(out, interactive=False, plain_interval_seconds=10, clock=clock)
    for step in range(13):  # a report every 2 s for 24 s
        clock.now = 2.0 * step
        display.report(_report(step), f"at {clock.now:.0f} s")
    display.report(_report(13, final=True), "done")
    assert out.getvalue().splitlines() == ["  at 10 s", "  at 20 s", "  done"]
    assert "\r" not in out.getvalue()


def test_a_stream_that_is_not_a_terminal_gets_plain_lines():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert ProgressDisplay(io.StringIO()).interactive is False
    assert ProgressDisplay(Terminal()).interactive is True


def test_bar_adds_up_the_workers_shares_with_rate_and_eta():
    out = io.StringIO()
    display = ProgressDisplay(out, interactive=True)
    display.report(_report(10, "w1"), "")
    time.sleep(0.15)  # tqdm redraws at most every 0.1 s
    display.report(_report(20, "w2"), "")
    time.sleep(0.15)
    display.report(_report(30, "w1"), "")
    frames = out.getvalue().split("\r")
    # 30 (w1) + 20 (w2), with tqdm's rate and ETA.
    assert any(re.search(r"50/100 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+ rows/s\]", f) for f in frames), frames
    display.report(_report(50, "w2", final=True), "")  # 30 + 50 = 80: still running
    display.report(_report(50, "w1", final=True), "")  # 100: the bar is complete
    assert "100/100" in out.getvalue().split("\r")[-1]
    drawn = out.getvalue()
    display.report(_report(50, "w3", final=True), "")  # a late report draws nothing
    assert out.getvalue() == drawn


def test_a_line_written_under_an_open_bar_stays_whole():
    out = io.StringIO()
    display = ProgressDisplay(out, interactive=True)
    display.report(_report(10), "")
    display.write("teacher epoch 1/3 · loss 1.2")
    assert "teacher epoch 1/3 · loss 1.2\n" in out.getvalue()
    assert re.search(r"\n\r?\s*PseudoLabeler\[unlabeled\]: +10%", out.getvalue().split(
        "teacher epoch")[1]), out.getvalue()  # the bar is drawn again below the line


def test_rate_progress_attaches_a_report_to_its_log_records():
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    saved = logger.level
    logger.setLevel(logging.INFO)
    try:
        clock = _Clock()
        progress = RateProgress("ImageCaptioner", total=8, interval_seconds=2, clock=clock,
                                unit="images")
        clock.now = 1.0
        progress.update(2)  # within the interval: no report
        clock.now = 2.0
        progress.update(2)
        progress.finish()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)
    reports = [getattr(record, PROGRESS_FIELD) for record in records]
    assert [(r.done, r.total, r.unit, r.final) for r in reports] == [
        (4, 8, "images", False), (4, 8, "images", True)]
    assert reports[0].reporter == reports[1].reporter
    assert records[0].getMessage() == "ImageCaptioner: 4/8 images (50.0%) · 2.0 images/s · ETA 2s"


def _record(msg, *args, **extra):
    return logging.makeLogRecord({"name": "absl", "msg": msg, "args": args, **extra})


def test_run_console_draws_reports_and_ends_the_bar_with_its_component():
    out = io.StringIO()
    console = RunConsole(out, counts_fn=lambda node: "40 pseudo-labels", interactive=True)
    console.emit(_record("Component %s is running.", "PseudoLabeler"))
    console.emit(logging.makeLogRecord({
        "name": LOGGER_NAME, "msg": "PseudoLabeler[unlabeled]: 40/100 rows",
        PROGRESS_FIELD: _report(40)}))
    console.emit(_record("Component %s is finished.", "PseudoLabeler"))
    text = out.getvalue()
    assert "40/100" in text and "PseudoLabeler[unlabeled]: 40/100 rows" not in text
    # The bar is closed (left on screen) before the component's end line.
    assert re.search(r"40/100 \[.*\]\nPseudoLabeler +40 pseudo-labels · \d+ s\n$", text), text


def test_run_console_off_a_terminal_prints_the_report_lines():
    out = io.StringIO()
    console = RunConsole(out, counts_fn=lambda node: "")
    console.emit(logging.makeLogRecord({
        "name": LOGGER_NAME, "msg": "PseudoLabeler[unlabeled]: 100/100 rows · 9.0 rows/s done",
        PROGRESS_FIELD: _report(100, final=True)}))
    console.emit(logging.makeLogRecord({"name": LOGGER_NAME, "msg": "teacher epoch 1/1"}))
    assert out.getvalue().splitlines() == [
        "  PseudoLabeler[unlabeled]: 100/100 rows · 9.0 rows/s done", "  teacher epoch 1/1"]
