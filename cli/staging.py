"""Before a local run: check the user's input files, then stage them for ExampleGen.

Checking first turns the common mistakes (a missing or empty file, the wrong format, a
labeled file without grades) into one clear message before any component starts.
Staging copies inputs under `<input_base>/labeled/` and `<input_base>/unlabeled/`,
preserving modification times and skipping unchanged files, so ExampleGen's input
fingerprint (names, sizes, mtimes) is stable and an unchanged re-run hits the cache.
"""

import os
import shutil
from typing import Dict, List, Sequence

from relevance.contract import LABELED_DIR, UNLABELED_DIR
from relevance.errors import InputError
from relevance.row_validation import FileCheck, check_input_file



def expand_inputs(paths: Sequence[str], role: str) -> List[str]:
    """Files named by `paths` (a directory stands for the files directly inside it)."""
    files: List[str] = []
    for path in paths:
        if os.path.isdir(path):
            inside = sorted(
                os.path.join(path, name)
                for name in os.listdir(path)
                if os.path.isfile(os.path.join(path, name)) and not name.startswith(".")
            )
            if not inside:
                raise InputError(f"{role} input directory {path} holds no files")
            files.extend(inside)
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise InputError(f"{role} input {path} does not exist")
    return files


def preflight(
    labeled: Sequence[str],
    unlabeled: Sequence[str],
    input_format: str,
    num_grades: int,
    caption_images: bool = False,
) -> List[FileCheck]:
    """Checks every input file; raises InputError on a file that cannot be used.

    With `caption_images`, items that have an image but no text are valid: the
    ImageCaptioner gives them their text (see `records.to_record`, `image_only_items`).
    """
    roles = [(path, True) for path in expand_inputs(labeled, "labeled")]
    roles += [(path, False) for path in expand_inputs(unlabeled, "unlabeled")]
    return [
        check_input_file(
            path,
            input_format,
            num_grades=num_grades,
            require_grades=require_grades,
            image_only_items=caption_images,
        )
        for path, require_grades in roles
    ]


def require_two_labeled_queries(checks: Sequence[FileCheck]) -> None:
    """Raises InputError when the graded rows of the checked files (the unlabeled files
    have none) hold fewer than 2 queries.

    ExampleGen holds whole queries out for eval: with one query, train or eval is empty,
    which would only fail in Transform, a minute into the run.
    """
    queries: Dict[str, str] = {}
    for check in checks:
        queries.update(check.labeled_queries)
    if len(queries) < 2:
        shown = ", ".join(repr(query[:80]) for query in queries.values()) or "none"
        files = ", ".join(check.path for check in checks if check.labeled)
        raise InputError(
            f"{files}: the graded rows hold {len(queries)} distinct query ({shown}); the "
            "eval split holds out whole queries, so the labels need at least 2 queries "
            "(better: dozens) with graded items."
        )


def _same_file(source: str, target: str) -> bool:
    if not os.path.exists(target):
        return False
    a, b = os.stat(source), os.stat(target)
    return a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime)


def _stage(files: List[str], target_dir: str) -> None:
    os.makedirs(target_dir, exist_ok=True)
    wanted = {}
    for index, path in enumerate(files):
        name = os.path.basename(path)
        wanted[f"{index:03d}-{name}"] = path
    for stale in set(os.listdir(target_dir)) - set(wanted):
        os.remove(os.path.join(target_dir, stale))
    for name, source in wanted.items():
        target = os.path.join(target_dir, name)
        if not _same_file(source, target):
            shutil.copy2(source, target)


def stage_inputs(input_base: str, labeled: Sequence[str], unlabeled: Sequence[str]) -> None:
    """Copies inputs to where ExampleGen reads them (see module docstring)."""
    _stage(expand_inputs(labeled, "labeled"), os.path.join(input_base, LABELED_DIR))
    _stage(expand_inputs(unlabeled, "unlabeled"), os.path.join(input_base, UNLABELED_DIR))
