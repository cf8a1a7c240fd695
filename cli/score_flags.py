"""The `relevance score` command line, kept apart from the client so that building the
`relevance` parser (e.g. for `--help`) does not import gRPC and TensorFlow.

Every flag is checked as it is parsed (`cli.flag_checks`): an empty query, a
batch size or timeout <= 0, a missing candidates or TLS CA file are one-line errors
before any connection is made."""

import argparse

from relevance import contract
from cli.flag_checks import (
    AT_LEAST_ONE, POSITIVE, candidates_file, existing_file, host_port, non_empty_text,
)


def add_score_parser(subparsers) -> argparse.ArgumentParser:
    """Adds `score` to a subparsers object; cli.main dispatches to cli.score.score_main."""
    parser = subparsers.add_parser(
        "score", help="score candidates for a query with a served model (JSON lines out)")
    parser.add_argument("--server", required=True, metavar="HOST:PORT", type=host_port)
    parser.add_argument("--model-name", required=True, type=non_empty_text)
    parser.add_argument("--query", required=True, type=non_empty_text)
    parser.add_argument("--candidates", required=True, metavar="FILE.jsonl", type=candidates_file,
                        help="one JSON object per line with the item text fields ('-': stdin)")
    parser.add_argument("--signature", default=contract.SIGNATURE_RAW,
                        choices=[contract.SIGNATURE_RAW, contract.SIGNATURE_EXAMPLES,
                                 contract.SIGNATURE_EMBEDDED],
                        help="serving_examples or serving_embedded send each candidate's "
                             "item_embedding (relevance embed-items) to a student that "
                             "reads them")
    parser.add_argument("--timeout", type=POSITIVE, default=5.0,
                        help="seconds per call (default 5)")
    parser.add_argument("--batch-size", type=AT_LEAST_ONE, default=256,
                        help="candidates per call (default 256)")
    parser.add_argument("--tls-ca", default=None, type=existing_file,
                        help="PEM CA certificate: connect with TLS")
    return parser
