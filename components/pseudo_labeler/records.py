"""Canonical tf.Example rows as they flow through the pseudo-labeler.

A `Candidate` carries the serialized input example untouched plus the few fields
selection needs; the teacher's distribution is attached after inference and written
back into the example only for rows that are kept.

Example:

>>> import tensorflow as tf
>>> example = tf.train.Example()
>>> for name, value in [("query_id", b"q1"), ("item_id", b"i1"), ("language", b"en")]:
...     example.features.feature[name].bytes_list.value.append(value)
>>> candidate = parse_candidate(example.SerializeToString())
>>> candidate.query_id, candidate.language
(b'q1', 'en')
>>> labeled = candidate._replace(probabilities=(0.1, 0.9))
>>> out = tf.train.Example.FromString(to_output_example(labeled, "pseudo", "teacher/1"))
>>> list(out.features.feature["soft_label"].float_list.value)
[0.10000000149011612, 0.8999999761581421]
"""

from typing import NamedTuple, Optional, Tuple

import tensorflow as tf

from components.pseudo_labeler import ranking
from relevance import contract
from relevance.records import example_text_fields

# Language bucket for rows without a usable language (BCP-47 "undetermined").
UNKNOWN_LANGUAGE = "und"

FIELDS_PRESENT = contract.FIELDS_PRESENT
REFERENCE_GRADE = contract.REFERENCE_GRADE

# Features this component writes; an input that already has them would be ambiguous.
TEACHER_FEATURES = (
    contract.SOFT_LABEL,
    contract.TEACHER_SCORE,
    contract.TEACHER_CONFIDENCE,
    contract.TEACHER_MODEL,
    contract.LABEL_SOURCE,
    FIELDS_PRESENT,
    REFERENCE_GRADE,
)


class UnparseableExampleError(ValueError):
    """A record that is not a canonical tf.Example with query_id and item_id."""


class Candidate(NamedTuple):
    """One (query, item) row; `probabilities` is None until the teacher has run."""

    pair: bytes
    query_id: bytes
    language: str
    serialized: bytes
    probabilities: Optional[Tuple[float, ...]] = None
    # UTF-8 bytes of the query and item text: the length bucket the teacher batches by.
    text_bytes: int = 0

    @property
    def confidence(self) -> float:
        return max(self.probabilities)

    @property
    def rank_key(self) -> ranking.RankKey:
        return ranking.rank_key(self.confidence, self.pair, self.serialized)


def _single_bytes(example: tf.train.Example, name: str) -> bytes:
    feature = example.features.feature.get(name)
    if feature is None or feature.WhichOneof("kind") != "bytes_list":
        return b""
    values = feature.bytes_list.value
    return values[0] if len(values) == 1 else b""


def parse_candidate(serialized: bytes) -> Candidate:
    """Reads the selection fields; raises UnparseableExampleError on a bad record."""
    try:
        example = tf.train.Example.FromString(serialized)
    except Exception as error:  # protobuf raises DecodeError and friends
        raise UnparseableExampleError(f"not a tf.Example: {error}") from error
    query_id = _single_bytes(example, contract.QUERY_ID)
    item_id = _single_bytes(example, contract.ITEM_ID)
    if not query_id or not item_id:
        raise UnparseableExampleError("query_id and item_id must be single non-empty strings")
    language = _single_bytes(example, contract.LANGUAGE).decode("utf-8", "replace")
    features = example.features.feature
    text_bytes = sum(len(value) for name in (contract.QUERY,) + contract.ITEM_TEXT_FIELDS
                     if name in features for value in features[name].bytes_list.value)
    return Candidate(
        pair=ranking.pair_key(query_id, item_id),
        query_id=query_id,
        language=language or UNKNOWN_LANGUAGE,
        serialized=serialized,
        text_bytes=text_bytes,
    )


def fields_present(example: tf.train.Example) -> str:
    """The non-empty item text fields joined by "+" in contract order, or "none".

    Example:
    >>> example = tf.train.Example()
    >>> example.features.feature["title"].bytes_list.value.append(b"Lamp")
    >>> example.features.feature["board_titles"].bytes_list.value.append(b"Home")
    >>> fields_present(example)
    'title+board_titles'
    """
    return "+".join(example_text_fields(example)) or "none"


def _reference_grade(example: tf.train.Example, probabilities) -> int:
    grade = example.features.feature.get(contract.GRADE)
    if grade is not None and grade.int64_list.value:
        return int(grade.int64_list.value[0])
    return max(range(len(probabilities)), key=lambda k: probabilities[k]) + 1


def order_key(record: bytes) -> bytes:
    """The bytes that place an output record in its shard: the record without the
    teacher's identity, which is a path, so that the row order (and with it the order
    a trainer reads the rows in) is the same wherever the pipeline runs. Records that
    do not parse (quarantined input) are their own key.

    >>> example = tf.train.Example()
    >>> example.features.feature[contract.TEACHER_MODEL].bytes_list.value.append(b"/a/1")
    >>> other = tf.train.Example()
    >>> other.features.feature[contract.TEACHER_MODEL].bytes_list.value.append(b"/b/1")
    >>> order_key(example.SerializeToString()) == order_key(other.SerializeToString())
    True
    """
    try:
        example = tf.train.Example.FromString(record)
    except Exception:  # noqa: BLE001 - protobuf raises DecodeError and friends
        return record
    example.features.feature.pop(contract.TEACHER_MODEL, None)
    return example.SerializeToString(deterministic=True)


def to_output_example(candidate: Candidate, label_source: str, teacher_model: str) -> bytes:
    """The input example unchanged plus the teacher and evaluation features."""
    example = tf.train.Example.FromString(candidate.serialized)
    features = example.features.feature
    for name in TEACHER_FEATURES:
        # A re-labeled corpus fed back in must not keep a stale teacher's labels.
        features.pop(name, None)
    probabilities = list(candidate.probabilities)
    grades = range(1, len(probabilities) + 1)
    features[contract.SOFT_LABEL].float_list.value.extend(probabilities)
    features[contract.TEACHER_SCORE].float_list.value.append(
        sum(p * g for p, g in zip(probabilities, grades))
    )
    features[contract.TEACHER_CONFIDENCE].float_list.value.append(candidate.confidence)
    features[contract.TEACHER_MODEL].bytes_list.value.append(teacher_model.encode("utf-8"))
    features[contract.LABEL_SOURCE].bytes_list.value.append(label_source.encode("utf-8"))
    features[FIELDS_PRESENT].bytes_list.value.append(fields_present(example).encode("utf-8"))
    features[REFERENCE_GRADE].int64_list.value.append(_reference_grade(example, probabilities))
    # Map fields serialize in arbitrary order unless asked; re-runs must be byte-identical.
    return example.SerializeToString(deterministic=True)
