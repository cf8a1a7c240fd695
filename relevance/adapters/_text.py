"""Helpers shared by the data-set adapters: text cleaning, file access, option parsing."""

import csv
import dataclasses
import html
import re
from html.parser import HTMLParser
from typing import Callable, FrozenSet, Iterable, Iterator, List, Optional

from relevance.csv_checks import record_problem
from relevance.errors import InputError
from relevance.lazy_tensorflow import tf
from relevance.raw_row import RawRow
from relevance.text_files import csv_file_records, text_lines

_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_WHITESPACE = re.compile(r"\s+")


class _TextCollector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: List[str] = []

    def handle_data(self, data):
        self.parts.append(data)

    def handle_starttag(self, tag, attrs):
        self.parts.append(" ")  # <br>, <li>, <p> separate words

    def handle_endtag(self, tag):
        self.parts.append(" ")


def clean_text(value) -> str:
    """Plain text: HTML tags removed (only when the value has tags), entities decoded,
    whitespace collapsed. None and NaN give "".

    Example:
        >>> clean_text("<p>Soft&nbsp;cotton<br/>pillow</p>  cover")
        'Soft cotton pillow cover'
    """
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = str(value)
    # A bare "<" in plain text ("size < 5") must survive, so parse only real markup.
    if _TAG.search(text):
        collector = _TextCollector()
        collector.feed(text)
        collector.close()
        text = "".join(collector.parts)
    else:
        text = html.unescape(text)
    return _WHITESPACE.sub(" ", text).strip()


def join_text(parts: Iterable, separator: str = " ") -> str:
    """Clean each part and join the non-empty ones."""
    return separator.join(part for part in (clean_text(p) for p in parts) if part)


def require_file(path: str, what: str) -> None:
    """Raise InputError naming `path` when it is missing or a directory."""
    if not tf.io.gfile.exists(path):
        raise InputError(f"{path}: {what} not found; check the path.")
    if tf.io.gfile.isdir(path):
        raise InputError(f"{path}: is a directory, but {what} must be a file.")


def require_directory(path: str, what: str) -> None:
    if not tf.io.gfile.isdir(path):
        raise InputError(f"{path}: not a directory; pass the directory holding {what}.")


def read_delimited(path: str, required_columns: Iterable[str],
                   short_columns: Iterable[str] = ()) -> Iterator[RawRow]:
    """The rows of a CSV or TSV file as `RawRow`s of raw column values; the delimiter is
    sniffed from the header (a tab in the header line means TSV).

    Read as the canonical CSV reader reads (`relevance.text_files`), and the whole file
    once now: a file that is not UTF-8, malformed, or ends inside a quote raises
    InputError before any row is used. A row whose `short_columns` cell (an id, a query,
    a grade) is implausibly long, or with more cells than the header, comes back with
    its `error` set, to be quarantined. There is no limit on the lines a row may span:
    public dumps hold long multi-line HTML descriptions.
    """
    require_file(path, "the data file")
    first_lines = text_lines(path)
    header_line = next(first_lines, (1, ""))[1]
    first_lines.close()
    delimiter = "\t" if "\t" in header_line else ","
    header = [name.strip() for name in next(csv.reader([header_line], delimiter=delimiter), [])]
    missing = [name for name in required_columns if name not in header]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)} (found {', '.join(header) or 'nothing'})."
        )
    for _ in csv_file_records(path, delimiter):
        pass  # the checks above, before the first row goes anywhere
    return _iter_rows(path, header, delimiter, frozenset(short_columns))


def _iter_rows(path: str, header: List[str], delimiter: str,
               short_columns: FrozenSet[str]) -> Iterator[RawRow]:
    records = csv_file_records(path, delimiter)
    next(records, None)
    row_number = 0
    for first, last, cells in records:
        if not cells:
            continue  # a blank line
        row_number += 1
        problem = record_problem(header, cells, first, last, short_columns, max_lines=None)
        if problem:
            yield RawRow(path, row_number, None, problem[1], problem[0])
        else:
            yield RawRow(path, row_number, dict(zip(header, cells)), None)


def map_fields(rows: Iterable[RawRow], to_fields: Callable[[dict], dict]) -> Iterator[RawRow]:
    """`rows` with each parsed row's fields mapped by `to_fields`; rows that could not
    be parsed pass through, still carrying their error."""
    for row in rows:
        yield row if row.fields is None else dataclasses.replace(row, fields=to_fields(row.fields))


def option_bool(value, name: str) -> bool:
    """Parse a boolean adapter option given as bool or as text ("true", "0", ...)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "on"):
        return True
    if text in ("0", "false", "no", "n", "off", ""):
        return False
    raise InputError(f"adapter option {name}={value!r} is not a boolean (true/false).")


def option_list(value) -> Optional[List[str]]:
    """A list option given as a list or a comma-separated string; None stays None."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]
