"""Validate raw rows into canonical (query, item) records and convert them to tf.Example.

The canonical record (see `relevance.contract`) is a dict with:

* every name in `contract.SCALAR_STRING_FEATURES` as a stripped `str` ("" when absent),
* every name in `contract.LIST_STRING_FEATURES` as a list of non-empty `str`,
* `contract.GRADE` as an `int` in 1..G, or None for an unlabeled row,
* `NUMERIC` ("numeric"): `{"num_<name>": float}` for the numeric features present.
* `contract.IMAGE` as a `str` path / URI and `contract.IMAGE_BYTES` as encoded image
  `bytes` ("" / b"" when absent). Both are optional and never count as item text.
* every name in `contract.EMBEDDING_FEATURES` (`item_embedding`, `query_embedding`) as
  a list of floats, [] when absent: precomputed embeddings (the ItemEmbedder's, or
  `relevance embed-items`'), which a student with item embeddings reads.

`to_record` raises `RecordError` (with a `.reason` code) for a row that cannot be used;
`relevance.row_validation` adds the rules of the labeled and unlabeled inputs on top,
for ExampleGen and the input check alike.
"""

import base64
import binascii
import hashlib
import logging
import math
from typing import Dict, List, Mapping, Optional, Sequence

import tensorflow as tf

from relevance import contract
from relevance.errors import RecordError
from relevance.language import detect_language, normalise_language_code
from relevance.record_parsing import example_to_dict, parse_list_cell

logger = logging.getLogger(__name__)

NUMERIC = "numeric"

# Values that mean "no grade" in spreadsheets and JSON exports.
_MISSING_MARKERS = frozenset({"", "nan", "null", "none", "n/a", "na"})


def derive_query_id(query: str) -> str:
    """Return a stable query id from the query text: "q-" + 16 hex digits of SHA-1.

    The text is lower-cased, stripped and its inner whitespace collapsed first, so
    "Red  Shoes " and "red shoes" share one id.

    Example:
        >>> derive_query_id("Red  Shoes ") == derive_query_id("red shoes")
        True
    """
    normalised = " ".join(str(query).lower().split())
    return "q-" + hashlib.sha1(normalised.encode("utf-8")).hexdigest()[:16]


def to_record(
    fields: dict,
    num_grades: int = contract.DEFAULT_NUM_GRADES,
    numeric_features: Sequence[str] = (),
    detect_missing_language: bool = True,
    image_only_items: bool = False,
) -> dict:
    """Validate one row of raw fields and return the canonical record.

    Args:
        fields: column name -> raw value, as produced by `readers.read_rows`.
        num_grades: G; grades must lie in 1..G.
        numeric_features: `num_`-prefixed names to read as floats, in addition to any
            column whose name starts with `num_`. Missing or empty values are left out.
        detect_missing_language: detect `language` from the text when it is absent;
            when False an absent language stays "".
        image_only_items: accept an item with no text but with an image (`image` or
            `image_bytes`), for runs whose ImageCaptioner (`--caption-images`) writes its
            `image_caption`; the captioner quarantines it if it still has no text then.

    Raises:
        RecordError: reason is one of "missing_query", "missing_item_id",
            "missing_item_text", "bad_grade", "grade_out_of_range", "bad_numeric",
            "bad_embedding".

    Example:
        >>> to_record({"query": "lamp", "item_id": "i1", "title": "Desk lamp", "grade": "4",
        ...            "language": "EN"})["grade"]
        4
        >>> to_record({"query": "lamp", "item_id": "i2", "image": "lamp.png", "language": "en"},
        ...           image_only_items=True)["image"]
        'lamp.png'
    """
    record = {name: _as_text(fields.get(name)) for name in contract.SCALAR_STRING_FEATURES}
    for name in contract.LIST_STRING_FEATURES:
        record[name] = parse_list_cell(fields.get(name))

    if not record[contract.QUERY]:
        raise RecordError(
            "missing_query", f"the {contract.QUERY!r} field is empty or missing", contract.QUERY
        )
    if not record[contract.ITEM_ID]:
        raise RecordError(
            "missing_item_id",
            f"the {contract.ITEM_ID!r} field is empty or missing; every item needs an id",
            contract.ITEM_ID,
        )
    record[contract.IMAGE] = _as_text(fields.get(contract.IMAGE))
    record[contract.IMAGE_BYTES] = _parse_image_bytes(fields.get(contract.IMAGE_BYTES))
    _check_item_text(record, image_only_items)

    record[contract.GRADE] = _parse_grade(fields.get(contract.GRADE), num_grades)
    record[NUMERIC] = _parse_numeric(fields, numeric_features)
    for name in contract.EMBEDDING_FEATURES:
        record[name] = _parse_embedding(fields.get(name), name)

    if not record[contract.QUERY_ID]:
        record[contract.QUERY_ID] = derive_query_id(record[contract.QUERY])
    if record[contract.LANGUAGE]:
        record[contract.LANGUAGE] = normalise_language_code(record[contract.LANGUAGE])
    elif detect_missing_language:
        text = " ".join(
            record[name] for name in (contract.QUERY, "title", "description") if record[name]
        )
        record[contract.LANGUAGE] = detect_language(text)
    return record


