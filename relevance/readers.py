"""Read raw rows from CSV, JSON Lines and TFRecord files (local or gs:// paths).

A reader only turns a file into dictionaries of Python values; it does not judge the
values (that is `relevance.records.to_record`). File-level problems (missing, empty,
clearly in another format, not UTF-8) raise `InputError` naming the file; a single row
that cannot be parsed comes back as a `RawRow` whose `error` is set, so the pipeline can
quarantine it and carry on.

List fields (`contract.ITEM_LIST_TEXT_FIELDS`, e.g. `engaged_queries`):

* CSV: a JSON array string (`["red shoes", "running shoes"]`) or, when the cell does not
  hold a JSON array, entries separated by `" | "` (`red shoes | running shoes`).
* JSONL: a JSON list of strings; a plain string is accepted as one entry.
* TFRecord: a `bytes_list` with zero or more values.

All file access goes through `tf.io.gfile`, so `gs://bucket/file.csv` works like a local
path.
"""

import json
import logging
from typing import Iterator, Optional, Tuple

from relevance import contract
from relevance.adapters import PIPELINE_INPUT_FORMATS, read_adapter_rows
from relevance.csv_checks import record_problem
from relevance.errors import InputError
from relevance.raw_row import RawRow
from relevance.record_parsing import example_to_dict, parse_list_cell
from relevance.lazy_tensorflow import tf
from relevance.text_files import csv_file_records, text_lines

logger = logging.getLogger(__name__)

FORMATS = ("csv", "jsonl", "tfrecord")

# Longest suffixes first so ".tfrecord.gz" wins over ".gz"-less matches.
_EXTENSIONS = (
    (".tfrecords.gz", "tfrecord"),
    (".tfrecord.gz", "tfrecord"),
    (".tfrecords", "tfrecord"),
    (".tfrecord", "tfrecord"),
    (".ndjson", "jsonl"),
    (".jsonl", "jsonl"),
    (".json", "jsonl"),
    (".csv", "csv"),
)
_GZIP_MAGIC = b"\x1f\x8b"


def resolve_format(path: str, fmt: str = "auto") -> str:
    """Return the input format of `path`: one of `FORMATS`.

    With `fmt="auto"` the format comes from the extension: .csv; .jsonl/.json/.ndjson;
    .tfrecord/.tfrecords (optionally .gz). An explicit `fmt` is validated and returned.

    Example:
        >>> resolve_format("gs://bucket/labeled.tfrecord.gz")
        'tfrecord'
        >>> resolve_format("data.txt", "csv")
        'csv'
    """
    if fmt != "auto":
        normalised = fmt.strip().lower()
        if normalised not in FORMATS:
            raise InputError(
                f"{path}: unknown input format {fmt!r}; use one of {', '.join(FORMATS)} "
                "or 'auto' to pick it from the file extension."
            )
        return normalised
    lowered = path.lower()
    for suffix, name in _EXTENSIONS:
        if lowered.endswith(suffix):
            return name
    raise InputError(
        f"{path}: cannot tell the input format from the file name. Use a .csv, .jsonl "
        "(.json, .ndjson) or .tfrecord (.tfrecords, .tfrecord.gz) extension, or pass the "
        f"format explicitly (one of {', '.join(FORMATS)})."
    )


def _read_adapter(path: str, fmt: str) -> Iterator[RawRow]:
    """Rows of a public data-set file, through its adapter (grades mapped to 1..G)."""
    _check_file_exists_and_not_empty(path)
    rows, _ = read_adapter_rows(fmt, path)
    return rows


def read_rows(path: str, fmt: str = "auto") -> Iterator[RawRow]:
    """Yield every data row of `path` as a `RawRow`.

    File-level problems are detected before the first row is returned and raise
    `InputError`: missing file, empty file (no bytes or no data rows), or a file
    clearly in another format (CSV without a `query` header column, JSONL whose
    first line is not a JSON object, TFRecord that does not decode).

    Example:
        >>> for row in read_rows("labeled.jsonl"):  # doctest: +SKIP
        ...     print(row.row_number, row.fields or row.error)
    """
    if fmt in PIPELINE_INPUT_FORMATS:
        return _read_adapter(path, fmt)
    resolved = resolve_format(path, fmt)
    _check_file_exists_and_not_empty(path)
    logger.debug("reading %s as %s", path, resolved)
    if resolved == "csv":
        _check_csv(path)
        return _read_csv(path)
    if resolved == "jsonl":
        _check_jsonl(path)
        return _read_jsonl(path)
    _check_tfrecord(path)
    return _read_tfrecord(path)


# ---------------------------------------------------------------- file-level checks


