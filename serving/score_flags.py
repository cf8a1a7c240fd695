"""The `relevance score` command line, kept apart from the client so that building the
`relevance` parser (e.g. for `--help`) does not import gRPC and TensorFlow."""

import argparse

from relevance import contract


def add_score_parser(subparsers) -> argparse.ArgumentParser:
    """Adds `score` to a subparsers object; relevance.cli dispatches to score_main."""
    parser = subparsers.add_parser(
        "score", help="score candidates for a query with a served model (JSON lines out)")
    parser.add_argument("--server", required=True, metavar="HOST:PORT")
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--query", required=True)
    parser.add_argument("--candidates", required=True, metavar="FILE.jsonl",
                        help="one JSON object per line with the item text fields ('-': stdin)")
    parser.add_argument("--signature", default=contract.SIGNATURE_RAW,
                        choices=[contract.SIGNATURE_RAW, contract.SIGNATURE_EXAMPLES])
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per call (default 5)")
    parser.add_argument("--batch-size", type=int, default=256, help="candidates per call (default 256)")
    parser.add_argument("--tls-ca", default=None, help="PEM CA certificate: connect with TLS")
    return parser