def bytes_example(features: Mapping[str, Sequence[bytes]]) -> tf.train.Example:
    """A tf.Example of bytes features, name -> values in the mapping's order; a feature
    with no values still exists, with a known type (the one place Examples are built).

    Example:
        >>> bytes_example({"query": [b"lamp"], "board_titles": []}).features.feature[
        ...     "board_titles"].HasField("bytes_list")
        True
    """
    example = tf.train.Example()
    feature = example.features.feature
    for name, values in features.items():
        feature[name].bytes_list.value.extend(values)
    return example


def record_to_example(record: dict) -> tf.train.Example:
    """Serialize a canonical record as a `tf.train.Example`.

    Every scalar string feature is present (possibly b""); list features hold 0..n
    values; the grade is an int64 feature only when the record is labeled; numeric
    features are float features under their `num_` names.

    Example:
        >>> rec = to_record({"query": "lamp", "item_id": "i1", "title": "Desk lamp",
        ...                  "language": "en"})
        >>> ex = record_to_example(rec)
        >>> ex.features.feature["query"].bytes_list.value[0]
        b'lamp'
    """
    strings = {name: [record.get(name, "").encode("utf-8")]
               for name in contract.SCALAR_STRING_FEATURES}
    for name in contract.LIST_STRING_FEATURES:
        strings[name] = [value.encode("utf-8") for value in record.get(name, [])]
    example = bytes_example(strings)
    feature = example.features.feature
    if record.get(contract.GRADE) is not None:
        feature[contract.GRADE].int64_list.value.append(int(record[contract.GRADE]))
    for name, value in sorted(record.get(NUMERIC, {}).items()):
        feature[name].float_list.value.append(float(value))
    for name in contract.EMBEDDING_FEATURES:
        if record.get(name):
            feature[name].float_list.value.extend(record[name])
    if record.get(contract.IMAGE):
        feature[contract.IMAGE].bytes_list.value.append(record[contract.IMAGE].encode("utf-8"))
    if record.get(contract.IMAGE_BYTES):
        feature[contract.IMAGE_BYTES].bytes_list.value.append(record[contract.IMAGE_BYTES])
    return example


def example_to_record(example: tf.train.Example) -> dict:
    """Turn a `tf.train.Example` written by `record_to_example` back into a record.

    No validation is done; features outside the record contract are ignored.

    Example:
        >>> rec = to_record({"query": "lamp", "item_id": "i1", "title": "Desk lamp",
        ...                  "language": "en", "num_engagement_rate": "0.5"})
        >>> example_to_record(record_to_example(rec)) == rec
        True
    """
    fields = example_to_dict(example)
    record = {name: _as_text(fields.get(name)) for name in contract.SCALAR_STRING_FEATURES}
    for name in contract.LIST_STRING_FEATURES:
        record[name] = [str(value) for value in fields.get(name) or []]
    grade = fields.get(contract.GRADE)
    record[contract.GRADE] = int(grade) if isinstance(grade, int) else None
    # float_list is float32: values come back rounded to single precision.
    record[NUMERIC] = {
        name: float(value)
        for name, value in fields.items()
        if name.startswith(contract.NUMERIC_FEATURE_PREFIX) and isinstance(value, float)
    }
    record[contract.IMAGE] = _as_text(fields.get(contract.IMAGE))
    record[contract.IMAGE_BYTES] = _parse_image_bytes(fields.get(contract.IMAGE_BYTES))
    for name in contract.EMBEDDING_FEATURES:
        value = fields.get(name)
        record[name] = [float(v) for v in (value if isinstance(value, list) else [value])
                        if isinstance(v, float)] if value is not None else []
    return record


# ---------------------------------------------------------------- value parsing


def has_item_text(record: dict) -> bool:
    """Whether any item text field of a canonical record is non-empty."""
    return any(record[name] for name in contract.ITEM_TEXT_FIELDS)


def example_text_fields(example: tf.train.Example) -> List[str]:
    """The item text fields of a tf.Example with a non-blank value, in contract order
    (the Example counterpart of `has_item_text`).

    Example:
        >>> example = tf.train.Example()
        >>> example.features.feature["title"].bytes_list.value.append(b" ")
        >>> example.features.feature["board_titles"].bytes_list.value.append(b"Home")
        >>> example_text_fields(example)
        ['board_titles']
    """
    features = example.features.feature
    return [
        name
        for name in contract.ITEM_TEXT_FIELDS
        if name in features and any(value.strip() for value in features[name].bytes_list.value)
    ]


