"""Core-TensorFlow text features shared by the Transform graph and the student model.

Everything here uses only ops that ship with stock TensorFlow (no tensorflow_text, no
keras-hub), because the Transform graph ends up inside the student's serving SavedModel
and that must load in any TF Serving build.

The functions work on a `[B]` string batch and return fixed-width dense tensors, so the
Transform outputs are dense `FixedLenFeature`s the model can read without padding logic.

Example:

>>> import tensorflow as tf
>>> tokenize(tf.constant(["Red SHOES, size 42!", "東京タワー"])).to_list()
[[b'red', b'shoes', b'size', b'42'], [b'\\xe6\\x9d\\xb1', b'\\xe4\\xba\\xac', \
b'\\xe3\\x82\\xbf', b'\\xe3\\x83\\xaf', b'\\xe3\\x83\\xbc']]
"""

import tensorflow as tf

from relevance import contract

# --- Output feature names of the Transform graph (the student's model inputs). ---
QUERY_WORD_IDS = "query_word_ids"
QUERY_CHAR_IDS = "query_char_ids"
ITEM_WORD_IDS = "item_word_ids"
ITEM_CHAR_IDS = "item_char_ids"
BM25 = "bm25"
QUERY_TERM_COVERAGE = "query_term_coverage"
QUERY_LENGTH = "query_length"
QUERY_CORPUS_WORD_IDS = "query_corpus_word_ids"
QUERY_VECTOR_WORD_IDS = "query_vector_word_ids"
ITEM_VECTOR_WORD_IDS = "item_vector_word_ids"
# BM25 idf of each query token, in the query-token slots (0 for padding): it weighs the
# word-vector soft match as idf weighs BM25's exact one.
QUERY_TERM_IDF = "query_term_idf"

# BM25 / coverage columns: one per item text field, plus all item text together.
ALL_ITEM_TEXT = "all_item_text"
LEXICAL_FIELDS = contract.ITEM_TEXT_FIELDS + (ALL_ITEM_TEXT,)
NUM_LEXICAL_FIELDS = len(LEXICAL_FIELDS)

# Document frequency ("<df> <token>" lines) of item-text tokens, for BM25's idf.
DOCUMENT_FREQUENCY_VOCABULARY = "item_document_frequency"
DOCUMENT_FREQUENCY_TOP_K = 500000

# Vocabulary the teacher learns its subword vocabulary from and the student's word
# vectors are distilled for ("<count> <word>" lines, most frequent first). The cap
# bounds the word-vector table (trainer.student.word_vectors.table_megabytes).
CORPUS_WORD_COUNTS_VOCABULARY = "corpus_word_counts"
CORPUS_WORD_COUNTS_TOP_K = 200_000

# Fixed widths; longer inputs are truncated, shorter ones padded with id 0.
MAX_QUERY_TOKENS = 16
MAX_QUERY_WORD_NGRAMS = 32
MAX_QUERY_CHAR_NGRAMS = 64
MAX_ITEM_WORD_NGRAMS = 64
MAX_ITEM_CHAR_NGRAMS = 64
# Item words (fields in embedding order) looked up in the word-vector table.
MAX_ITEM_VECTOR_WORDS = 64
# BM25 term frequencies are counted in a field's first tokens only: a bound on what one
# huge field may cost a request (field length still counts all tokens). At 32 it cut 59%
# of XQuAD-R's Chinese sentences (one token per character) and 27% of its English ones.
MAX_FIELD_TOKENS_FOR_MATCHING = 256

# Hash spaces. Id 0 is reserved for padding, so ids are in [1, buckets].
WORD_HASH_BUCKETS = 2**17
CHAR_HASH_BUCKETS = 2**16

# Item fields whose words feed the item embedding, most informative first so that
# truncation drops the long description tail rather than the title.
ITEM_EMBEDDING_FIELDS = (
    "title",
    "link_title",
    "image_caption",
    "board_titles",
    "engaged_queries",
    "description",
    "link_description",
)

