"""What the ItemEmbedder encodes for a row, and the content key each text is cached by.

One definition for the component, `relevance embed-items` and the benches: the item's
text is every item text field joined (`evaluation.baseline.item_text`), the query's is
the `query` field. A text is keyed by its side and the SHA-256 of its UTF-8 bytes (`text_key`).

Example:

>>> item_embedding_text({"title": "Red mug", "board_titles": ["Kitchen"]})
'Red mug Kitchen'
>>> import tensorflow as tf
>>> example = tf.train.Example()
>>> example.features.feature["title"].bytes_list.value.append(b"Red mug")
>>> example.features.feature["query"].bytes_list.value.append(b"mug")
>>> item_embedding_text(example), query_text(example)
('Red mug', 'mug')
>>> key = text_key(QUERY_SIDE, "mug")
>>> key[:14], key_side(key)[0]
('query:a19ee257', 'query')
"""

from typing import Mapping, Tuple, Union

from components.hashing import content_digest
from evaluation.baseline import item_text
from relevance import contract
from relevance.record_parsing import example_to_dict

QUERY_SIDE = "query"  # encoded as "query: q"
ITEM_SIDE = "item"  # encoded as "passage: item text"
SIDES = (QUERY_SIDE, ITEM_SIDE)


def _fields(record_or_example) -> Mapping:
    if isinstance(record_or_example, Mapping):
        return record_or_example
    return example_to_dict(record_or_example)  # a tf.train.Example


def item_embedding_text(record_or_example: Union[Mapping, "object"]) -> str:
    """The item text the encoder reads ("" when the item has none), from a record (a
    dict of fields) or a tf.train.Example."""
    return item_text(_fields(record_or_example))


def query_text(record_or_example) -> str:
    """The row's query, stripped ("" when it has none)."""
    value = _fields(record_or_example).get(contract.QUERY)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return str(value or "").strip()


def text_key(side: str, text: str) -> str:
    """"side:SHA-256 of the text": a distinct text of one side (a Beam key: a string,
    which every runner encodes deterministically)."""
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r}; one of {SIDES}")
    return f"{side}:{content_digest(text.encode('utf-8'))}"


def key_side(key: str) -> Tuple[str, str]:
    """(side, text hash) of a `text_key`."""
    side, text_hash = key.split(":", 1)
    return side, text_hash
