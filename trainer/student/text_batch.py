"""What every student feature's Transform computation starts from: one batch's text,
tokenised once, and the corpus statistics (analyzers) built once.

`preprocessing_fn` makes one `TextBatch` of its inputs and hands it to each feature's
`FeatureSpec.compute` (`trainer.student.features`), so features share the costly work
(case folding, splitting, fingerprints, vocabulary lookups) instead of redoing it.

Query side, once per *distinct* query of the batch (`U` of them; `per_row` gathers a
`[U, ...]` value back to the `B` rows): `queries`, `folded_queries`, `query_ragged`
`[U, None]`, `query_tokens` `[U, MAX_QUERY_TOKENS]` ("" = padding),
`query_fingerprints` (`NO_TOKEN` = padding), `num_terms`, `query_mask`
`[U, num_terms]`.

Item side, every field of every row in one case folding + split (fields in
`STACKED_FIELDS` order, row-major: `[B * F]`): `texts`, `folded`, `tokens`,
`token_fingerprints`.

Analyzer-backed values are built on first use (and pruned from the serving graph once
the analyzers have run): `query_idf`, `bm25_and_coverage`, `corpus_vocabulary`,
`query_corpus_word_ids`. Only core TensorFlow ops: the graph ends up in the student's
serving SavedModel.
"""

import functools
from typing import Dict

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow.python.framework import ops

from relevance import contract
from trainer.student import bm25 as bm25_lib
from trainer.student import text_features as tx

# Item fields in the order their texts are stacked: the embedding order, so that one
# row's item words are contiguous and already in embedding order.
STACKED_FIELDS = tx.ITEM_EMBEDDING_FIELDS
# Column of each `contract.ITEM_TEXT_FIELDS` field among the stacked ones.
_LEXICAL_ORDER = [STACKED_FIELDS.index(name) for name in contract.ITEM_TEXT_FIELDS]


def _table_in_init_scope(make_table, vocabulary_path):
    # Build the table outside the traced function once the vocabulary is known (as
    # `tft.apply_vocabulary` does for its own tables): a table built inside the
    # tf.function would be re-initialised from its file on every serving call.
    if tf.inside_function() and isinstance(vocabulary_path, (ops.EagerTensor, str, bytes)):
        with tf.init_scope():
            return make_table(vocabulary_path)
    return make_table(vocabulary_path)


def _count_file_table(vocabulary_path, value_index, default_value):
    # Lines are "<count> <token>": the token is column 1.
    return tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            vocabulary_path,
            key_dtype=tf.string,
            key_index=1,
            value_dtype=tf.int64,
            value_index=value_index,
            delimiter=" ",
        ),
        default_value=default_value,
    )


def _lookup_words_in_count_file(words: tf.Tensor, vocabulary_path):
    # A word's id is its line number; unknown words get -1.
    table = _table_in_init_scope(
        lambda path: _count_file_table(path, tf.lookup.TextFileIndex.LINE_NUMBER, -1),
        vocabulary_path,
    )
    return table.lookup(words), table.size()


def _lookup_document_frequency(tokens: tf.Tensor, vocabulary_path):
    # Lines are "<document frequency> <token>"; unseen tokens have frequency 0.
    table = _table_in_init_scope(lambda path: _count_file_table(path, 0, 0), vocabulary_path)
    return table.lookup(tokens), table.size()


