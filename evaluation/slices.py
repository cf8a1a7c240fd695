"""The evaluation slices, shared by the TFMA configs, the BM25 baseline and the readers.

Every model is reported overall and on these slices of the evaluation rows:

* `language`; `label_source` (human grades, or pseudo-labels of held-out queries);
  `fields_present` (which item text fields are non-empty, e.g. "title+image_caption");
* `label_source` x `language`: per-language figures that do not mix label kinds.

A slice is written as a dict key "column=value" or "column=value,column=value".

Example:
>>> slice_name([("label_source", "human"), ("language", "en")])
'label_source=human,language=en'
>>> HUMAN_SLICE
'label_source=human'
"""

from typing import Iterable, Sequence, Tuple

from relevance.contract import FIELDS_PRESENT
from relevance import contract

OVERALL = "overall"
SLICE_COLUMNS: Tuple[Tuple[str, ...], ...] = (
    (contract.LANGUAGE,),
    (contract.LABEL_SOURCE,),
    (FIELDS_PRESENT,),
    (contract.LABEL_SOURCE, contract.LANGUAGE),
)


def slice_name(columns_and_values: Iterable[Tuple[str, object]]) -> str:
    """"column=value,..." for a slice; "overall" for the empty one."""
    parts = [f"{column}={_text(value)}" for column, value in columns_and_values]
    return ",".join(parts) or OVERALL


def slices_of_row(row: dict, columns: Sequence[Tuple[str, ...]] = SLICE_COLUMNS):
    """The names of the slices a row (feature dict of strings) belongs to, overall first."""
    yield OVERALL
    for group in columns:
        yield slice_name((column, row.get(column, "")) for column in group)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


HUMAN_SLICE = slice_name([(contract.LABEL_SOURCE, contract.LABEL_SOURCE_HUMAN)])
