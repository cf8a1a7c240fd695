"""CLI flags of the optional image captioner, and how they become `PipelineConfig` fields.

Example:

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_caption_flags(parser)
>>> args = parser.parse_args(["--caption-images", "--caption-preset", "/presets/pg"])
>>> overrides = caption_overrides(args)
>>> overrides["caption_images"], overrides["caption_preset"], overrides["caption_max_length"]
(True, '/presets/pg', 32)
"""

import argparse
import logging
import os
from typing import Dict

from cli.flag_checks import AT_LEAST_ONE
from pipeline.config import PipelineConfig
from relevance.errors import InputError

logger = logging.getLogger(__name__)

REAL_PRESET_EXAMPLE = "pali_gemma_3b_mix_224"
DEMO_PRESET_DIR = "caption_preset_tiny_random"


def add_caption_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "image captions (optional)",
        "fill image_caption from the item image (`image` path/URI or `image_bytes`) with a "
        "keras-hub PaliGemma model, for items that have an image and no caption")
    group.add_argument("--caption-images", action="store_true",
                       help="run the ImageCaptioner after ExampleGen (off by default)")
    group.add_argument("--caption-preset", default=None, metavar="NAME_OR_DIR",
                       help=f"keras-hub PaliGemma preset name (e.g. {REAL_PRESET_EXAMPLE}, "
                            "needs Kaggle access) or local preset directory; `demo` without "
                            "it uses a tiny RANDOM preset whose captions are gibberish")
    group.add_argument("--caption-prompt", default=PipelineConfig.caption_prompt,
                       help="prompt given with each image; a newline is added at the end "
                            "if missing, as PaliGemma expects (default: 'caption en')")
    group.add_argument("--caption-max-length", type=AT_LEAST_ONE,
                       default=PipelineConfig.caption_max_length,
                       help="generated tokens per caption at most (default 32)")
    group.add_argument("--caption-batch-size", type=AT_LEAST_ONE,
                       default=PipelineConfig.caption_batch_size,
                       help="images per model call (default 8)")
    group.add_argument("--caption-cache-dir", default=None, metavar="DIR",
                       help="caption cache by image content hash, kept across runs "
                            "(default: WORKDIR/caption_cache, or under the pipeline root)")
    group.add_argument("--caption-image-root", default=None, metavar="DIR",
                       help="directory relative image paths are relative to (default: the "
                            "current directory; the demo's data directory for `demo`)")


def caption_prompt(text: str) -> str:
    r"""A typed `\n` becomes a newline, and the prompt ends with one, as PaliGemma expects.

    >>> caption_prompt("caption es"), caption_prompt("caption en\\n")
    ('caption es\n', 'caption en\n')
    """
    text = text.replace("\\n", "\n")
    return text if text.endswith("\n") else text + "\n"


def caption_overrides(args, workdir: str = "") -> Dict:
    """PipelineConfig fields from the flags; a missing preset is an InputError."""
    if not args.caption_images:
        return {"caption_images": False}
    if not args.caption_preset:
        raise InputError(
            "--caption-images needs --caption-preset: a keras-hub PaliGemma preset name such "
            f"as {REAL_PRESET_EXAMPLE} (downloaded from Kaggle, which needs credentials) or a "
            "local preset directory (see README, 'Image captions')")
    cache_dir = args.caption_cache_dir or (os.path.join(workdir, "caption_cache") if workdir else "")
    return {
        "caption_images": True,
        "caption_preset": args.caption_preset,
        "caption_prompt": caption_prompt(args.caption_prompt),
        "caption_max_length": args.caption_max_length,
        "caption_batch_size": args.caption_batch_size,
        "caption_cache_dir": os.path.abspath(cache_dir) if cache_dir and "://" not in cache_dir
        else cache_dir,
        # Local runs resolve relative paths from here; a compiled pipeline runs elsewhere.
        "caption_image_root": args.caption_image_root or (os.getcwd() if workdir else ""),
    }


def prepare_demo_captions(args, workdir: str, data_dir: str) -> None:
    """`demo --caption-images`: images are relative to the demo data; without a preset,
    write (once) and use a tiny random PaliGemma, loudly labelled as such."""
    if not args.caption_images:
        return
    if args.caption_image_root is None:
        args.caption_image_root = data_dir
    if args.caption_preset:
        return
    from components.image_captioner.tiny_preset import write_tiny_paligemma_preset

    args.caption_preset = write_tiny_paligemma_preset(os.path.join(workdir, DEMO_PRESET_DIR))
    print(f"NOTE: --caption-images without --caption-preset: captioning with a tiny RANDOMLY "
          f"initialised PaliGemma ({args.caption_preset}); its captions are gibberish and only "
          f"show the path working. Pass --caption-preset {REAL_PRESET_EXAMPLE} (or a local "
          "preset directory) for real captions.", flush=True)
