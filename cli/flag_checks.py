"""argparse `type=` validators shared by every `relevance` command, and the parser class
that prints their errors as one line.

A bad flag fails while the command line is parsed, before any file is read, any model
is loaded or TensorFlow is imported: `error: --eval-percent must be > 0 and < 100, got
'150'`, exit code 2, no traceback, no usage dump. Remote paths (`gs://...`) are not
checked here: only the job that reads them can.

Example:

>>> parser = FlagParser(prog="relevance demo")
>>> _ = parser.add_argument("--epochs", type=int_at_least(1))
>>> _ = parser.add_argument("--threshold", type=float_between(0.0, 1.0))
>>> parser.parse_args(["--epochs", "3", "--threshold", "0.5"])
Namespace(epochs=3, threshold=0.5)
>>> int_at_least(1)("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: must be an integer >= 1, got '0'
"""

import argparse
import math
import os
import re
from typing import Callable, NoReturn, Optional

EXIT_USER_ERROR = 2
# G: at least two grades to tell apart; above 100 a "grade" is a score, not a judgement.
MAX_NUM_GRADES = 100
_FLAG_MESSAGE = re.compile(r"^argument (--[\w-]+)(?:/[^:]*)?: (must .*)$", re.DOTALL)


class FlagParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit code 2.

    Sub-parsers made with `add_subparsers` are of the same class, so one `FlagParser` at
    the top covers every command. "argument --x: must be ..." reads "--x must be ...".

    >>> import contextlib, io
    >>> parser = FlagParser(prog="relevance")
    >>> _ = parser.add_argument("--batch-size", type=int_at_least(1))
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err), contextlib.suppress(SystemExit):
    ...     parser.parse_args(["--batch-size", "0"])
    >>> err.getvalue()
    "error: --batch-size must be an integer >= 1, got '0' (see: relevance --help)\\n"
    """

    def error(self, message: str) -> NoReturn:
        match = _FLAG_MESSAGE.match(message)
        if match:
            message = f"{match.group(1)} {match.group(2)}"
        message = " ".join(message.split())  # argparse wraps some messages over lines
        self.exit(EXIT_USER_ERROR, f"error: {message} (see: {self.prog} --help)\n")


def _number(text: str, kind: type, description: str):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be {description}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {description}, got {text!r}")
    return value


def int_at_least(minimum: int, maximum: Optional[int] = None) -> Callable[[str], int]:
    """An int >= `minimum` (and <= `maximum` when given)."""
    description = (f"an integer >= {minimum}" if maximum is None
                   else f"an integer from {minimum} to {maximum}")

    def check(text: str) -> int:
        value = _number(text, int, description)
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be {description}, got {text!r}")
        return value

    return check


def float_between(low: float, high: Optional[float] = None, low_open: bool = False,
                  high_open: bool = False) -> Callable[[str], float]:
    """A finite float in [low, high]; `low_open` / `high_open` exclude the ends; no
    `high`: no upper bound.

    >>> float_between(0, 100, low_open=True, high_open=True)("99.5")
    99.5
    """
    parts = [f"> {low:g}" if low_open else f">= {low:g}"]
    if high is not None:
        parts.append(f"< {high:g}" if high_open else f"<= {high:g}")
    description = "a number " + " and ".join(parts)

    def check(text: str) -> float:
        value = _number(text, float, description)
        too_low = value <= low if low_open else value < low
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            raise argparse.ArgumentTypeError(f"must be {description}, got {text!r}")
        return value

    return check


def non_empty_text(text: str) -> str:
    """Text with something other than whitespace in it."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must not be empty, got {text!r}")
    return text


def _is_remote(path: str) -> bool:
    return "://" in path


def existing_file(path: str) -> str:
    """A readable local file (remote URIs pass unchecked)."""
    if _is_remote(path):
        return path
    if not os.path.exists(path):
        raise argparse.ArgumentTypeError(f"must name an existing file: {path} does not exist")
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"must name a file: {path} is not a file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"must name a readable file: cannot read {path}")
    return path


def existing_path(path: str) -> str:
    """A local file or directory that exists (remote URIs pass unchecked)."""
    if not _is_remote(path) and not os.path.exists(path):
        raise argparse.ArgumentTypeError(f"must name an existing file or directory: {path} "
                                         "does not exist")
    return path


def _nearest_existing(path: str) -> str:
    current = os.path.abspath(path)
    while not os.path.exists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def output_dir(path: str) -> str:
    """A directory to write into: an existing writable directory, or one that can be
    created (its nearest existing parent is a writable directory). Nothing is created
    here, so `--help` and later flag errors leave no trace."""
    if _is_remote(path):
        return path
    if not path.strip():
        raise argparse.ArgumentTypeError("must name a directory, got ''")
    if os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"must name a directory: {path} is an existing file")
    base = _nearest_existing(path)
    if not os.path.isdir(base):
        raise argparse.ArgumentTypeError(f"must name a directory: {base} (in {path}) is a file")
    if not os.access(base, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"must name a writable directory: cannot write in {base}")
    return path


def output_file(path: str) -> str:
    """A file to write: not a directory, in a directory that exists or can be created."""
    if _is_remote(path):
        return path
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"must name a file: {path} is a directory")
    output_dir(os.path.dirname(os.path.abspath(path)))
    return path


def num_grades(text: str) -> int:
    """--num-grades of every command: 2..MAX_NUM_GRADES."""
    return int_at_least(2, MAX_NUM_GRADES)(text)


def host_port(text: str) -> str:
    """HOST:PORT with a port from 1 to 65535 (an IPv6 host in brackets: [::1]:8500)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"must be HOST:PORT with a port from 1 to 65535, "
                                         f"got {text!r}")
    return text


def candidates_file(path: str) -> str:
    """An existing local file, or '-' for stdin."""
    return path if path == "-" else existing_file(path)


PERCENT = float_between(0.0, 100.0)
PROBABILITY = float_between(0.0, 1.0)
NON_NEGATIVE = float_between(0.0)
POSITIVE = float_between(0.0, low_open=True)
AT_LEAST_ONE = int_at_least(1)