# One regex pass: CJK characters are isolated (" \1 "), punctuation and symbols become
# spaces (the unmatched group rewrites to "").
_NORMALIZE_PATTERN = (
    r"([\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}])"  # scripts written without spaces
    r"|[\p{P}\p{S}]"  # punctuation and symbols
)
_ASCII_PUNCTUATION = r"[!-/:-@\[-`{-~]+"  # every printable ASCII non-alphanumeric
# Token separators: Python's `str.split()` whitespace (as `tf.strings.split` uses) and the
# characters `_ASCII_PUNCTUATION` matches.
_SPLIT_CHARACTERS = " \t\n\v\f\r" + "".join(
    chr(code) for code in range(33, 127) if not chr(code).isalnum()
)
_WORD_BOUNDARY = "#"
# Token fingerprints: Fingerprint64 mod 2**62. Since 2**17 and 2**16 divide 2**62,
# `fingerprint % buckets` equals `to_hash_bucket_fast(token, buckets)`.
_LARGE_HASH_SPACE = 2**62
# Padding value of fingerprints (real fingerprints are >= 0).
NO_TOKEN = -1
# N-gram hashing mixes 64-bit keys with a multiply / xor-shift in uint64 (wrap-around
# arithmetic is well defined there) and keeps the top bits: a handful of cheap
# element-wise ops, no string building and no integer division.
_MIX_MULTIPLIER = 0x9E3779B97F4A7C15  # 2**64 / golden ratio, odd
_PAIR_MULTIPLIER = 0xC2B2AE3D27D4EB4F  # odd
_CODE_POINT_BITS = 21  # Unicode code points are < 2**21
# Character n-grams read at most this many bytes of a text (keeps long inputs bounded).
_MAX_CHAR_NGRAM_BYTES_PER_SLOT = 4
# 0x8080808080808080 as an int64: the top bit of each of 8 packed bytes.
_HIGH_BIT_OF_EACH_BYTE = 0x8080808080808080 - 2**64
_ASCII_SPACE = 32


def to_string_vector(feature) -> tf.Tensor:
    """Any string feature (Sparse/Ragged [B, n], dense [B] or [B, 1]) to `[B]` strings.

    Multiple values in a row (list fields) are joined with `contract.LIST_SEPARATOR`,
    which tokenisation treats as whitespace.
    """
    if isinstance(feature, tf.SparseTensor):
        # One op, values joined in row-major order (no ragged round trip).
        return tf.strings.unsorted_segment_join(
            feature.values,
            feature.indices[:, 0],
            feature.dense_shape[0],
            separator=contract.LIST_SEPARATOR,
        )
    if isinstance(feature, tf.RaggedTensor):
        return tf.strings.reduce_join(feature, axis=1, separator=contract.LIST_SEPARATOR)
    feature = tf.convert_to_tensor(feature)
    if feature.shape.rank == 2:
        return tf.strings.reduce_join(feature, axis=1, separator=contract.LIST_SEPARATOR)
    return feature


def row_major_texts(features) -> tf.Tensor:
    """F string features of B rows to `[B * F]` strings: row 0's F texts, then row 1's...

    Each text is `to_string_vector` of its feature. When every feature is a
    `SparseTensor` (the Transform's VarLen inputs), all of them are joined by a single
    `UnsortedSegmentJoin` into their (row, field) slots, instead of one join per field
    and a stack.
    """
    num_fields = len(features)
    if not all(isinstance(feature, tf.SparseTensor) for feature in features):
        return tf.reshape(tf.stack([to_string_vector(f) for f in features], axis=1), [-1])
    slots = [
        feature.indices[:, 0] * num_fields + field for field, feature in enumerate(features)
    ]
    return tf.strings.unsorted_segment_join(
        tf.concat([feature.values for feature in features], axis=0),
        tf.concat(slots, axis=0),
        features[0].dense_shape[0] * num_fields,
        separator=contract.LIST_SEPARATOR,
    )


def fold_case(text: tf.Tensor) -> tf.Tensor:
    """Lower-cases; texts with non-ASCII characters also get the Unicode normalisation.

    ASCII punctuation is left in place: `split_tokens` splits on it, and
    `normalize_text` replaces it by spaces. Texts with non-ASCII characters are
    lower-cased with Unicode case tables, every punctuation/symbol character becomes a
    space and CJK characters are isolated (`_NORMALIZE_PATTERN`).
    """
    # Most text is pure ASCII: lower-case it bytewise. The Unicode-aware path (slower:
    # case tables, Unicode classes, CJK isolation) runs on the other strings only. Both
    # give the same tokens on ASCII text.
    lowered = tf.strings.lower(text)
    not_ascii = tf.where(
        tf.not_equal(tf.strings.length(text, unit="UTF8_CHAR"), tf.strings.length(text))
    )

    def with_unicode_path():
        unicode_text = tf.strings.lower(tf.gather_nd(text, not_ascii), encoding="utf-8")
        return tf.tensor_scatter_nd_update(
            lowered,
            not_ascii,
            tf.strings.regex_replace(unicode_text, _NORMALIZE_PATTERN, r" \1 "),
        )

    # The scatter copies every string: skip it for all-ASCII batches (the usual case).
    return tf.cond(tf.size(not_ascii) > 0, with_unicode_path, lambda: lowered)


