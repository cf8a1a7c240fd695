"""`relevance evaluate` from its parsed flags (`cli.evaluate_flags`): runs
`evaluation.evaluate.evaluate` and prints one line per model scored (its headline
metrics) and where the report went.

Example:
    >>> import argparse
    >>> from cli.evaluate_flags import add_evaluate_parser
    >>> parser = argparse.ArgumentParser(prog="relevance")
    >>> _ = add_evaluate_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["evaluate", "--model", "gs://bucket/serving/student",
    ...                           "--data", "d.jsonl", "--output", "o"])
    >>> evaluate_main(args)  # doctest: +SKIP
    0
"""

import argparse
import os
import sys
from typing import Dict, Iterable, List, Optional, TextIO

from evaluation import metrics
from evaluation.evaluate import evaluate
from relevance.errors import InputError


def evaluate_main(args: argparse.Namespace, out: Optional[TextIO] = None) -> int:
    """Run `relevance evaluate` from parsed arguments; returns 0.

    Prints one line per model scored (its headline metrics) and where the report went to
    `out` (default: stdout).

    Raises:
        InputError: a bad model directory, data file or option (the CLI prints it).
    """
    result = evaluate(
        model_dirs=args.model,
        model_names=args.model_name,
        data_path=args.data,
        fmt=args.format,
        output_dir=args.output,
        num_grades=args.num_grades,
        adapter_options=parse_adapter_options(args.adapter_option),
        baseline_train=args.baseline_train,
        batch_size=args.batch_size,
    )
    out = out or sys.stdout
    for line in model_lines(result["models"]):
        print(line, file=out)
    print(f"report: {os.path.join(args.output, 'report.md')} · metrics: "
          f"{os.path.join(args.output, 'metrics.json')}", file=out)
    return 0


def model_lines(models: Dict[str, dict]) -> List[str]:
    """One line per model: pairs scored and the headline metrics (as in a run's summary).

    >>> model_lines({"student": {"overall": {"n": 9, "accuracy": 0.5, "qwk": None,
    ...                                      "ndcg@10": 0.875}}})
    ['student        9 pairs · accuracy 0.500 · qwk - · ndcg@10 0.875']
    """
    return [f"{name:<14} {model['overall'].get('n', 0):,} pairs · " + " · ".join(
        f"{key} {_short(model['overall'].get(key))}" for key in metrics.HEADLINE_METRICS)
        for name, model in models.items()]


def parse_adapter_options(pairs: Iterable[str]) -> dict:
    """["split=test", "locales=us,es"] -> {"split": "test", "locales": "us,es"}."""
    options = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--adapter-option {pair!r}: expected KEY=VALUE, e.g. split=test.")
        options[key.strip()] = value.strip()
    return options


def _short(value, digits: int = 3) -> str:
    return "-" if value is None else (f"{value:.{digits}f}" if isinstance(value, float)
                                      else str(value))

