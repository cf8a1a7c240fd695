"""Presets built once into a cache directory, checked before every use.

A preset is built into a temporary sibling directory and renamed into place only once
complete, with a manifest (`relevance_preset.json`) recording every file's size and
SHA-256. A directory without a manifest, or whose files do not match it (an
interrupted copy, a truncated weights file, an edited config), is moved aside and
rebuilt: a half-written preset is never used.

The cache directory is, in order: the `cache_dir` argument (the CLI's
`--preset-cache DIR`), `$RELEVANCE_PRESET_CACHE`, `$XDG_CACHE_HOME/search-relevance/presets`,
`~/.cache/search-relevance/presets`.

Example:

>>> import os, tempfile
>>> cache = PresetCache(tempfile.mkdtemp())
>>> def build(directory):
...     with open(os.path.join(directory, "config.json"), "w") as out:
...         _ = out.write("{}")
>>> path = cache.get("toy", build)
>>> cache.is_complete(path), os.path.basename(path)
(True, 'toy')
"""

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from typing import Callable, Dict, Optional

CACHE_ENV = "RELEVANCE_PRESET_CACHE"
MANIFEST = "relevance_preset.json"
MANIFEST_VERSION = 1

log = logging.getLogger(__name__)


def default_cache_dir() -> str:
    """$RELEVANCE_PRESET_CACHE, else the user's cache directory."""
    if os.environ.get(CACHE_ENV):
        return os.environ[CACHE_ENV]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "search-relevance", "presets")


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(directory: str) -> Dict[str, str]:
    """{relative path: absolute path} of every file below `directory` but the manifest."""
    found = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, directory)
            if relative != MANIFEST:
                found[relative] = path
    return found


def write_manifest(directory: str, info: Optional[Dict] = None) -> Dict:
    """Records every file's size and SHA-256 (and `info`) in the directory's manifest."""
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "info": info or {},
        "files": {rel: {"bytes": os.path.getsize(path), "sha256": _sha256(path)}
                  for rel, path in sorted(_files(directory).items())},
    }
    with open(os.path.join(directory, MANIFEST), "w") as out:
        json.dump(manifest, out, indent=2, sort_keys=True)
    return manifest


def verify(directory: str) -> Optional[str]:
    """None when `directory` is a complete preset, else why not."""
    path = os.path.join(directory, MANIFEST)
    if not os.path.isdir(directory):
        return "missing"
    try:
        with open(path) as f:
            manifest = json.load(f)
        expected = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"no readable {MANIFEST} (an interrupted build?)"
    present = _files(directory)
    for relative, record in expected.items():
        if relative not in present:
            return f"{relative} is missing"
        if os.path.getsize(present[relative]) != record["bytes"]:
            return f"{relative} has {os.path.getsize(present[relative])} bytes, " \
                   f"expected {record['bytes']}"
        if _sha256(present[relative]) != record["sha256"]:
            return f"{relative} does not match its checksum"
    extra = sorted(set(present) - set(expected))
    if extra:
        return f"unexpected files {extra[:3]}"
    return None


class PresetCache:
    """Builds named presets once, atomically, and hands out verified directories.

    Args:
        cache_dir: where presets live (None: `default_cache_dir()`).
        progress: called with one-line progress messages (default: the logger).
    """

    def __init__(self, cache_dir: Optional[str] = None,
                 progress: Optional[Callable[[str], None]] = None):
        self.cache_dir = os.path.abspath(cache_dir or default_cache_dir())
        self.progress = progress or log.info

    def path(self, name: str) -> str:
        return os.path.join(self.cache_dir, name)

    def is_complete(self, directory: str) -> bool:
        return verify(directory) is None

    def get(self, name: str, build: Callable[[str], None], info: Optional[Dict] = None,
            rebuild: bool = False) -> str:
        """The verified preset `name`, built with `build(directory)` when missing,
        incomplete or corrupt (or when `rebuild`)."""
        target = self.path(name)
        problem = "rebuild requested" if rebuild else verify(target)
        if problem is None:
            return target
        if os.path.exists(target):
            self.progress(f"preset cache {target}: {problem}; rebuilding it")
            aside = f"{target}.broken-{os.getpid()}-{int(time.time())}"
            os.rename(target, aside)
            shutil.rmtree(aside, ignore_errors=True)
        os.makedirs(self.cache_dir, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{name}.building-", dir=self.cache_dir)
        started = time.time()
        self.progress(f"building preset {name} into {target} (once; later runs reuse it)")
        try:
            build(staging)
            write_manifest(staging, {**(info or {}), "name": name,
                                     "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                               time.gmtime())})
            try:
                os.rename(staging, target)
            except OSError:
                # Another process finished the same preset first; use theirs if sound.
                if verify(target) is not None:
                    raise
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.progress(f"preset {name} ready in {time.time() - started:.0f} s: {target}")
        return target
