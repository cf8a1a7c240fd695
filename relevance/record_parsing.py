"""Parsing a stored row's values into Python values, shared by the readers and the
records: list cells ("a | b" or a JSON array) and tf.Examples (bytes decoded, list
fields kept as lists). Neither judges the values; that is `relevance.records.to_record`.

TensorFlow is imported on first use only (`relevance.lazy_tensorflow`): the CLI imports
the readers to build its parser.
"""

import json
import re
from typing import List

from relevance import contract
from relevance.lazy_tensorflow import tf  # noqa: F401 - the examples' `tf`

_LIST_CELL_SPLIT = re.compile(r"\s+\|\s+|\s+\|$|^\|\s+")


def parse_list_cell(cell) -> List[str]:
    """Parse a list-field value from a CSV cell (or a JSONL value) into a list of str.

    A JSON array string is decoded; any other string is split on " | ". Empty
    entries are dropped. A list is returned as a list of stripped str.

    Example:
        >>> parse_list_cell('["red shoes", "boots"]')
        ['red shoes', 'boots']
        >>> parse_list_cell("red shoes | boots")
        ['red shoes', 'boots']
    """
    if cell is None:
        return []
    if isinstance(cell, (list, tuple)):
        entries = cell
    else:
        text = str(cell).strip()
        if not text:
            return []
        entries = None
        if text.startswith("["):
            try:
                decoded = json.loads(text)
            except ValueError:
                decoded = None  # e.g. "[NEW] lamp | desk lamp": fall back to " | "
            if isinstance(decoded, list):
                entries = decoded
        if entries is None:
            # " | " between entries; a dangling separator at either end is tolerated.
            entries = _LIST_CELL_SPLIT.split(text)
    stripped = (str(entry).strip() for entry in entries if entry is not None)
    return [entry for entry in stripped if entry]


def example_to_dict(example: "tf.train.Example") -> dict:
    """Convert a `tf.train.Example` into a dict of Python values.

    Bytes are decoded as UTF-8, except `image_bytes`, which stays bytes. List fields always become lists; other features
    become a scalar when they hold one value, a list when they hold several, and
    None when they hold none.

    Example:
        >>> ex = tf.train.Example()
        >>> ex.features.feature["query"].bytes_list.value.append(b"lamp")
        >>> example_to_dict(ex)
        {'query': 'lamp'}
    """
    fields = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        if kind == "bytes_list" and name == contract.IMAGE_BYTES:
            values = list(feature.bytes_list.value)  # an encoded image, not text
        elif kind == "bytes_list":
            values = [v.decode("utf-8", errors="replace") for v in feature.bytes_list.value]
        elif kind == "int64_list":
            values = list(feature.int64_list.value)
        elif kind == "float_list":
            values = list(feature.float_list.value)
        else:
            values = []
        if name in contract.LIST_STRING_FEATURES:
            fields[name] = values
        elif len(values) == 1:
            fields[name] = values[0]
        else:
            fields[name] = values or None
    return fields
