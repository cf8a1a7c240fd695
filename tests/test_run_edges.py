"""Issue 38, cases 10 and 11: one run per workdir (a lock that names its holder and is
never stale), and a full disk at start is one line, not chained tracebacks."""

import errno
import io
import json
import os
import signal
import subprocess
import sys

import pytest

from cli import main as cli
from cli import run_log, staging
from cli.workdir_lock import LOCK_FILE, workdir_lock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOLD = ("import sys; from cli.workdir_lock import workdir_lock\n"
        "with workdir_lock(sys.argv[1]):\n"
        "    print('held', flush=True); sys.stdin.read()\n")


def _labeled(tmp_path):
    path = tmp_path / "labeled.jsonl"
    path.write_text("".join(json.dumps({
        "query": f"lamp {n % 4}", "item_id": f"i{n}", "title": f"Lamp {n}", "language": "en",
        "grade": 1 + n % 5}) + "\n" for n in range(12)))
    return str(path)


def _run_argv(tmp_path, workdir):
    labeled = _labeled(tmp_path)
    return ["run", "--labeled", labeled, "--unlabeled", labeled, "--workdir", str(workdir),
            "--teacher-preset", "from-scratch"]


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of tmp_path/run."""
    workdir = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(workdir)], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield workdir, process
    if process.poll() is None:
        process.kill()
    process.wait(10)


def test_a_second_run_on_a_workdir_in_use_stops_naming_the_holder(tmp_path, capsys, holder):
    workdir, process = holder
    (workdir / "run_summary.json").write_text('{"first": true}')
    code = cli.main(_run_argv(tmp_path, workdir))
    err = capsys.readouterr().err
    assert code == cli.EXIT_USER_ERROR, err
    assert err.startswith("error: --workdir") and f"pid {process.pid}" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert json.loads((workdir / "run_summary.json").read_text()) == {"first": True}
    assert not (workdir / "logs").exists()  # stopped before anything was written


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path, holder, caplog):
    workdir, process = holder
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert str(process.pid) in (workdir / LOCK_FILE).read_text()  # left behind
    with workdir_lock(str(workdir)):
        assert json.loads((workdir / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert "has ended" in caplog.text and str(process.pid) in caplog.text
    # Released on any exit, an exception included.
    with pytest.raises(RuntimeError):
        with workdir_lock(str(workdir)):
            raise RuntimeError("a component failed")
    with workdir_lock(str(workdir)):
        pass


class _FullDiskLog(io.StringIO):
    """The run log on a full disk: opened, but nothing written to it reaches the disk."""

    def __init__(self, real):
        super().__init__()
        self._real = real

    def fileno(self):
        return self._real.fileno()

    def write(self, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self):
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self):
        self._real.close()
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_at_start_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(run_log, "open", lambda path, *a, **k: _FullDiskLog(open(path, "a")),
                        raising=False)

    def preflight(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "run" / "x"))

    monkeypatch.setattr(staging, "preflight", preflight)
    code = cli.main(_run_argv(tmp_path, tmp_path / "run"))
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("error: no space left on device writing "), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
