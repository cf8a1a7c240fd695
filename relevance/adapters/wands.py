"""Wayfair "WANDS" (2022): product search relevance for furniture and decor, English.

Path: the directory of the release's `dataset/` folder, holding `query.csv` (query_id,
query, query_class), `product.csv` (product_id, product_name, product_class,
category hierarchy, product_description, product_features, rating_count,
average_rating, review_count) and `label.csv` (id, query_id, product_id, label). The
real files are tab-separated despite their name; commas are accepted too (sniffed from
the header line).

Mapping to the canonical record (G = 3):

| source                                | record       | notes                            |
|---------------------------------------|--------------|----------------------------------|
| label Exact / Partial / Irrelevant    | grade 3/2/1  |                                  |
| query_id, query                       | query_id, query |                               |
| product_id, product_name              | item_id, title |                                |
| product_description, product_features | description  | pipe-separated "k:v" features -> "k: v; k: v" |
| product_class, category hierarchy     | board_titles | the collections the item is filed under |
| -                                     | language     | "en"                             |

Every file is read as every CSV of the project is (`relevance.text_files`): not UTF-8,
malformed, or a quote never closed stops it. A label other than Exact, Partial,
Irrelevant, or a label row merged by a stray quote, is a quarantined row (`bad_grade`,
`implausible_field`). Labels whose query or product is missing from the other files are
skipped (logged).

Example:
    >>> rows, num_grades = read_rows("WANDS/dataset")  # doctest: +SKIP
    >>> num_grades  # doctest: +SKIP
    3
"""

import dataclasses
import logging
import os
from typing import Dict, Iterator, Tuple

from relevance import contract
from relevance.adapters._text import clean_text, join_text, read_delimited, require_directory
from relevance.raw_row import RawRow

logger = logging.getLogger(__name__)

NUM_GRADES = 3
LABEL_TO_GRADE = {"exact": 3, "partial": 2, "irrelevant": 1}


def read_rows(path: str, language: str = "en") -> Tuple[Iterator[RawRow], int]:
    """Return (rows with raw record fields, G = 3); queries and products are read now."""
    require_directory(path, "query.csv, product.csv and label.csv")
    queries = {
        row["query_id"].strip(): clean_text(row["query"])
        for row in _parsed(os.path.join(path, "query.csv"), ("query_id", "query"))
    }
    products = {
        row["product_id"].strip(): _product_fields(row)
        for row in _parsed(os.path.join(path, "product.csv"), ("product_id", "product_name"))
    }
    labels_path = os.path.join(path, "label.csv")
    labels = read_delimited(labels_path, ("query_id", "product_id", "label"),
                            ("id", "query_id", "product_id", "label"))
    return _records(labels, queries, products, language, labels_path), NUM_GRADES


def _parsed(path: str, columns) -> Iterator[dict]:
    """The parsed rows of a lookup table; a row that is not is logged (the labels that
    name it are then counted as skipped)."""
    for row in read_delimited(path, columns, columns):
        if row.fields is None:
            logger.warning("%s row %d: %s", path, row.row_number, row.error)
        else:
            yield row.fields


def _product_fields(row: dict) -> Dict[str, object]:
    features = [
        part.replace(":", ": ", 1)
        for part in (row.get("product_features") or "").split("|")
        if part.strip()
    ]
    collections = [
        clean_text(row.get("product_class")),
        clean_text(row.get("category hierarchy")),
    ]
    return {
        "title": clean_text(row["product_name"]),
        "description": join_text([row.get("product_description"), "; ".join(features)]),
        "board_titles": [value for value in collections if value],
    }


def _records(labels, queries, products, language, path) -> Iterator[RawRow]:
    skipped = 0
    for row in labels:
        if row.fields is None:
            yield row
            continue
        query_id = (row.fields.get("query_id") or "").strip()
        product_id = (row.fields.get("product_id") or "").strip()
        if query_id not in queries or product_id not in products:
            skipped += 1
            continue
        label = (row.fields.get("label") or "").strip().lower()
        if label not in LABEL_TO_GRADE:
            yield dataclasses.replace(row, fields=None, reason="bad_grade", error=(
                f"label {row.fields.get('label')!r} is not Exact, Partial or Irrelevant "
                f"(query_id {query_id}, product_id {product_id})"))
            continue
        yield dataclasses.replace(row, fields={
            contract.QUERY: queries[query_id],
            contract.QUERY_ID: query_id,
            contract.ITEM_ID: product_id,
            contract.LANGUAGE: language,
            contract.GRADE: LABEL_TO_GRADE[label],
            **products[product_id],
        })
    if skipped:
        logger.warning("%s: skipped %d labels whose query or product is unknown", path, skipped)