def normalize_text(text: tf.Tensor) -> tf.Tensor:
    """Lower-cases, replaces punctuation/symbols by spaces, isolates CJK characters.

    Equal to `remove_ascii_punctuation(fold_case(text))`.
    """
    return remove_ascii_punctuation(fold_case(text))


def remove_ascii_punctuation(folded: tf.Tensor) -> tf.Tensor:
    """`fold_case` output to `normalize_text` output: ASCII punctuation runs become a space.

    (Every printable ASCII non-alphanumeric is \\p{P} or \\p{S}, so the Unicode path of
    `fold_case` has already replaced them in non-ASCII texts.)
    """
    return tf.strings.regex_replace(folded, _ASCII_PUNCTUATION, " ")


def split_tokens(text: tf.Tensor) -> tf.RaggedTensor:
    """`fold_case` (or `normalize_text`) `[B]` strings to ragged `[B, None]` tokens.

    Splits on whitespace and on ASCII punctuation (`_SPLIT_CHARACTERS`), dropping empty
    tokens, with the `StringSplit` op: on `fold_case` output this gives the tokens of
    `normalize_text` split on whitespace, without the punctuation regex pass over all
    the text (the regex and the split were the two costliest serving ops).
    """
    parts = tf.raw_ops.StringSplit(input=text, delimiter=_SPLIT_CHARACTERS, skip_empty=True)
    return tf.RaggedTensor.from_value_rowids(
        parts.values,
        parts.indices[:, 0],
        nrows=tf.shape(text, out_type=tf.int64)[0],
        validate=False,  # StringSplit emits row-sorted indices
    )


def tokenize(text: tf.Tensor) -> tf.RaggedTensor:
    """`[B]` strings to ragged `[B, None]` normalised tokens."""
    return split_tokens(fold_case(text))


def dense_tokens(tokens: tf.RaggedTensor, width: int) -> tf.Tensor:
    """Truncates / pads ragged tokens to dense `[B, width]` strings, "" = padding."""
    return tokens.to_tensor(default_value="", shape=[None, width])


def fingerprints(tokens):
    """62-bit token fingerprints (int64 >= 0), computed once per token.

    They serve both exact term matching (BM25) and hashed word ids (`word_ngram_ids`).
    Works on dense tensors and on the flat values of ragged tokens alike.
    """
    return tf.strings.to_hash_bucket_fast(tokens, _LARGE_HASH_SPACE)


def padded_fingerprints(tokens: tf.Tensor) -> tf.Tensor:
    """Dense string tokens to fingerprints, `NO_TOKEN` where the token is "" (padding)."""
    return tf.where(tokens == "", tf.constant(NO_TOKEN, tf.int64), fingerprints(tokens))


def _mix_to_buckets(keys: tf.Tensor, num_buckets: int) -> tf.Tensor:
    """uint64 keys to int64 ids in [1, num_buckets] (a power of two), multiplicative hashing."""
    bits = num_buckets.bit_length() - 1
    assert num_buckets == 1 << bits, num_buckets
    mixed = keys * tf.constant(_MIX_MULTIPLIER, tf.uint64)
    mixed = tf.bitwise.bitwise_xor(mixed, tf.bitwise.right_shift(mixed, tf.constant(29, tf.uint64)))
    mixed = mixed * tf.constant(_MIX_MULTIPLIER, tf.uint64)
    top = tf.bitwise.right_shift(mixed, tf.constant(64 - bits, tf.uint64))
    return tf.bitcast(top, tf.int64) + 1


def _pad_or_truncate(ids: tf.Tensor, width: int) -> tf.Tensor:
    ids = ids[:, :width]
    return tf.pad(ids, [[0, 0], [0, width - tf.shape(ids)[1]]])


