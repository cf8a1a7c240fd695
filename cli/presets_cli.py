"""`relevance presets list` and `relevance presets build NAME [--output DIR]`.

    relevance presets list
    relevance presets build multilingual-e5-small                  # into the preset cache
    relevance presets build multilingual-e5-small --output DIR     # into DIR

The flags module imports no TensorFlow (`relevance --help` stays fast); building does.
"""

import argparse
import os

from relevance.errors import InputError
from trainer.teacher.presets.cache import CACHE_ENV, PresetCache, default_cache_dir, verify
from trainer.teacher.presets.registry import build_preset, list_presets


def add_preset_cache_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset-cache", default=None, metavar="DIR",
                        help=f"where built teacher presets are kept (default: ${CACHE_ENV}, "
                             f"else ~/.cache/search-relevance/presets)")


def add_presets_parser(commands) -> None:
    presets = commands.add_parser("presets", help="list and build the teacher presets this "
                                                  "project makes (e.g. multilingual-e5-small)")
    actions = presets.add_subparsers(dest="presets_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the presets, and whether each is built")
    add_preset_cache_flag(listing)
    build = actions.add_parser("build", help="build a preset (once; a corrupt one is rebuilt)")
    build.add_argument("name", help="preset name (see `relevance presets list`)")
    build.add_argument("--output", default=None, metavar="DIR",
                       help="write the preset to DIR instead of the preset cache")
    build.add_argument("--rebuild", action="store_true", help="build again even if complete")
    add_preset_cache_flag(build)


def _print(message: str) -> None:
    print(message, flush=True)


def prepare_teacher_preset(preset, cache_dir=None, progress=None):
    """Builds the run's teacher preset before the pipeline starts, when it is one this
    project builds and the cache lacks it: the user sees the build's progress up front,
    and a failure stops the run before any component. Returns the preset directory, or
    None when there is nothing to build (from-scratch, a directory, a keras-hub name)."""
    from trainer.teacher.presets.registry import DEFAULT_TEACHER_PRESET, get_spec

    name = preset or DEFAULT_TEACHER_PRESET
    spec = get_spec(name)
    if spec is None or not spec.buildable:
        return None
    try:
        return build_preset(name, cache_dir=cache_dir, progress=progress or _print)
    except (ValueError, FileNotFoundError) as error:
        raise InputError(f"teacher preset {name}: {error}") from error


def presets_main(args) -> int:
    cache = PresetCache(args.preset_cache or default_cache_dir())
    if args.presets_command == "list":
        print(f"preset cache: {cache.cache_dir}")
        for spec in list_presets():
            if spec.buildable:
                problem = verify(cache.path(spec.name))
                state = "built" if problem is None else ("not built" if problem == "missing"
                                                         else f"broken ({problem})")
            else:
                state = "built per run"
            print(f"  {spec.name:<24} {state:<14} {spec.description}")
            print(f"  {'':<24} {'':<14} source: {spec.source}; license: {spec.license}")
        return 0
    if args.output and os.path.isfile(args.output):
        raise InputError(f"--output {args.output} is a file; give a directory to create")
    try:
        path = build_preset(args.name, output=args.output, cache_dir=cache.cache_dir,
                            rebuild=args.rebuild, progress=_print)
    except (ValueError, FileNotFoundError) as error:
        raise InputError(str(error)) from error
    print(path)
    return 0
