"""Plausibility checks of CSV records, against quoting mistakes that the csv module
reads without a word.

A quote opened and never closed makes the csv module (in its default, lenient mode)
read every following line into one field up to the end of the file: 30 rows become one
title. Three checks catch it and its milder forms:

* a quoted field still open at the end of the file stops the read (`InputError`) with
  the line the field starts on: where the rows stop being rows is unknown;
* a row spanning more than `MAX_RECORD_LINES` physical lines, or
* a short field (`SHORT_FIELDS`: query, ids, title, grade, numbers...) longer than
  `MAX_SHORT_FIELD_CHARS`, is quarantined as `implausible_field`, naming its lines.

Example:

>>> ends_inside_quotes('q1,i1,"Desk lamp, oak"\\n'), ends_inside_quotes('q1,i1,"Desk lamp\\n')
(False, True)
>>> implausible_record(["query", "title"], ["lamp", "x" * 2000], 10, 40)[:36]
'the row spans lines 10-40 (31 lines)'
"""

import csv
from typing import AbstractSet, Iterable, Iterator, List, Optional, Tuple

from relevance import contract
from relevance.errors import InputError

IMPLAUSIBLE_FIELD = "implausible_field"
UNPARSEABLE_ROW = "unparseable_row"
# A row is one (query, item) pair: even a description with paragraphs rarely needs more.
MAX_RECORD_LINES = 100
# Fields that hold a word, a phrase or a number: real ones are far shorter than this.
MAX_SHORT_FIELD_CHARS = 1000
SHORT_FIELDS = frozenset({
    contract.QUERY, contract.QUERY_ID, contract.ITEM_ID, contract.LANGUAGE, contract.GRADE,
    "title", "link_title", contract.IMAGE,
})
_QUOTE_HINT = ("a quote opened on line {first} and never closed usually does this; a field "
               "with commas, quotes or line breaks must be in double quotes, with inner "
               'quotes doubled ("")')


def ends_inside_quotes(text: str, delimiter: str = ",", quote: str = '"') -> bool:
    """Whether `text` (whole records) ends inside a quoted field, read as the csv module
    reads it: a quote opens a field only at the field's start, `""` inside is a quote."""
    inside = False
    position = text.find(quote)
    while position != -1:
        if inside:
            if text.startswith(quote * 2, position):
                position = text.find(quote, position + 2)
                continue
            inside = False
        elif position == 0 or text[position - 1] in (delimiter, "\n", "\r"):
            inside = True
        position = text.find(quote, position + 1)
    return inside


def unterminated_quote_message(path: str, first: int, last: int) -> str:
    return (f"{path}: line {first}: a quoted field opened on this line is never closed, so "
            f"lines {first}-{last} (the rest of the file) would be read as one field. Close "
            'the quote, or double the quotes inside the field ("").')


def implausible_record(header: List[str], cells: List[str], first: int, last: int,
                       short_fields: AbstractSet[str] = SHORT_FIELDS,
                       max_lines: Optional[int] = MAX_RECORD_LINES) -> Optional[str]:
    """Why a CSV record spanning physical lines first..last looks like rows merged by a
    quoting mistake, else None. A data set's own columns come as `short_fields`;
    `max_lines` None skips the span check (for files whose real rows run long)."""
    hint = _QUOTE_HINT.format(first=first)
    if max_lines is not None and last - first + 1 > max_lines:
        return (f"the row spans lines {first}-{last} ({last - first + 1} lines), more than "
                f"the {max_lines} a row may take: {hint}")
    for name, cell in zip(header, cells):
        short = name in short_fields or name.startswith(contract.NUMERIC_FEATURE_PREFIX)
        if short and len(cell) > MAX_SHORT_FIELD_CHARS:
            return (f"the row spans lines {first}-{last} ({last - first + 1} lines) and its "
                    f"{name!r} field holds {len(cell)} characters, more than the "
                    f"{MAX_SHORT_FIELD_CHARS} a {name!r} may hold: {hint}")
    return None


def record_problem(header: List[str], cells: List[str], first: int, last: int,
                   short_fields: AbstractSet[str] = SHORT_FIELDS,
                   max_lines: Optional[int] = MAX_RECORD_LINES) -> Optional[Tuple[str, str]]:
    """(reason, message) when a CSV record cannot be used as a row, else None: merged
    rows (`implausible_record`) or more non-empty cells than the header has columns.

    >>> record_problem(["query", "title"], ["lamp", "Desk lamp", "oak"], 2, 2)[0]
    'unparseable_row'
    """
    implausible = implausible_record(header, cells, first, last, short_fields, max_lines)
    if implausible:
        return IMPLAUSIBLE_FIELD, implausible
    if any(cell.strip() for cell in cells[len(header):]):
        return UNPARSEABLE_ROW, (f"row has {len(cells)} cells but the header names "
                                 f"{len(header)} columns; quote cells that contain commas")
    return None


def csv_records(lines: Iterable[str], path: str,
                delimiter: str = ",") -> Iterator[Tuple[int, int, List[str]]]:
    """(first line, last line, cells) of each CSV record of `lines` (newlines kept);
    raises InputError naming `path` for malformed CSV and, at the end, when the last
    record ends inside a quoted field.

    >>> [span for span in csv_records(['q,t\\n', '1,"a\\n', 'b"\\n'], "f.csv")]
    [(1, 1, ['q', 't']), (2, 3, ['1', 'a\\nb'])]
    """
    consumed: List[str] = []  # the physical lines of the record being read

    def tracked():
        for line in lines:
            consumed.append(line)
            yield line

    reader = csv.reader(tracked(), delimiter=delimiter)
    first, last, record_lines = 1, 0, []
    try:
        for record in reader:
            # The csv module reads no line beyond the end of the record it returns.
            first, last = last + 1, reader.line_num
            record_lines = consumed[:]
            consumed.clear()
            yield first, last, record
    except csv.Error as err:
        raise InputError(
            f"{path}: CSV is malformed near line {reader.line_num} ({err}). Check quoting: "
            'a field containing commas, quotes or newlines must be in double quotes, with '
            'inner quotes doubled ("").'
        ) from err
    # An unclosed quote swallows everything after it, so only the last record can end
    # inside one.
    if record_lines and ends_inside_quotes("".join(record_lines), delimiter):
        raise InputError(unterminated_quote_message(path, first, last))