def _check_file_exists_and_not_empty(path: str) -> None:
    try:
        exists = tf.io.gfile.exists(path)
        is_dir = exists and tf.io.gfile.isdir(path)
        size = tf.io.gfile.stat(path).length if exists and not is_dir else None
    except tf.errors.OpError as err:
        raise InputError(f"{path}: cannot access the file ({err.message}).") from err
    if not exists:
        raise InputError(f"{path}: file not found; check the path and that the file exists.")
    if is_dir:
        raise InputError(f"{path}: is a directory; pass the path of one data file.")
    if size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes); add data rows to it.")


def _check_csv(path: str) -> None:
    records = (cells for _, _, cells in csv_file_records(path))
    header = [name.strip() for name in next(records, [])]
    if contract.QUERY not in header:
        shown = ", ".join(repr(name) for name in header[:10]) or "nothing"
        raise InputError(
            f"{path}: the CSV header has no {contract.QUERY!r} column (found {shown}). "
            f"The first line must name the columns, e.g. {contract.QUERY},"
            f"{contract.ITEM_ID},title,description,{contract.GRADE}; "
            "if the file is not CSV, use the extension of its real format."
        )
    # Read to the end: an unclosed quote is only seen there, and must stop the file
    # before its first row is used.
    if sum(1 for record in records if record) == 0:
        raise InputError(f"{path}: the CSV has a header but no data rows; add data rows.")


def _check_jsonl(path: str) -> None:
    for line_number, line in text_lines(path):
        if not line.strip():
            continue
        try:
            first = json.loads(line)
        except ValueError:
            first = None
        if not isinstance(first, dict):
            raise InputError(
                f"{path}: line {line_number} is not a JSON object. JSON Lines input needs "
                'one object per line, e.g. {"query": "red shoes", "item_id": "i1", '
                '"title": "..."}; a single JSON array or pretty-printed JSON must be '
                "converted to one object per line."
            )
        return
    raise InputError(f"{path}: the file has only blank lines; add one JSON object per line.")


def _tfrecord_compression(path: str) -> str:
    if path.lower().endswith(".gz"):
        return "GZIP"
    # TFX writes GZIP shards whose names need not end in .gz, so also sniff the magic.
    with tf.io.gfile.GFile(path, "rb") as handle:
        return "GZIP" if handle.read(2) == _GZIP_MAGIC else ""


def _check_tfrecord(path: str) -> None:
    dataset = tf.data.TFRecordDataset(path, compression_type=_tfrecord_compression(path))
    try:
        first = next(iter(dataset.take(1)), None)
    except tf.errors.OpError as err:
        raise InputError(
            f"{path}: not a readable TFRecord file ({err.message.splitlines()[0]}). "
            "Check that the file holds serialized tf.Example records and, if it is "
            "GZIP-compressed, that its name ends in .gz."
        ) from err
    if first is None:
        raise InputError(f"{path}: the TFRecord file holds no records; add data to it.")


# ---------------------------------------------------------------- row iterators


def _read_csv(path: str) -> Iterator[RawRow]:
    records = csv_file_records(path)
    header = [name.strip() for name in next(records)[2]]
    row_number = 0
    for first, last, record in records:
        if not record:
            continue  # blank line
        row_number += 1
        problem = record_problem(header, record, first, last)
        if problem:
            reason, message = problem
            yield RawRow(path, row_number, None, message, reason)
            continue
        fields = {}
        for name, cell in zip(header, record):
            fields[name] = parse_list_cell(cell) if name in contract.LIST_STRING_FEATURES else cell
        yield RawRow(path, row_number, fields, None)


def _read_jsonl(path: str) -> Iterator[RawRow]:
    for line_number, line in text_lines(path):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as err:
            yield RawRow(path, line_number, None, f"line is not valid JSON ({err})")
            continue
        if not isinstance(value, dict):
            yield RawRow(
                path, line_number, None, f"line holds a JSON {type(value).__name__}, not an object"
            )
            continue
        for name in contract.LIST_STRING_FEATURES:
            if name in value and not isinstance(value[name], (list, tuple)):
                value[name] = [] if value[name] is None else [value[name]]
        yield RawRow(path, line_number, value, None)


def _read_tfrecord(path: str) -> Iterator[RawRow]:
    dataset = tf.data.TFRecordDataset(path, compression_type=_tfrecord_compression(path))
    record_number = 0
    iterator = iter(dataset)
    while True:
        try:
            serialized = next(iterator)
        except StopIteration:
            return
        except tf.errors.OpError as err:
            raise InputError(
                f"{path}: the TFRecord file is corrupted after record {record_number} "
                f"({err.message.splitlines()[0]}); re-create or re-copy the file."
            ) from err
        record_number += 1
        try:
            example = tf.train.Example.FromString(serialized.numpy())
        except Exception as err:  # noqa: BLE001 - protobuf raises DecodeError, varies by impl
            message = f"record is not a serialized tf.Example ({err})"
            yield RawRow(path, record_number, None, message)
            continue
        yield RawRow(path, record_number, example_to_dict(example), None)
