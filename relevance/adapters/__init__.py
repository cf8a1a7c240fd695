"""Adapters from public relevance data sets to canonical record fields.

Each adapter module has `read_rows(path, **options) -> (rows, G)`: `rows` iterates over
`relevance.readers.RawRow`s whose fields are ready for the one row validation
(`relevance.row_validation.validate_row`, hence `relevance.records.to_record`), or whose
error says why the adapter could not read the row (quarantined, with its reason); G is
the data set's number of grades. The grade mappings and the checks are documented in
each module.

| name         | path                              | G | languages      |
|--------------|-----------------------------------|---|----------------|
| crowdflower  | train.csv / test.csv              | 4 | en             |
| xquad-r      | <lang>.json or a directory of them| 2 | from file name |
| esci         | directory of the two parquet files| 4 | en, es, ja     |
| wands        | directory of query/product/label.csv | 3 | en          |

Example:
    >>> records, num_grades = load_records("crowdflower", "train.csv")  # doctest: +SKIP
    >>> sorted(ADAPTERS)
    ['crowdflower', 'esci', 'wands', 'xquad-r']
    >>> ADAPTERS["xquad-r"].num_grades
    2
    >>> PIPELINE_INPUT_FORMATS
    ('crowdflower', 'xquad-r')
"""

import logging
from typing import Callable, Dict, Iterator, NamedTuple, Tuple

from relevance.adapters import crowdflower, esci, wands, xquad_r
from relevance.errors import InputError
from relevance.raw_row import RawRow

logger = logging.getLogger(__name__)

AdapterRead = Callable[..., Tuple[Iterator[RawRow], int]]


class Adapter(NamedTuple):
    """One public data set: its reader, its number of grades G (the module's own), and
    whether `relevance run --format NAME` takes its files as pipeline input (True), or
    only `relevance evaluate` does (False: it joins a directory of several files)."""

    read_rows: AdapterRead
    num_grades: int
    pipeline_input: bool


# The one place to register a data set: `relevance evaluate --format` and, where
# `pipeline_input` is set, `relevance run --format` / `relevance compile --format`.
ADAPTERS: Dict[str, Adapter] = {
    "crowdflower": Adapter(crowdflower.read_rows, crowdflower.NUM_GRADES, pipeline_input=True),
    "xquad-r": Adapter(xquad_r.read_rows, xquad_r.NUM_GRADES, pipeline_input=True),
    "esci": Adapter(esci.read_rows, esci.NUM_GRADES, pipeline_input=False),
    "wands": Adapter(wands.read_rows, wands.NUM_GRADES, pipeline_input=False),
}

PIPELINE_INPUT_FORMATS = tuple(name for name, adapter in ADAPTERS.items()
                               if adapter.pipeline_input)


def read_adapter_rows(fmt: str, path: str, **options) -> Tuple[Iterator[RawRow], int]:
    """The rows of `path` read by the adapter named `fmt` (options go to its
    `read_rows`), and G. Rows the adapter could not parse carry their error and reason,
    for `relevance.row_validation.validate_row` to quarantine like any reader's.

    Raises:
        InputError: unknown adapter or option, or a file the adapter cannot read.
    """
    if fmt not in ADAPTERS:
        raise InputError(
            f"{path}: unknown data set format {fmt!r}; choose one of {', '.join(sorted(ADAPTERS))}."
        )
    try:
        return ADAPTERS[fmt].read_rows(path, **options)
    except TypeError as err:
        if "unexpected keyword argument" in str(err):
            raise InputError(f"{path}: option not supported by the {fmt} adapter ({err}).") from err
        raise


def load_records(fmt: str, path: str, **options) -> Tuple[Iterator[dict], int]:
    """The raw record fields of the rows of `path` that parse, and G (for scripts that
    want fields, e.g. bench/); the rest are logged with a count at the end."""
    rows, num_grades = read_adapter_rows(fmt, path, **options)
    return _parsed_fields(rows, path), num_grades


def _parsed_fields(rows: Iterator[RawRow], path: str) -> Iterator[dict]:
    unparsed = 0
    for row in rows:
        if row.fields is None:
            unparsed += 1
            logger.debug("%s row %d: %s", path, row.row_number, row.error)
        else:
            yield row.fields
    if unparsed:
        logger.warning("%s: %d rows could not be read and were left out", path, unparsed)
