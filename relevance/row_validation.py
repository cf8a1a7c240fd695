"""The one row-validation path: ExampleGen and the input check run every row through
`validate_row`, so the check's forecast of what will be quarantined is what ExampleGen
then quarantines.

On top of the canonical record (`relevance.records.to_record`) the two inputs have a
rule each:

* labeled rows need a grade: an empty, null or NaN grade is `missing_grade`;
* unlabeled rows have their grade ignored, whatever it holds (that split means "no
  human judged this pair"), so a stray grade there is never `bad_grade`.

Example:

>>> from relevance.readers import RawRow
>>> row = RawRow("u.csv", 1, {"query": "lamp", "item_id": "i1", "title": "Desk lamp",
...                           "language": "en", "grade": "n/a?"}, None)
>>> validate_row(row, UNLABELED)["grade"] is None
True
>>> validate_row(row, LABELED)
Traceback (most recent call last):
...
relevance.errors.RecordError: grade 'n/a?' is not an integer; use a whole number from 1 to 5 or leave it empty for an unlabeled row
"""

import dataclasses
import logging
from typing import Dict, List, Optional, Sequence, Tuple

from relevance import contract
from relevance.errors import InputError, RecordError
from relevance.readers import RawRow, read_rows
from relevance.records import has_item_text, to_record

logger = logging.getLogger(__name__)

LABELED = "labeled"
UNLABELED = "unlabeled"
# Column names people use for the grade; used only to suggest a rename.
_GRADE_LOOKALIKES = ("label", "rating", "relevance", "score", "judgment", "judgement")
_ERROR_LINES_IN_MESSAGE = 5


def validate_row(
    row: RawRow,
    role: Optional[str],
    num_grades: int = contract.DEFAULT_NUM_GRADES,
    numeric_features: Sequence[str] = (),
    image_only_items: bool = False,
    detect_missing_language: bool = True,
) -> dict:
    """The canonical record of one raw row of the `role` input (LABELED, UNLABELED, or
    None: grades optional, as `relevance evaluate` reads them).

    Raises:
        RecordError: the row is to be quarantined; `.reason` is the code ExampleGen
            records ("unparseable_row" for a row the reader could not parse).
    """
    if row.error is not None:
        raise RecordError(row.reason or "unparseable_row", row.error)
    fields = row.fields
    if role == UNLABELED:
        fields = {name: value for name, value in fields.items() if name != contract.GRADE}
    record = to_record(
        fields,
        num_grades=num_grades,
        numeric_features=numeric_features,
        detect_missing_language=detect_missing_language,
        image_only_items=image_only_items,
    )
    if role == LABELED and record[contract.GRADE] is None:
        raise RecordError(
            "missing_grade",
            f"{row.source} row {row.row_number}: a labeled row has no grade; put "
            "unlabeled pairs in the unlabeled input instead",
            contract.GRADE,
        )
    return record


@dataclasses.dataclass
class FileCheck:
    """Summary of validating one input file with `check_input_file`.

    Attributes:
        path: the file checked.
        rows: data rows read.
        valid: rows that became records (rows - valid will be quarantined).
        labeled: valid rows with a grade.
        errors: up to `max_errors_listed` of (row_number, reason code, message).
        reason_counts: number of invalid rows per reason code (all of them).
        image_only: valid rows whose item has an image and no text (accepted only with
            `image_only_items`; their text will be the image caption).
        labeled_queries: query_id -> query of the valid rows with a grade (ExampleGen
            holds whole queries out, so the labels need two of them at least).

    Example:
        >>> check = FileCheck(path="a.csv", rows=3, valid=2, labeled=2,
        ...                   errors=[(3, "missing_query", "the 'query' field is empty")])
        >>> check.rows - check.valid
        1
    """

    path: str
    rows: int
    valid: int
    labeled: int
    errors: List[Tuple[int, str, str]]
    reason_counts: Dict[str, int] = dataclasses.field(default_factory=dict)
    image_only: int = 0
    labeled_queries: Dict[str, str] = dataclasses.field(default_factory=dict)