def _check_item_text(record: dict, image_only_items: bool) -> None:
    if has_item_text(record):
        return
    has_image = any(record[name] for name in contract.IMAGE_FIELDS)
    if has_image and image_only_items:
        return
    message = "the item has no text: fill at least one of " + ", ".join(contract.ITEM_TEXT_FIELDS)
    if has_image:
        # The usual cause on image catalogues: the caption that would be its text is off.
        message += (
            "; it has an image, so run with --caption-images to caption it into "
            "image_caption"
        )
    raise RecordError("missing_item_text", message)


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").strip()
    if isinstance(value, (list, tuple)):
        # A scalar field given as several values (e.g. a multi-valued tf.Example feature).
        return " ".join(part for part in (_as_text(v) for v in value) if part)
    return str(value).strip()


def _parse_embedding(value, name: str) -> List[float]:
    """A precomputed embedding: a list of finite numbers (JSON), or the same written as a
    JSON array or space-separated numbers in a CSV cell; [] when absent.

    Example:
        >>> _parse_embedding("[0.5, -1]", "item_embedding"), _parse_embedding(None, "x")
        ([0.5, -1.0], [])
    """
    if _is_missing(value):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            text = text[1:-1] if text.endswith("]") else text[1:]
        value = [part for part in text.replace(",", " ").split() if part]
    values = value if isinstance(value, (list, tuple)) else [value]
    try:
        numbers = [float(v) for v in values if not isinstance(v, bool)]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) != len(values) or not all(math.isfinite(n) for n in numbers):
        raise RecordError(
            "bad_embedding",
            f"{name} must be a list of finite numbers (e.g. [0.12, -0.03, ...]); got "
            f"{str(value)[:60]!r}",
            name,
        )
    return numbers


def _parse_image_bytes(value) -> bytes:
    """Encoded image bytes from a tf.Example (bytes) or CSV / JSONL (base64 text).

    Text that is not valid base64 is kept as its UTF-8 bytes rather than rejected: the
    image is then unreadable, which the ImageCaptioner counts without dropping the row.
    """
    if isinstance(value, (list, tuple)):
        value = value[0] if len(value) == 1 else b""
    if not value:
        return b""
    if isinstance(value, bytes):
        return value
    text = str(value).strip()
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode("utf-8")


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (list, tuple)):
        return len(value) == 0
    return isinstance(value, str) and value.strip().lower() in _MISSING_MARKERS


def _parse_grade(value, num_grades: int) -> Optional[int]:
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if _is_missing(value):
        return None
    grade = _as_integer(value)
    if grade is None:
        raise RecordError(
            "bad_grade",
            f"grade {value!r} is not an integer; use a whole number from 1 to {num_grades} "
            "or leave it empty for an unlabeled row",
            contract.GRADE,
        )
    if not 1 <= grade <= num_grades:
        if grade < 1:
            hint = "grades start at 1 (1 = highly irrelevant); shift a 0-based scale up by one"
        else:
            hint = f"if your scale really has {grade} or more levels, pass --num-grades {grade}"
        raise RecordError(
            "grade_out_of_range",
            f"grade {grade} is outside the allowed range 1..{num_grades} "
            f"({num_grades} = highly relevant); {hint}",
            contract.GRADE,
        )
    return grade


def _as_integer(value) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    if not math.isfinite(number) or not number.is_integer():
        return None
    return int(number)


def _parse_numeric(fields: dict, numeric_features: Sequence[str]) -> Dict[str, float]:
    for name in numeric_features:
        if not name.startswith(contract.NUMERIC_FEATURE_PREFIX):
            raise ValueError(
                f"numeric feature {name!r} must start with {contract.NUMERIC_FEATURE_PREFIX!r}"
            )
    names = list(numeric_features) + [
        name
        for name in fields
        if isinstance(name, str)
        and name.startswith(contract.NUMERIC_FEATURE_PREFIX)
        and name not in numeric_features
    ]
    numeric = {}
    for name in names:
        value = fields.get(name)
        if isinstance(value, (list, tuple)) and len(value) == 1:
            value = value[0]
        if _is_missing(value):
            continue
        number = None
        if not isinstance(value, (bool, list, tuple, dict)):
            try:
                number = float(str(value).strip())
            except ValueError:
                number = None
        if number is None or not math.isfinite(number):
            raise RecordError(
                "bad_numeric",
                f"numeric feature {name!r} has value {value!r}, which is not a finite number",
                name,
            )
        numeric[name] = number
    return numeric

