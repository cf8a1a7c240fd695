"""TFX Transform `preprocessing_fn`: lexical features and hashed n-grams for the student.

Analyzers run over the whole text corpus (train + unlabeled, every language), so IDF and
average field lengths describe the traffic the student will serve, not just the graded
sample. Only core TensorFlow ops are used: the resulting graph is embedded in the
student's SavedModel, which must load in a stock TF Serving.

Outputs (all dense; `F` = `text_features.NUM_LEXICAL_FIELDS`, field order
`text_features.LEXICAL_FIELDS`):

| feature                 | dtype   | shape                         |
|-------------------------|---------|-------------------------------|
| query_word_ids          | int64   | [MAX_QUERY_WORD_NGRAMS]       |
| query_char_ids          | int64   | [MAX_QUERY_CHAR_NGRAMS]       |
| item_word_ids           | int64   | [MAX_ITEM_WORD_NGRAMS]        |
| item_char_ids           | int64   | [MAX_ITEM_CHAR_NGRAMS]        |
| bm25                    | float32 | [F]                           |
| query_term_coverage     | float32 | [F]                           |
| query_length            | float32 | [1]                           |
| query_corpus_word_ids   | int64   | [MAX_QUERY_TOKENS], -1 = none |
| query_vector_word_ids   | int64   | [MAX_QUERY_TOKENS], 0 = none  |
| item_vector_word_ids    | int64   | [MAX_ITEM_VECTOR_WORDS], 0 = none |

Serving cost (the graph runs inside the student's serving signature, one query x N
candidates): query-side work runs once per distinct query of the batch and is gathered
back to the rows; all item text is lower-cased, split and fingerprinted in one pass
(one `StringSplit` on whitespace and ASCII punctuation: no punctuation regex over the
item text), and the fingerprints serve both BM25 term matching and the hashed word
n-grams; character n-grams cover the query and the item title only (the only texts
that still get the punctuation regex); vocabulary tables are built outside
the traced function, so they are initialised once when the model loads, not per call.

`query_corpus_word_ids` exists so that the `corpus_word_counts` vocabulary (read by the
teacher through `TFTransformOutput.vocabulary_file_by_name`) is always computed. The
`*_vector_word_ids` are the same vocabulary's line numbers + 1 of the query's words and
of the item's first words (fields in embedding order), 0 for padding and for words
outside the vocabulary: the rows of the student's distilled word-vector table
(`trainer.student.word_vectors`).

Never reads `grade` or pseudo-label features: unlabeled rows do not have them.

Example (TFX):

    Transform(examples=..., schema=...,
              preprocessing_fn="trainer.student.preprocessing.preprocessing_fn",
              splits_config=SplitsConfig(analyze=["train", "unlabeled"]))
"""

from typing import Dict

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow.python.framework import ops

from relevance import contract
from trainer.student import bm25 as bm25_lib
from trainer.student import text_features as tx


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


def _query_idf(
    query_tokens: tf.Tensor,
    item_words: tf.Tensor,
    item_rows: tf.Tensor,
    one_per_row: tf.Tensor,
):
    """BM25 idf `[U, Q]` of each (distinct) query term; a document is one row's item text.

    A frequency vocabulary over per-row-deduplicated tokens gives document frequencies
    as a lookup asset, which keeps the serving graph small (no vocabulary-sized constant).
    """
    document_frequency_path = tft.vocabulary(
        bm25_lib.unique_tokens_per_row(item_words, item_rows),
        top_k=tx.DOCUMENT_FREQUENCY_TOP_K,
        vocab_filename=tx.DOCUMENT_FREQUENCY_VOCABULARY,
        store_frequency=True,
    )
    num_documents = tft.size(one_per_row)
    document_frequency = tft.apply_vocabulary(
        query_tokens, document_frequency_path, lookup_fn=_lookup_document_frequency
    )
    return bm25_lib.bm25_idf(tf.cast(document_frequency, tf.float32), num_documents)


def _corpus_word_ids(dense_words: tf.Tensor, vocabulary_path) -> tf.Tensor:
    """Line number of each word in the corpus vocabulary; -1 for padding ("") and
    words outside it."""
    ids = tft.apply_vocabulary(dense_words, vocabulary_path, lookup_fn=_lookup_words_in_count_file)
    return tf.where(dense_words == "", tf.constant(-1, tf.int64), ids)


def _fixed_width(tensor: tf.Tensor, width: int) -> tf.Tensor:
    # TFT needs a static inner shape to declare a FixedLenFeature; analyzer outputs
    # lose it along the way.
    return tf.reshape(tensor, [-1, width])


# Item fields in the order their texts are stacked: the embedding order, so that one
# row's item words are contiguous and already in embedding order.
_STACKED_FIELDS = tx.ITEM_EMBEDDING_FIELDS
# Column of each `contract.ITEM_TEXT_FIELDS` field among the stacked ones.
_LEXICAL_ORDER = [_STACKED_FIELDS.index(name) for name in contract.ITEM_TEXT_FIELDS]


