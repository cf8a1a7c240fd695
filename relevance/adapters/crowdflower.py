"""Kaggle "Crowdflower Search Results Relevance" (2015): e-commerce search, English.

File: `train.csv` (or `test.csv`), comma-separated with quoted multi-line fields;
columns `id, query, product_title, product_description, median_relevance,
relevance_variance`.

Mapping to the canonical record (G = 4):

| source                | record        | notes                                        |
|-----------------------|---------------|----------------------------------------------|
| id                    | item_id       | the row id (the data has no product id)      |
| query                 | query         | query_id is derived from the query text      |
| product_title         | title         | HTML stripped                                |
| product_description   | description   | HTML stripped (it often is HTML)             |
| median_relevance 1..4 | grade 1..4    | 4 = fully relevant; absent (test.csv) = None; checked like any grade |
| -                     | language      | "en" (option `language` to override)         |

The file is read as every CSV of the project is (`relevance.text_files`): not UTF-8,
malformed, or a quote never closed stops it; an `id`, `query`, `product_title` or grade
over 1,000 characters is a row merged by a stray quote (`implausible_field`).

Example:
    >>> rows, num_grades = read_rows("crowdflower/train.csv")  # doctest: +SKIP
    >>> num_grades, next(rows).fields["grade"]  # doctest: +SKIP
    (4, 2)
"""

from typing import Iterator, Tuple

from relevance import contract
from relevance.adapters._text import clean_text, map_fields, read_delimited
from relevance.raw_row import RawRow

NUM_GRADES = 4
_REQUIRED_COLUMNS = ("id", "query", "product_title")
# Columns that hold a word or a number: a long one is rows merged by a stray quote.
_SHORT_COLUMNS = ("id", "query", "product_title", "median_relevance", "relevance_variance")


def read_rows(path: str, language: str = "en") -> Tuple[Iterator[RawRow], int]:
    """Return (rows with raw record fields for `relevance.row_validation`, G = 4)."""
    rows = read_delimited(path, _REQUIRED_COLUMNS, _SHORT_COLUMNS)
    return map_fields(rows, lambda row: _fields(row, language)), NUM_GRADES


def _fields(row: dict, language: str) -> dict:
    return {
        contract.QUERY: clean_text(row.get("query")),
        contract.ITEM_ID: (row.get("id") or "").strip(),
        "title": clean_text(row.get("product_title")),
        "description": clean_text(row.get("product_description")),
        contract.LANGUAGE: language,
        contract.GRADE: _grade(row.get("median_relevance")),
    }


def _grade(cell):
    """The same 1..4 scale as our grades: no remapping. Anything but plain digits is
    passed as read, for the row validation to judge like any grade ("2.5", "abc":
    bad_grade; "NaN", "": no grade)."""
    text = (cell or "").strip()
    return int(text) if text.isdigit() and text.isascii() else cell
