"""Every command in README.md's code blocks runs as written, or at least parses.

Commands too expensive for the suite (`make demo`, a whole run) are checked for what can
go stale: the `relevance` subcommand and every flag must be accepted by the real parser
(no abbreviations), a make target must exist in the Makefile, and a path inside this
repository must exist. Cheap commands (`relevance --help`, `relevance presets list`)
are run for real. A command of a kind this file does not know fails, so a new kind
gets a check. The README's CLI reference must equal the one generated from the parser.
"""

import argparse
import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
from typing import List, Tuple

import pytest

from cli.main import build_parser
from cli.reference import readme_block, reference_table

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")
BLOCK_LANGUAGES = {"bash", "text"}  # bash blocks are commands; text blocks are not
# `relevance` argument lists run for real: fast, no TensorFlow, nothing written.
CHEAP = (["--help"], ["presets", "list"])


def fenced_blocks(text: str) -> List[Tuple[str, str]]:
    """(language, body) of every ``` block."""
    return re.findall(r"^```(\S*)\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def block_commands(body: str) -> List[str]:
    """The commands of a shell block: continuations joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", body)
    return [" ".join(shlex.split(line, comments=True)) for line in joined.splitlines()
            if shlex.split(line, comments=True)]


def readme_commands(text: str) -> List[str]:
    return [command for language, body in fenced_blocks(text) if language == "bash"
            for command in block_commands(body)]


def _strict(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The parser and its subparsers without prefix matching: `--num-lab` is no flag."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _strict(sub)
    return parser


def _repo_paths(argv: List[str]) -> List[str]:
    """Arguments naming a path inside this repository (first part a top-level entry)."""
    top = {name for name in os.listdir(REPO) if not name.startswith(".")}
    values = [arg.split("=", 1)[-1] for arg in argv]
    return [value for value in values
            if value.split("/", 1)[0] in top and (value in top or "/" in value)]


# The CLI checks at parse time that input files exist; README examples name the user's
# files (eval.jsonl, demo_run/...), so the syntax check supplies them in a scratch dir.
_MISSING_INPUT = re.compile(r"must name an existing (?:file|file or directory): (.+?) does not exist")


def _parse_with_user_files(argv: List[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
        for _ in range(len(argv) + 1):
            errors = io.StringIO()
            try:
                with contextlib.redirect_stderr(errors):
                    _strict(build_parser()).parse_args(argv)
                return
            except SystemExit as exit_:
                if exit_.code == 0:  # --help
                    return
                missing = _MISSING_INPUT.search(errors.getvalue())
                if missing is None or os.path.exists(missing.group(1)):
                    raise AssertionError(f"relevance {' '.join(argv)}: rejected by the parser: "
                                         f"{errors.getvalue().strip()}") from None
                path = missing.group(1)
                if path.endswith("/"):  # a model directory
                    os.makedirs(path)
                    continue
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                open(path, "w").close()


def check_relevance(argv: List[str]) -> None:
    _parse_with_user_files(argv)
    if argv in CHEAP:
        result = subprocess.run([sys.executable, "-m", "cli.main", *argv], cwd=REPO,
                                env={**os.environ, "PYTHONPATH": REPO}, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.strip(), argv


def check_make(argv: List[str], makefile: str = os.path.join(REPO, "Makefile")) -> None:
    with open(makefile) as f:
        targets = set(re.findall(r"^([\w.-]+):", f.read(), flags=re.MULTILINE))
    for target in argv[1:]:
        assert target in targets, f"make {target}: no such target in the Makefile"


def check_command(command: str) -> None:
    """Raises AssertionError when `command` would not run as written."""
    argv = shlex.split(command)
    program, args = argv[0], argv[1:]
    for path in _repo_paths(args):
        assert os.path.exists(os.path.join(REPO, path)), f"{command}: {path} does not exist"
    if program in ("relevance", ".venv/bin/relevance"):
        check_relevance(args)
    elif program == "make":
        check_make(argv)
    elif program == "python3" and args == ["-m", "venv", ".venv"]:
        pass
    elif program == ".venv/bin/pip" and args[:1] == ["install"]:
        files = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg in ("-r", "-c")]
        assert files, f"{command}: installs neither requirements nor constraints"
        assert args[-2:] == ["-e", "."] or "-r" in args, command
    elif program == "docker" and args[:1] == ["build"]:
        assert args[-1] == "." and os.path.exists(os.path.join(REPO, "Dockerfile")), command
    else:
        raise AssertionError(f"README command of an unknown kind (add a check): {command}")


with open(README, encoding="utf-8") as _f:
    README_TEXT = _f.read()
COMMANDS = readme_commands(README_TEXT)


def test_every_code_block_says_whether_it_holds_commands():
    languages = [language for language, _ in fenced_blocks(README_TEXT)]
    assert languages and set(languages) <= BLOCK_LANGUAGES, languages


def test_the_readme_shows_the_quick_start_and_the_cheap_commands():
    assert {"make demo", "make test"} <= set(COMMANDS)
    for argv in CHEAP:
        assert " ".join([".venv/bin/relevance", *argv]) in COMMANDS, argv


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs_as_written(command):
    check_command(command)


@pytest.mark.parametrize("command, problem", [
    (".venv/bin/relevance demo --workdir w --num-lab 3", "rejected"),  # no abbreviations
    (".venv/bin/relevance run --labeled a --unlabeled b --workdir w --no-such-flag",
     "rejected"),
    (".venv/bin/relevance launch --workdir w", "rejected"),
    ("make no-such-target", "no such target"),
    (".venv/bin/pip install -r requirements/nothing.txt", "does not exist"),
    ("curl https://example.com", "unknown kind"),
])
def test_a_stale_command_fails_the_check(command, problem):
    with pytest.raises(AssertionError, match=problem):
        check_command(command)


def test_commands_span_continuation_lines_and_drop_comments():
    body = "make demo     # installs\n.venv/bin/relevance run --labeled a \\\n    --unlabeled b\n"
    assert block_commands(body) == ["make demo", ".venv/bin/relevance run --labeled a --unlabeled b"]


def test_the_cli_reference_is_the_parsers():
    assert readme_block(README_TEXT) == reference_table(), (
        "README's CLI reference is stale: run `make cli-reference`")
