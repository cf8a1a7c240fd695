"""Helpers shared by the data-set adapters: text cleaning, file access, option parsing."""

import csv
import html
import re
from html.parser import HTMLParser
from typing import Iterable, Iterator, List, Optional

from relevance.errors import InputError
from relevance.lazy_tensorflow import tf

_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_WHITESPACE = re.compile(r"\s+")
# Descriptions in public dumps can exceed the csv module's 128 KiB default.
_CSV_FIELD_LIMIT = 16 * 1024 * 1024


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


def read_delimited(path: str, required_columns: Iterable[str]) -> Iterator[dict]:
    """Yield the rows of a CSV or TSV file as dicts; the delimiter is sniffed from the
    header (a tab in the header line means TSV). Checks the header eagerly.
    """
    require_file(path, "the data file")
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    with tf.io.gfile.GFile(path, "r") as handle:
        header_line = handle.readline().lstrip("\ufeff")
    delimiter = "\t" if "\t" in header_line else ","
    header = next(csv.reader([header_line], delimiter=delimiter), [])
    header = [name.strip() for name in header]
    missing = [name for name in required_columns if name not in header]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)} (found {', '.join(header) or 'nothing'})."
        )
    return _iter_rows(path, header, delimiter)


def _iter_rows(path: str, header: List[str], delimiter: str) -> Iterator[dict]:
    with tf.io.gfile.GFile(path, "r") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)
        try:
            for cells in reader:
                if cells:
                    yield dict(zip(header, cells))
        except csv.Error as err:
            raise InputError(f"{path}: malformed near line {reader.line_num} ({err}).") from err


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
