"""The text the teacher reads: a query segment and an item segment, built in TF ops.

The builder runs inside the exported SavedModel on the raw feature dict (see
`models.export`), so serving and training share one definition of the item text. The
item segment lists the chosen fields in contract order, each behind a marker
("title: ...", "caption: ..."), cut to a per-field word budget; list fields are split on
`contract.LIST_SEPARATOR`, deduplicated and capped; empty fields are left out. The
preset's preprocessor then tokenizes both segments and packs them with its own
separator ([SEP] or </s></s>).

With `mark_query_matches`, every item word that also occurs in the query (compared
after the normalisation above, ignoring punctuation at either end of a word) gets
MATCH_MARKER appended: "title: red⟧ running shoes⟧" for the query "red shoes". This
exact-match signal (cf. DrQA) does not depend on the language and spares a small
cross-encoder from discovering query / item word matching through attention alone.
The marker follows the word so the word's own pieces stay unchanged; the default
vocabulary keeps it a single piece.
"""

import re
from typing import Dict, Mapping, Optional, Sequence, Tuple

import tensorflow as tf

from relevance import contract

FIELD_MARKERS = {
    "title": "title",
    "description": "description",
    "image_caption": "caption",
    "link_title": "link title",
    "link_description": "link description",
    "engaged_queries": "searches",
    "board_titles": "boards",
}
FIELD_SEPARATOR = " | "
LIST_ENTRY_SEPARATOR = "; "
DEFAULT_FIELD_BUDGET = 16
# Scripts written without spaces (Chinese, Japanese, Thai) make one "word" out of a whole
# sentence; a character cap keeps such a field within its budget too.
MAX_CHARS_PER_WORD = 8
# Entries looked at before deduplication: bounds the pairwise comparison below.
LIST_ENTRIES_SCANNED_PER_KEPT = 4
MATCH_MARKER = "\u27e7"  # ⟧


def _clean(text: tf.Tensor, lowercase: bool) -> tf.Tensor:
    # Invalid UTF-8 would make the Unicode-aware ops below fail at serving time.
    text = tf.strings.unicode_transcode(
        text, "UTF-8", "UTF-8", errors="replace", replace_control_characters=False
    )
    if lowercase:
        text = tf.strings.lower(text, encoding="utf-8")
    return text


def normalize_whitespace(text: tf.Tensor) -> tf.Tensor:
    """Single spaces between words, none at the ends (Unicode spaces included)."""
    return tf.strings.strip(tf.strings.regex_replace(text, r"[\s\p{Z}]+", " "))


def truncate_words(text: tf.Tensor, budget: int) -> tf.Tensor:
    """Keeps the first `budget` whitespace-separated words, single-spaced.

    Regular expressions instead of split / join: ragged string ops make the serving
    graph (and its tracing) many times larger.

    Args:
        text: string tensor of any shape, valid UTF-8.
        budget: number of words kept (also caps characters at MAX_CHARS_PER_WORD each).
    """
    text = normalize_whitespace(text)
    if budget <= 0:
        return tf.fill(tf.shape(text), "")
    kept = tf.strings.regex_replace(
        text, r"^((?:[^ ]+ ){%d}[^ ]+) .*$" % (budget - 1), r"\1"
    )
    return tf.strings.substr(kept, 0, budget * MAX_CHARS_PER_WORD, unit="UTF8_CHAR")


def _join_non_empty_columns(parts: tf.Tensor, separator: str) -> tf.Tensor:
    """Joins the non-empty strings of each row of a dense [N, K] tensor."""
    parts = tf.where(tf.equal(parts, ""), "", parts + separator)
    joined = tf.strings.reduce_join(parts, axis=1)
    return tf.strings.regex_replace(joined, "%s$" % re.escape(separator), "")


def dedup_list_entries(entries: tf.Tensor, max_entries: int) -> tf.Tensor:
    """Blanks empty entries, repeats of an earlier entry in the same row, and entries
    beyond the first `max_entries` distinct ones.

    Args:
        entries: dense string tensor [N, E] of normalised entries ("" = none).
        max_entries: distinct entries kept per row.
    """
    valid = tf.not_equal(entries, "")
    same = tf.equal(entries[:, :, None], entries[:, None, :])
    width = tf.shape(entries)[1]
    # earlier[i, j]: entry j comes before entry i.
    earlier = tf.cast(
        tf.linalg.band_part(tf.ones([width, width]), -1, 0) - tf.eye(width), tf.bool
    )
    repeated = tf.reduce_any(tf.logical_and(same, earlier[None, :, :]), axis=-1)
    keep = tf.logical_and(valid, tf.logical_not(repeated))
    keep = tf.logical_and(keep, tf.cumsum(tf.cast(keep, tf.int32), axis=1) <= max_entries)
    return tf.where(keep, entries, "")


def _words(text: tf.Tensor, max_words: int) -> tf.Tensor:
    """Dense [N, max_words] words of single-spaced `text` ("" = none)."""
    words = tf.strings.split(text, sep=" ").to_tensor("")
    words = words[:, :max_words]
    return tf.pad(words, [[0, 0], [0, max_words - tf.shape(words)[1]]], constant_values="")


def _strip_punctuation(words: tf.Tensor) -> tf.Tensor:
    return tf.strings.regex_replace(words, r"^[\pP\pS]+|[\pP\pS]+$", "")


def match_keys(text: tf.Tensor, max_words: int) -> tf.Tensor:
    """Dense [N, max_words] words of `text` [N] without punctuation at their ends."""
    return _strip_punctuation(_words(text, max_words))