def preprocessing_fn(inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Maps raw canonical features (Sparse, Ragged or dense) to the student's features.

    Query-side work (tokens, n-grams, idf, vocabulary ids) runs once per *distinct*
    query of the batch and is gathered back to the rows: at serving time, one query
    against N candidates is processed once, not N times.
    """
    assert sorted(_STACKED_FIELDS) == sorted(contract.ITEM_TEXT_FIELDS)
    num_fields = len(_STACKED_FIELDS)

    # ---- query: once per distinct query ----
    queries, query_of_row = tf.unique(tx.to_string_vector(inputs[contract.QUERY]))
    folded_queries = tx.fold_case(queries)
    query_ragged = tx.split_tokens(folded_queries)  # [U, None]
    query_tokens = tx.dense_tokens(query_ragged, tx.MAX_QUERY_TOKENS)  # [U, Q]
    query_fingerprints = tx.padded_fingerprints(query_tokens)
    query_length = tf.cast(query_ragged.row_lengths(), tf.float32)
    # Term matching only needs the longest query's terms, not all Q slots.
    num_terms = tf.minimum(
        tf.cast(tf.reduce_max(query_ragged.row_lengths()), tf.int32), tx.MAX_QUERY_TOKENS
    )
    query_mask = tf.cast(query_tokens[:, :num_terms] != "", tf.float32)

    # ---- item text: every field of every row in one case folding + split ----
    texts = tx.row_major_texts([inputs[name] for name in _STACKED_FIELDS])  # [B * F]
    folded = tx.fold_case(texts)
    tokens = tx.split_tokens(folded)  # [B * F, None]
    token_fingerprints = tokens.with_flat_values(tx.fingerprints(tokens.flat_values))
    text_query_terms = tf.gather(
        query_fingerprints[:, :num_terms], tf.repeat(query_of_row, num_fields)
    )  # [B * F, num_terms]
    term_frequency = bm25_lib.query_term_frequencies(token_fingerprints, text_query_terms)
    term_frequency = tf.gather(
        tf.reshape(term_frequency, [-1, num_fields, num_terms]), _LEXICAL_ORDER, axis=1
    )
    field_length = tf.gather(
        tf.reshape(tf.cast(tokens.row_lengths(), tf.float32), [-1, num_fields]),
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

    # Analyzer inputs (pruned from the serving graph once the analyzers have run).
    item_rows = tokens.value_rowids() // num_fields
    query_idf = _query_idf(
        query_tokens, tokens.flat_values, item_rows, tf.reshape(texts, [-1, num_fields])[:, 0]
    )
    row_query_words = tf.gather(query_ragged, query_of_row).flat_values
    corpus_vocabulary = tft.vocabulary(
        tf.concat([row_query_words, tokens.flat_values], axis=0),
        top_k=tx.CORPUS_WORD_COUNTS_TOP_K,
        vocab_filename=tx.CORPUS_WORD_COUNTS_VOCABULARY,
        store_frequency=True,
    )
    corpus_word_ids = _corpus_word_ids(query_tokens, corpus_vocabulary)

    def per_row(query_feature):
        return tf.gather(query_feature, query_of_row)

    bm25, coverage = bm25_lib.bm25_and_coverage(
        per_row(query_mask), per_row(query_idf[:, :num_terms]), term_frequency, field_length,
        average_field_length,
    )

    # Item embedding words: the row's fields concatenated in embedding order.
    item_words = tf.RaggedTensor.from_row_splits(
        token_fingerprints.flat_values,
        token_fingerprints.row_splits[::num_fields],
        validate=False,  # row splits of a valid ragged tensor: no runtime checks needed
    )
    item_word_fingerprints = item_words.to_tensor(
        default_value=tx.NO_TOKEN, shape=[None, (tx.MAX_ITEM_WORD_NGRAMS + 1) // 2]
    )
    item_vector_words = tf.RaggedTensor.from_row_splits(
        tokens.flat_values, tokens.row_splits[::num_fields], validate=False
    ).to_tensor(default_value="", shape=[None, tx.MAX_ITEM_VECTOR_WORDS])
    # Character n-grams: query and title only (the bulk of their signal, a fraction of
    # the per-character work of all item text).
    title = tx.remove_ascii_punctuation(
        tf.reshape(folded, [-1, num_fields])[:, _STACKED_FIELDS.index("title")]
    )
    return {
        tx.QUERY_WORD_IDS: per_row(
            tx.word_ngram_ids(query_fingerprints, tx.MAX_QUERY_WORD_NGRAMS)
        ),
        tx.QUERY_CHAR_IDS: per_row(
            tx.char_ngram_ids(
                tx.remove_ascii_punctuation(folded_queries), tx.MAX_QUERY_CHAR_NGRAMS
            )
        ),
        tx.ITEM_WORD_IDS: tx.word_ngram_ids(item_word_fingerprints, tx.MAX_ITEM_WORD_NGRAMS),
        tx.ITEM_CHAR_IDS: tx.char_ngram_ids(title, tx.MAX_ITEM_CHAR_NGRAMS),
        tx.BM25: _fixed_width(bm25, tx.NUM_LEXICAL_FIELDS),
        tx.QUERY_TERM_COVERAGE: _fixed_width(coverage, tx.NUM_LEXICAL_FIELDS),
        tx.QUERY_LENGTH: _fixed_width(per_row(query_length), 1),
        tx.QUERY_CORPUS_WORD_IDS: _fixed_width(per_row(corpus_word_ids), tx.MAX_QUERY_TOKENS),
        # Line number + 1: row 0 of the word-vector table is "no vector".
        tx.QUERY_VECTOR_WORD_IDS: _fixed_width(per_row(corpus_word_ids) + 1, tx.MAX_QUERY_TOKENS),
        tx.QUERY_TERM_IDF: _fixed_width(
            per_row(tf.where(query_tokens != "", query_idf, 0.0)), tx.MAX_QUERY_TOKENS),
        tx.ITEM_VECTOR_WORD_IDS: _fixed_width(
            _corpus_word_ids(item_vector_words, corpus_vocabulary) + 1, tx.MAX_ITEM_VECTOR_WORDS
        ),
    }
