"""Framework noise goes to the run's log, not the terminal (a real TF import, real fds)."""

import subprocess
import sys

SCRIPT = """
import logging, os, sys, warnings
from cli.run_log import routed_logs
with routed_logs(sys.argv[1], verbose=False) as terminal:
    import tensorflow
    warnings.warn("old API", FutureWarning)
    logging.getLogger("absl").info("Component ExampleGen is running.")
    os.write(2, b"E0000 native stderr line\\n")
    print("library print")
    print("console line", file=terminal)
print("after the run")
"""


def test_only_console_lines_reach_the_terminal(tmp_path):
    log = tmp_path / "logs" / "run.log"
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(log)],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["console line", "after the run"]
    assert result.stderr == ""
    text = log.read_text()
    for noise in ("old API", "Component ExampleGen is running.", "native stderr line",
                  "library print"):
        assert noise in text, noise