class TextBatch:
    """One batch of raw canonical features (Sparse, Ragged or dense), tokenised once.

    Example (no analyzer is touched, so it runs outside tf.Transform):

    >>> import tensorflow as tf
    >>> from relevance import contract
    >>> texts = {name: tf.constant(["", ""]) for name in contract.ITEM_TEXT_FIELDS}
    >>> texts.update(query=tf.constant(["Red shoes", "Red shoes"]),
    ...              title=tf.constant(["Red running shoes", "A hat"]))
    >>> batch = TextBatch(texts)
    >>> batch.queries.numpy().tolist(), batch.query_of_row.numpy().tolist()
    ([b'Red shoes'], [0, 0])
    >>> batch.field_tokens("title").to_list()
    [[b'red', b'running', b'shoes'], [b'a', b'hat']]
    """

    def __init__(self, inputs: Dict[str, tf.Tensor]):
        assert sorted(STACKED_FIELDS) == sorted(contract.ITEM_TEXT_FIELDS)
        self.num_fields = len(STACKED_FIELDS)

        # ---- query: once per distinct query ----
        self.queries, self.query_of_row = tf.unique(tx.to_string_vector(inputs[contract.QUERY]))
        self.folded_queries = tx.fold_case(self.queries)
        self.query_ragged = tx.split_tokens(self.folded_queries)  # [U, None]
        self.query_tokens = tx.dense_tokens(self.query_ragged, tx.MAX_QUERY_TOKENS)  # [U, Q]
        self.query_fingerprints = tx.padded_fingerprints(self.query_tokens)
        # Term matching only needs the longest query's terms, not all Q slots.
        self.num_terms = tf.minimum(
            tf.cast(tf.reduce_max(self.query_ragged.row_lengths()), tf.int32),
            tx.MAX_QUERY_TOKENS,
        )
        self.query_mask = tf.cast(self.query_tokens[:, :self.num_terms] != "", tf.float32)

        # ---- item text: every field of every row in one case folding + split ----
        self.texts = tx.row_major_texts([inputs[name] for name in STACKED_FIELDS])  # [B * F]
        self.folded = tx.fold_case(self.texts)
        self.tokens = tx.split_tokens(self.folded)  # [B * F, None]
        self.token_fingerprints = self.tokens.with_flat_values(
            tx.fingerprints(self.tokens.flat_values))

    def per_row(self, query_feature: tf.Tensor) -> tf.Tensor:
        """A `[U, ...]` value of the distinct queries to `[B, ...]`, one per row."""
        return tf.gather(query_feature, self.query_of_row)

    def field_tokens(self, field: str) -> tf.RaggedTensor:
        """One item field's tokens, `[B, None]`."""
        index = STACKED_FIELDS.index(field)
        starts = self.tokens.row_splits[:-1][index::self.num_fields]
        limits = self.tokens.row_splits[1:][index::self.num_fields]
        return tf.RaggedTensor.from_row_lengths(
            tf.gather(self.tokens.flat_values, tf.ragged.range(starts, limits).flat_values),
            limits - starts, validate=False)

    def field_text(self, field: str) -> tf.Tensor:
        """One item field's `fold_case` text, `[B]`."""
        return tf.reshape(self.folded, [-1, self.num_fields])[:, STACKED_FIELDS.index(field)]

    def item_words(self, values: tf.Tensor) -> tf.RaggedTensor:
        """`values` per token (`tokens.flat_values`' shape) to `[B, None]`: each row's
        fields concatenated in embedding order."""
        return tf.RaggedTensor.from_row_splits(
            values,
            self.tokens.row_splits[::self.num_fields],
            validate=False,  # row splits of a valid ragged tensor: no runtime checks needed
        )

    @functools.cached_property
    def query_idf(self) -> tf.Tensor:
        """BM25 idf `[U, Q]` of each (distinct) query term; a document is one row's item
        text.

        A frequency vocabulary over per-row-deduplicated tokens gives document
        frequencies as a lookup asset, which keeps the serving graph small (no
        vocabulary-sized constant).
        """
        item_rows = self.tokens.value_rowids() // self.num_fields
        document_frequency_path = tft.vocabulary(
            bm25_lib.unique_tokens_per_row(self.tokens.flat_values, item_rows),
            top_k=tx.DOCUMENT_FREQUENCY_TOP_K,
            vocab_filename=tx.DOCUMENT_FREQUENCY_VOCABULARY,
            store_frequency=True,
        )
        num_documents = tft.size(tf.reshape(self.texts, [-1, self.num_fields])[:, 0])
        document_frequency = tft.apply_vocabulary(
            self.query_tokens, document_frequency_path, lookup_fn=_lookup_document_frequency
        )
        return bm25_lib.bm25_idf(tf.cast(document_frequency, tf.float32), num_documents)

    @functools.cached_property
    def bm25_and_coverage(self):
        """BM25 and query-term coverage `[B, NUM_LEXICAL_FIELDS]` each: one column per
        item text field (`contract.ITEM_TEXT_FIELDS` order), then all item text."""
        num_fields, num_terms = self.num_fields, self.num_terms
        text_query_terms = tf.gather(
            self.query_fingerprints[:, :num_terms], tf.repeat(self.query_of_row, num_fields)
        )  # [B * F, num_terms]
        term_frequency = bm25_lib.query_term_frequencies(self.token_fingerprints, text_query_terms)
        term_frequency = tf.gather(
            tf.reshape(term_frequency, [-1, num_fields, num_terms]), _LEXICAL_ORDER, axis=1
        )
        field_length = tf.gather(
            tf.reshape(tf.cast(self.tokens.row_lengths(), tf.float32), [-1, num_fields]),
            _LEXICAL_ORDER,
            axis=1,
        )
        # Per field, then all item text together (its counts are the sums over fields).
        term_frequency = tf.concat(
            [term_frequency, tf.reduce_sum(term_frequency, axis=1, keepdims=True)], axis=1
        )
        field_length = tf.concat(
            [field_length, tf.reduce_sum(field_length, axis=1, keepdims=True)], axis=1
        )
        average_field_length = tft.mean(field_length, reduce_instance_dims=False)
        return bm25_lib.bm25_and_coverage(
            self.per_row(self.query_mask), self.per_row(self.query_idf[:, :num_terms]),
            term_frequency, field_length, average_field_length,
        )

    @functools.cached_property
    def corpus_vocabulary(self):
        """The `corpus_word_counts` vocabulary over query and item words (its path)."""
        row_query_words = self.per_row(self.query_ragged).flat_values
        return tft.vocabulary(
            tf.concat([row_query_words, self.tokens.flat_values], axis=0),
            top_k=tx.CORPUS_WORD_COUNTS_TOP_K,
            vocab_filename=tx.CORPUS_WORD_COUNTS_VOCABULARY,
            store_frequency=True,
        )

    def corpus_word_ids(self, dense_words: tf.Tensor) -> tf.Tensor:
        """Line number of each word in the corpus vocabulary; -1 for padding ("") and
        words outside it."""
        ids = tft.apply_vocabulary(dense_words, self.corpus_vocabulary,
                                   lookup_fn=_lookup_words_in_count_file)
        return tf.where(dense_words == "", tf.constant(-1, tf.int64), ids)

    @functools.cached_property
    def query_corpus_word_ids(self) -> tf.Tensor:
        """`corpus_word_ids` of `query_tokens`, `[U, Q]`."""
        return self.corpus_word_ids(self.query_tokens)