def mark_query_matches(item: tf.Tensor, query_keys: tf.Tensor, max_item_words: int) -> tf.Tensor:
    """Appends MATCH_MARKER to the words of `item` [N] whose key is in `query_keys`.

    `item` is single-spaced, normalised text of at most `max_item_words` words (a field
    budget) and `query_keys` comes from `match_keys` on the query segment, so the dense
    [N, item words, query words] comparison stays small.
    """
    item_words = _words(item, max_item_words)
    item_keys = _strip_punctuation(item_words)
    same = tf.equal(item_keys[:, :, None], query_keys[:, None, :])
    matched = tf.logical_and(tf.reduce_any(same, axis=-1), tf.not_equal(item_keys, ""))
    marked = tf.where(matched, item_words + MATCH_MARKER, item_words)
    return normalize_whitespace(tf.strings.reduce_join(marked, axis=1, separator=" "))


class ItemTextBuilder:
    """Builds (query segment, item segment) string vectors from a raw feature dict.

    Args:
        fields: item fields to use, in any order (output follows contract order).
        field_budgets: word budget per field; fields not listed get 16 words.
        query_budget: word budget for the query.
        max_list_entries: entries kept per list field after deduplication.
        lowercase: lower-case all text (the default vocabulary is lower-cased).
        mark_query_matches: append MATCH_MARKER to item words found in the query.

    Example:

    >>> import tensorflow as tf
    >>> builder = ItemTextBuilder(fields=("title", "board_titles"),
    ...                           field_budgets={"title": 2})
    >>> raw = {"query": tf.constant(["Red Shoes"]),
    ...        "title": tf.constant(["Bright red running shoes"]),
    ...        "board_titles": tf.constant(["Shoes\\nshoes\\n\\nOutfits"])}
    >>> query, item = builder(raw)
    >>> query.numpy()[0].decode(), item.numpy()[0].decode()
    ('red shoes', 'title: bright red | boards: shoes; outfits')
    """

    def __init__(
        self,
        fields: Sequence[str] = contract.ITEM_TEXT_FIELDS,
        field_budgets: Optional[Mapping[str, int]] = None,
        query_budget: int = 24,
        max_list_entries: int = 8,
        lowercase: bool = True,
        mark_query_matches: bool = False,
    ):
        unknown = [f for f in fields if f not in contract.ITEM_TEXT_FIELDS]
        if unknown:
            raise ValueError(f"unknown item fields: {unknown}")
        if not fields:
            raise ValueError("the teacher needs at least one item field")
        self.fields = tuple(f for f in contract.ITEM_TEXT_FIELDS if f in fields)
        budgets = dict(field_budgets or {})
        self.field_budgets = {f: int(budgets.get(f, DEFAULT_FIELD_BUDGET)) for f in self.fields}
        self.query_budget = int(query_budget)
        self.max_list_entries = int(max_list_entries)
        self.lowercase = bool(lowercase)
        self.mark_query_matches = bool(mark_query_matches)

    @classmethod
    def from_config(cls, config, mark_query_matches: Optional[bool] = None
                    ) -> "ItemTextBuilder":
        """From a `TeacherConfig` (`mark_query_matches` overrides the config's)."""
        if mark_query_matches is None:
            mark_query_matches = config.marks_query_matches()
        return cls(
            fields=config.fields,
            field_budgets=config.field_budgets,
            query_budget=config.query_budget,
            max_list_entries=config.max_list_entries,
            lowercase=config.lowercase,
            mark_query_matches=mark_query_matches,
        )

    def _list_field_text(self, text: tf.Tensor) -> tf.Tensor:
        entries = tf.strings.split(text, sep=contract.LIST_SEPARATOR).to_tensor("")
        entries = entries[:, : self.max_list_entries * LIST_ENTRIES_SCANNED_PER_KEPT]
        # Whitespace inside an entry is normalised so "a  b" and "a b" count as one.
        entries = dedup_list_entries(normalize_whitespace(entries), self.max_list_entries)
        return _join_non_empty_columns(entries, LIST_ENTRY_SEPARATOR)

    def item_segment(self, raw: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """The item segment [N]; fields absent from `raw` count as empty."""
        num_items = tf.shape(raw[contract.QUERY])[0]
        query_keys = None
        if self.mark_query_matches:
            query_keys = match_keys(self.query_segment(raw), self.query_budget)
        parts = []
        for field in self.fields:
            text = raw.get(field)
            if text is None:
                text = tf.fill([num_items], "")
            text = _clean(tf.reshape(text, [-1]), self.lowercase)
            if field in contract.ITEM_LIST_TEXT_FIELDS:
                text = self._list_field_text(text)
            text = truncate_words(text, self.field_budgets[field])
            if query_keys is not None:
                text = mark_query_matches(text, query_keys, self.field_budgets[field])
            marked = tf.strings.join([FIELD_MARKERS[field] + ": ", text])
            parts.append(tf.where(tf.equal(text, ""), "", marked))
        return _join_non_empty_columns(tf.stack(parts, axis=1), FIELD_SEPARATOR)

    def query_segment(self, raw: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """The query segment [N]."""
        query = _clean(tf.reshape(raw[contract.QUERY], [-1]), self.lowercase)
        return truncate_words(query, self.query_budget)

    def __call__(self, raw: Dict[str, tf.Tensor]) -> Tuple[tf.Tensor, tf.Tensor]:
        return self.query_segment(raw), self.item_segment(raw)
