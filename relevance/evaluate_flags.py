"""The `relevance evaluate` command line, kept apart from `relevance.evaluate` so that
building the `relevance` parser (e.g. for `--help`) does not import TensorFlow."""

import argparse

from relevance.adapters import ADAPTERS
from relevance.flag_checks import AT_LEAST_ONE, existing_path, num_grades, output_dir
from relevance.readers import FORMATS

CANONICAL_FORMATS = ("auto",) + tuple(FORMATS)
DEFAULT_BATCH_SIZE = 512


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
    return parser
