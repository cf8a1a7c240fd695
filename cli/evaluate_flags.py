"""The `relevance evaluate` command line, kept apart from `evaluation.evaluate` so that
building the `relevance` parser (e.g. for `--help`) does not import TensorFlow."""

import argparse
import os
import tempfile

from relevance.adapters import ADAPTERS
from cli.flag_checks import AT_LEAST_ONE, existing_path, num_grades, output_dir
from relevance.readers import FORMATS
from evaluation.settings import CANONICAL_FORMATS, DEFAULT_BATCH_SIZE


def add_evaluate_parser(subparsers) -> argparse.ArgumentParser:
    """Add the `evaluate` command to an argparse sub-parser collection; return its parser."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score labeled data with exported models; write metrics.json and report.md",
        description="Score labeled data with exported models (and an optional BM25 "
                    "baseline); write metrics.json and report.md with plots.",
    )
    parser.add_argument("--model", action="append", default=[], metavar="DIR", type=existing_path,
                        help="SavedModel directory or TF Serving base dir (repeatable)")
    parser.add_argument("--model-name", action="append", default=[], metavar="NAME",
                        help="name of each --model in the report, in order "
                             "(default: the directory's name)")
    parser.add_argument("--data", required=True, help="labeled evaluation data (file or directory)")
    parser.add_argument("--format", default="auto",
                        choices=list(CANONICAL_FORMATS) + sorted(ADAPTERS),
                        help="canonical format or public data set adapter (default: auto)")
    parser.add_argument("--output", required=True, type=output_dir,
                        help="directory for metrics.json and report.md")
    parser.add_argument("--num-grades", type=num_grades, default=None,
                        help="G for canonical formats (default 5); adapters set their own G")
    parser.add_argument("--adapter-option", action="append", default=[], metavar="KEY=VALUE",
                        help="option for the data set adapter, e.g. split=test (repeatable)")
    parser.add_argument("--baseline-train", default=None, metavar="PATH", type=existing_path,
                        help="labeled training data (same format as --data) for a BM25 baseline")
    parser.add_argument("--batch-size", type=AT_LEAST_ONE, default=DEFAULT_BATCH_SIZE,
                        help=f"pairs per model call (default {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--verbose", action="store_true",
                        help="also show the frameworks' logs (always in OUTPUT/logs/evaluate.log)")
    return parser


def evaluate_log_path(output: str) -> str:
    """OUTPUT/logs/evaluate.log; a local file in the temp directory for a remote OUTPUT."""
    if "://" in output:
        return os.path.join(tempfile.gettempdir(), "relevance-evaluate", "evaluate.log")
    return os.path.join(os.path.abspath(output), "logs", "evaluate.log")


def run_evaluate(args: argparse.Namespace) -> int:
    """`relevance evaluate` with a readable terminal: one line per model scored and where
    the report went; TensorFlow's and the other frameworks' logs go to the log file."""
    from cli.run_log import routed_logs

    log_path = evaluate_log_path(args.output)
    with routed_logs(log_path, args.verbose) as terminal:
        from cli.evaluate import evaluate_main  # imports TF: inside the routing

        status = evaluate_main(args, out=terminal)
        print(f"full log: {log_path}", file=terminal)
        return status