def word_ngram_ids(token_fingerprints: tf.Tensor, width: int) -> tf.Tensor:
    """Hashed unigrams then bigrams, `[B, width]` int64 ids in [0, WORD_HASH_BUCKETS].

    Args:
        token_fingerprints: `[B, W]` from `fingerprints`, `NO_TOKEN` = padding (which
            only follows real tokens).

    Unigram ids are `to_hash_bucket_fast(token, WORD_HASH_BUCKETS) + 1`; bigram ids
    hash the pair of fingerprints into the same space. Padding gives id 0.
    """
    tokens = token_fingerprints[:, : (width + 1) // 2]  # so that unigrams and bigrams both fit
    present = tokens >= 0
    # fingerprint % buckets == to_hash_bucket_fast(token, buckets) (buckets divide 2**62).
    unigrams = tf.where(present, tf.bitwise.bitwise_and(tokens, WORD_HASH_BUCKETS - 1) + 1, 0)
    left, right = tokens[:, :-1], tokens[:, 1:]
    # Order-sensitive pair key (wrap-around uint64 arithmetic).
    pair = tf.bitcast(left, tf.uint64) * tf.constant(_PAIR_MULTIPLIER, tf.uint64) + tf.bitcast(
        right, tf.uint64
    )
    bigrams = tf.where(
        tf.logical_and(present[:, :-1], present[:, 1:]),
        _mix_to_buckets(pair, WORD_HASH_BUCKETS),
        0,
    )
    num_tokens = tokens.shape[1]
    if num_tokens is None:
        return tf.reshape(_pad_or_truncate(tf.concat([unigrams, bigrams], 1), width), [-1, width])
    # 2 * num_tokens - 1 <= width ids: zero columns fill the rest in the same concat
    # (cheaper than a Pad of the concatenated ids).
    padding = tf.zeros([tf.shape(tokens)[0], width - (2 * num_tokens - 1)], tf.int64)
    return tf.concat([unigrams, bigrams, padding], 1)


def char_ngram_ids(normalized: tf.Tensor, width: int) -> tf.Tensor:
    """Hashed character trigrams of each '#word#' (robust to typos/inflection).

    Args:
        normalized: `[B]` strings from `normalize_text`; whitespace separates words.
        width: number of trigram slots.

    Returns:
        `[B, width]` int64 ids in [0, CHAR_HASH_BUCKETS], 0 = padding; a word of n
        characters gives n trigrams, in text order.

    Works on Unicode code points (no per-character strings): the text with a boundary
    on each side is decoded once, and the trigrams whose middle character is a word
    boundary (they would span two words) are dropped.
    """
    # A word of n characters gives n trigrams: this many bytes fill the slots.
    max_bytes = width * _MAX_CHAR_NGRAM_BYTES_PER_SLOT
    assert max_bytes % 8 == 0, width  # the ASCII test reads the bytes as int64 words
    text = tf.strings.substr(normalized, 0, max_bytes)
    # Bytes are code points when every text is ASCII (the usual batch): reading them
    # raw is many times cheaper than UnicodeDecode. Padding bytes (0) are boundaries,
    # like the padding spaces of the Unicode path, so both paths give the same ids.
    raw_bytes = tf.io.decode_raw(text, tf.uint8, fixed_length=max_bytes)
    longest = tf.reduce_max(tf.strings.length(text))
    # All bytes < 128, tested 8 bytes at a time (a max over the uint8 bytes measured
    # about 4x slower than this).
    high_bits = tf.bitwise.bitwise_and(
        tf.bitcast(tf.reshape(raw_bytes, [-1, 8]), tf.int64),
        tf.constant(_HIGH_BIT_OF_EACH_BYTE, tf.int64),
    )
    code_points = tf.cond(
        tf.reduce_all(tf.equal(high_bits, 0)),
        lambda: tf.cast(raw_bytes[:, :longest], tf.int32),
        lambda: tf.strings.unicode_decode(
            text, "UTF-8", errors="replace", replacement_char=_ASCII_SPACE
        ).to_tensor(default_value=_ASCII_SPACE),
    )
    code_points = tf.pad(code_points, [[0, 0], [1, 2]], constant_values=_ASCII_SPACE)
    is_boundary = code_points <= _ASCII_SPACE  # spaces, tabs, newlines and padding
    codes = tf.where(
        is_boundary, tf.constant(ord(_WORD_BOUNDARY), tf.int64), tf.cast(code_points, tf.int64)
    )
    # The three code points packed into one exact 63-bit key, then hashed.
    keys = tf.bitwise.bitwise_or(
        tf.bitwise.bitwise_or(
            tf.bitwise.left_shift(codes[:, :-2], tf.constant(2 * _CODE_POINT_BITS, tf.int64)),
            tf.bitwise.left_shift(codes[:, 1:-1], tf.constant(_CODE_POINT_BITS, tf.int64)),
        ),
        codes[:, 2:],
    )
    ids = _mix_to_buckets(tf.bitcast(keys, tf.uint64), CHAR_HASH_BUCKETS)
    within_word = tf.logical_not(is_boundary[:, 1:-1])
    return tf.ragged.boolean_mask(ids, within_word).to_tensor(
        default_value=0, shape=[None, width]
    )
