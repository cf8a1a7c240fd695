"""The `relevance embed-items` command line, kept apart from the command so that building
the `relevance` parser (e.g. for `--help`) imports no TensorFlow.

    relevance embed-items --catalog items.jsonl --space SPACE_DIR --output embeddings.jsonl
"""

import argparse

from cli.flag_checks import AT_LEAST_ONE, existing_file, output_file
from cli.presets_cli import add_preset_cache_flag


def add_embed_items_parser(subparsers) -> argparse.ArgumentParser:
    """Adds `embed-items`; cli.main dispatches to cli.embed_items.embed_items_main."""
    parser = subparsers.add_parser(
        "embed-items", help="embed catalog items into an ItemEmbedder's embedding space "
                            "(JSON lines out)")
    parser.add_argument("--catalog", required=True, type=existing_file, metavar="FILE",
                        help="items: JSONL or CSV rows with item_id and item text fields "
                             "(no query needed)")
    parser.add_argument("--format", default="auto", choices=["auto", "csv", "jsonl"],
                        help="catalog format (default: from the file extension)")
    parser.add_argument("--space", required=True, metavar="DIR",
                        help="an embedding space: the ItemEmbedder's embedding_space output "
                             "directory (embedding_space.npz and .json)")
    parser.add_argument("--output", required=True, type=output_file, metavar="FILE.jsonl",
                        help='one line per item: {"item_id": ..., "item_embedding": [...]}')
    parser.add_argument("--quarantine", default=None, type=output_file, metavar="FILE.jsonl",
                        help="rows that could not be embedded, with their reason (default: "
                             "OUTPUT with .quarantine.jsonl)")
    parser.add_argument("--preset", default=None, metavar="NAME_OR_DIR",
                        help="the encoder (default: the one the space was fitted with)")
    parser.add_argument("--batch-size", type=AT_LEAST_ONE, default=32,
                        help="texts per model call (default 32)")
    add_preset_cache_flag(parser)
    return parser
