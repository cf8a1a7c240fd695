"""CLI flags of the optional ItemEmbedder, and how they become `PipelineConfig` fields.

Example:

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_item_embedding_flags(parser)
>>> item_embedding_overrides(parser.parse_args(["--no-item-embeddings"]))
{'item_embeddings': False}
>>> overrides = item_embedding_overrides(parser.parse_args(["--item-embedding-dims", "64"]))
>>> overrides["item_embedding_preset"], overrides["item_embedding_dims"]
('multilingual-e5-small', 64)
"""

import argparse
import os
from typing import Dict

from cli.flag_checks import AT_LEAST_ONE
from pipeline.config import PipelineConfig


def add_item_embedding_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "item embeddings (optional)",
        "write the pretrained bi-encoder's query and item embeddings, PCA-reduced, onto "
        "every row (query_embedding, item_embedding) before any model reads them")
    group.add_argument("--item-embeddings", action=argparse.BooleanOptionalAction,
                       default=None,
                       help="run the ItemEmbedder after ExampleGen and the captioner "
                            "(default: on with a pretrained teacher, off with a "
                            "from-scratch one)")
    group.add_argument("--item-embedding-preset", default=PipelineConfig.item_embedding_preset,
                       metavar="NAME_OR_DIR",
                       help="the encoder: a preset this project builds, a keras-hub preset "
                            "directory or name (default %(default)s)")
    group.add_argument("--item-embedding-dims", type=AT_LEAST_ONE,
                       default=PipelineConfig.item_embedding_dims,
                       help="dimensions the embedding PCA keeps (default %(default)s)")
    group.add_argument("--item-embedding-cache-dir", default=None, metavar="DIR",
                       help="encoder vector cache by text content hash, kept across runs "
                            "(default: WORKDIR/embedding_cache, or under the pipeline root)")


def item_embeddings_enabled(args) -> bool:
    """`--item-embeddings`, or by default whether the teacher is pretrained (a run with
    a from-scratch teacher is one that avoids the pretrained encoder's cost).

    >>> import argparse
    >>> item_embeddings_enabled(argparse.Namespace(item_embeddings=None,
    ...                                            teacher_preset="from-scratch"))
    False
    """
    if args.item_embeddings is not None:
        return bool(args.item_embeddings)
    from trainer.teacher.presets.registry import DEFAULT_TEACHER_PRESET, is_from_scratch

    return not is_from_scratch(getattr(args, "teacher_preset", None) or DEFAULT_TEACHER_PRESET)


def item_embedding_overrides(args, workdir: str = "") -> Dict:
    """PipelineConfig fields from the flags."""
    if not item_embeddings_enabled(args):
        return {"item_embeddings": False}
    cache_dir = args.item_embedding_cache_dir or (
        os.path.join(workdir, "embedding_cache") if workdir else "")
    return {
        "item_embeddings": True,
        "item_embedding_preset": args.item_embedding_preset,
        "item_embedding_dims": args.item_embedding_dims,
        "item_embedding_cache_dir": os.path.abspath(cache_dir)
        if cache_dir and "://" not in cache_dir else cache_dir,
    }
