"""Amazon "Shopping Queries Dataset" (ESCI, 2022): product search in English, Spanish, Japanese.

Path: the directory holding the two parquet files of the release,
`shopping_queries_dataset_examples.parquet` (query_id, query, product_id,
product_locale, esci_label, small_version, large_version, split) and
`shopping_queries_dataset_products.parquet` (product_id, product_locale, product_title,
product_description, product_bullet_point, product_brand, product_color). Examples are
joined to products on (product_locale, product_id).

Mapping to the canonical record (G = 4):

| source                         | record      | notes                                     |
|--------------------------------|-------------|-------------------------------------------|
| esci_label E / S / C / I       | grade 4/3/2/1 | Exact, Substitute, Complement, Irrelevant |
| query_id, query                | query_id, query |                                       |
| product_id                     | item_id     |                                           |
| product_title                  | title       | HTML stripped                             |
| description, bullet points, brand, color | description | HTML stripped, joined        |
| product_locale us / es / jp    | language en / es / ja |                                 |

Options: `split` ("train" or "test"; default all rows), `locales` (e.g. "us,es"; default
all), `small_version` (true: only the reduced Task 1 subset).

A missing file or column stops the read (`InputError`); an `esci_label` other than
E, S, C, I is a quarantined row (`bad_grade`).

Example:
    >>> rows, num_grades = read_rows("esci/", split="test", locales="es")  # doctest: +SKIP
    >>> next(rows).fields["language"], num_grades  # doctest: +SKIP
    ('es', 4)
"""

import os
from typing import Iterator, Tuple

from relevance import contract
from relevance.adapters._text import (
    clean_text, join_text, option_bool, option_list, require_directory, require_file,
)
from relevance.errors import InputError
from relevance.lazy_tensorflow import tf
from relevance.raw_row import RawRow

NUM_GRADES = 4
EXAMPLES_FILE = "shopping_queries_dataset_examples.parquet"
PRODUCTS_FILE = "shopping_queries_dataset_products.parquet"
LABEL_TO_GRADE = {"E": 4, "S": 3, "C": 2, "I": 1}
LOCALE_TO_LANGUAGE = {"us": "en", "es": "es", "jp": "ja"}

_EXAMPLE_COLUMNS = ["query_id", "query", "product_id", "product_locale", "esci_label"]
_PRODUCT_TEXT_COLUMNS = [
    "product_description", "product_bullet_point", "product_brand", "product_color",
]


def read_rows(
    path: str, split=None, locales=None, small_version=False
) -> Tuple[Iterator[RawRow], int]:
    """Return (rows with raw record fields, G = 4); reads and joins both parquet files now."""
    require_directory(path, f"{EXAMPLES_FILE} and {PRODUCTS_FILE}")
    examples_path = os.path.join(path, EXAMPLES_FILE)
    products_path = os.path.join(path, PRODUCTS_FILE)
    require_file(examples_path, "the ESCI examples file")
    require_file(products_path, "the ESCI products file")

    examples = _read_parquet(examples_path, _EXAMPLE_COLUMNS, ["split", "small_version"])
    if split:
        _require_column(examples, "split", examples_path)
        examples = examples[examples["split"] == split]
    if option_bool(small_version, "small_version"):
        _require_column(examples, "small_version", examples_path)
        examples = examples[examples["small_version"] == 1]
    wanted_locales = option_list(locales)
    if wanted_locales:
        examples = examples[examples["product_locale"].isin(wanted_locales)]

    products = _read_parquet(
        products_path, ["product_id", "product_locale", "product_title"], _PRODUCT_TEXT_COLUMNS
    )
    joined = examples.merge(products, how="left", on=["product_locale", "product_id"])
    return _records(joined, examples_path), NUM_GRADES


def _read_parquet(path: str, required, optional):
    import pyarrow.parquet as pq  # here: every `relevance` command imports the adapters

    try:
        # Local files go to pyarrow by path (fast native reads); gs:// etc. via GFile.
        source = tf.io.gfile.GFile(path, "rb") if "://" in path else path
        parquet = pq.ParquetFile(source)
        schema_names = parquet.schema_arrow.names
    except Exception as err:  # noqa: BLE001 - pyarrow raises several unrelated types
        raise InputError(f"{path}: not a readable parquet file ({err}).") from err
    missing = [name for name in required if name not in schema_names]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)} (found {', '.join(schema_names)})."
        )
    columns = list(required) + [name for name in optional if name in schema_names]
    return parquet.read(columns=columns).to_pandas()


def _require_column(frame, name: str, path: str) -> None:
    if name not in frame.columns:
        raise InputError(f"{path}: has no {name!r} column to filter on.")


def _records(joined, path: str) -> Iterator[RawRow]:
    for number, row in enumerate(joined.itertuples(index=False), start=1):
        label = str(row.esci_label).strip().upper()
        if label not in LABEL_TO_GRADE:
            yield RawRow(path, number, None, (
                f"esci_label {row.esci_label!r} is not one of E, S, C, I "
                f"(query_id {row.query_id}, product_id {row.product_id})"), "bad_grade")
            continue
        locale = str(row.product_locale).strip().lower()
        yield RawRow(path, number, {
            contract.QUERY: clean_text(row.query),
            contract.QUERY_ID: str(row.query_id),
            contract.ITEM_ID: str(row.product_id),
            "title": clean_text(row.product_title),
            "description": join_text(
                getattr(row, name, None) for name in _PRODUCT_TEXT_COLUMNS
            ),
            contract.LANGUAGE: LOCALE_TO_LANGUAGE.get(locale, locale),
            contract.GRADE: LABEL_TO_GRADE[label],
        }, None)