def check_input_file(
    path: str,
    fmt: str = "auto",
    num_grades: int = contract.DEFAULT_NUM_GRADES,
    require_grades: Optional[bool] = None,
    max_errors_listed: int = 20,
    image_only_items: bool = False,
) -> FileCheck:
    """Read and validate a whole input file; return a `FileCheck` of its rows.

    `require_grades` True checks the file as labeled input, False as unlabeled input
    (see the module docstring), None with grades optional. Invalid rows are counted and
    listed (the pipeline quarantines them). Language detection is skipped here because
    it does not affect validity. `image_only_items` is passed to `to_record` (True when
    the run captions images).

    Raises:
        InputError: the file is missing, empty or in the wrong format; no row is valid;
            or `require_grades` is True and no row has a grade.

    Example:
        >>> check = check_input_file("labeled.jsonl", require_grades=True)  # doctest: +SKIP
        >>> print(check.valid, "of", check.rows, "rows are usable")  # doctest: +SKIP
    """
    role = {True: LABELED, False: UNLABELED}.get(require_grades)
    rows = valid = labeled = image_only = 0
    errors: List[Tuple[int, str, str]] = []
    reason_counts: Dict[str, int] = {}
    labeled_queries: Dict[str, str] = {}
    first_fields: Optional[dict] = None
    for raw in read_rows(path, fmt):
        rows += 1
        if first_fields is None and raw.fields is not None:
            first_fields = raw.fields
        try:
            record = validate_row(raw, role, num_grades, detect_missing_language=False,
                                  image_only_items=image_only_items)
        except RecordError as err:
            reason_counts[err.reason] = reason_counts.get(err.reason, 0) + 1
            if len(errors) < max_errors_listed:
                errors.append((raw.row_number, err.reason, str(err)))
            continue
        valid += 1
        if record[contract.GRADE] is not None:
            labeled += 1
            labeled_queries.setdefault(record[contract.QUERY_ID], record[contract.QUERY])
        image_only += not has_item_text(record)

    ungraded = reason_counts.get("missing_grade", 0)
    if require_grades and labeled == 0 and ungraded:
        raise InputError(
            f"{path}: this labeled input has no grades: none of its {rows} rows has "
            f"a usable {contract.GRADE!r} value. Add a {contract.GRADE!r} column with integers "
            f"1..{num_grades} ({num_grades} = highly relevant, 1 = highly irrelevant)"
            f"{_grade_column_hint(first_fields)}, or pass the file as unlabeled input."
        )
    if valid == 0:
        raise InputError(
            f"{path}: none of the {rows} rows is valid, so the file cannot be used. "
            f"First problems:\n{_format_errors(errors)}\n"
            "Fix these rows (see the data contract in README.md) and run again."
        )
    if rows > valid:
        logger.warning(
            "%s: %d of %d rows are invalid and will be quarantined (%s)",
            path,
            rows - valid,
            rows,
            ", ".join(f"{reason}: {count}" for reason, count in sorted(reason_counts.items())),
        )
    logger.info("%s: %d rows, %d valid, %d labeled", path, rows, valid, labeled)
    return FileCheck(path, rows, valid, labeled, errors, reason_counts, image_only,
                     labeled_queries)


def _format_errors(errors: List[Tuple[int, str, str]]) -> str:
    return "\n".join(
        f"  row {row}: {message}" for row, _, message in errors[:_ERROR_LINES_IN_MESSAGE]
    )


def _grade_column_hint(first_fields: Optional[dict]) -> str:
    for name in first_fields or {}:
        if isinstance(name, str) and name.strip().lower() in _GRADE_LOOKALIKES:
            return f" (the file has a {name!r} column: rename it to {contract.GRADE!r})"
    return ""
