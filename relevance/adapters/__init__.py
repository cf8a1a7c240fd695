"""Adapters from public relevance data sets to canonical record fields.

Each adapter module has `load(path, **options) -> (records, G)`: `records` iterates over
field dicts ready for `relevance.records.to_record(fields, num_grades=G)`, and G is the
data set's number of grades. The grade mappings are documented in each module.

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
"""

from typing import Callable, Dict, Iterator, NamedTuple, Tuple

from relevance.adapters import crowdflower, esci, wands, xquad_r
from relevance.errors import InputError

AdapterLoad = Callable[..., Tuple[Iterator[dict], int]]


class Adapter(NamedTuple):
    """One public data set: its loader and its number of grades G (the module's own)."""

    load: AdapterLoad
    num_grades: int


ADAPTERS: Dict[str, Adapter] = {
    "crowdflower": Adapter(crowdflower.load, crowdflower.NUM_GRADES),
    "xquad-r": Adapter(xquad_r.load, xquad_r.NUM_GRADES),
    "esci": Adapter(esci.load, esci.NUM_GRADES),
    "wands": Adapter(wands.load, wands.NUM_GRADES),
}


def load_records(fmt: str, path: str, **options) -> Tuple[Iterator[dict], int]:
    """Load `path` with the adapter named `fmt`; options go to the adapter's `load`.

    Raises:
        InputError: unknown adapter or option, or a file the adapter cannot read.
    """
    if fmt not in ADAPTERS:
        raise InputError(
            f"{path}: unknown data set format {fmt!r}; choose one of {', '.join(sorted(ADAPTERS))}."
        )
    try:
        return ADAPTERS[fmt].load(path, **options)
    except TypeError as err:
        if "unexpected keyword argument" in str(err):
            raise InputError(f"{path}: option not supported by the {fmt} adapter ({err}).") from err
        raise
