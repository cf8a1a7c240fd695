"""Transform computations of the student's lexical features (`trainer.student.features`).

Each function takes the batch's `TextBatch` and returns one feature: hashed word and
character n-grams of the query and the item (`text_features.word_ngram_ids`,
`char_ngram_ids`), BM25 and query-term coverage per item field, the query's length, and
the corpus-vocabulary ids that select the student's word vectors, and the teacher's
lexical signals built from them. A query-only feature
returns a value per *distinct* query (`[U, ...]`); the registry gathers it to the rows.
"""

import tensorflow as tf

from trainer.student import text_features as tx
from trainer.student.bm25 import BM25_K1
from trainer.student.text_batch import TextBatch


def query_word_ngram_ids(batch: TextBatch) -> tf.Tensor:
    return tx.word_ngram_ids(batch.query_fingerprints, tx.MAX_QUERY_WORD_NGRAMS)


def query_char_ngram_ids(batch: TextBatch) -> tf.Tensor:
    return tx.char_ngram_ids(tx.remove_ascii_punctuation(batch.folded_queries),
                             tx.MAX_QUERY_CHAR_NGRAMS)


def item_word_ngram_ids(batch: TextBatch) -> tf.Tensor:
    """Word n-grams of the row's fields concatenated in embedding order."""
    fingerprints = batch.item_words(batch.token_fingerprints.flat_values).to_tensor(
        default_value=tx.NO_TOKEN, shape=[None, (tx.MAX_ITEM_WORD_NGRAMS + 1) // 2]
    )
    return tx.word_ngram_ids(fingerprints, tx.MAX_ITEM_WORD_NGRAMS)


def item_char_ngram_ids(batch: TextBatch) -> tf.Tensor:
    """Character n-grams of the title only: the bulk of their signal, a fraction of the
    per-character work of all item text."""
    title = tx.remove_ascii_punctuation(batch.field_text("title"))
    return tx.char_ngram_ids(title, tx.MAX_ITEM_CHAR_NGRAMS)


def bm25(batch: TextBatch) -> tf.Tensor:
    return batch.bm25_and_coverage[0]


def query_term_coverage(batch: TextBatch) -> tf.Tensor:
    return batch.bm25_and_coverage[1]


def query_length(batch: TextBatch) -> tf.Tensor:
    """Number of query tokens, `[U]`."""
    return tf.cast(batch.query_ragged.row_lengths(), tf.float32)


def query_corpus_word_ids(batch: TextBatch) -> tf.Tensor:
    """Line numbers of the query's words in the corpus vocabulary, -1 = none. It exists
    so that the vocabulary (read by the teacher through
    `TFTransformOutput.vocabulary_file_by_name`) is always computed."""
    return batch.query_corpus_word_ids


def query_vector_word_ids(batch: TextBatch) -> tf.Tensor:
    """Line number + 1: row 0 of the word-vector table is "no vector"."""
    return batch.query_corpus_word_ids + 1


def query_term_idf(batch: TextBatch) -> tf.Tensor:
    """BM25 idf of each query token, 0 for padding."""
    return tf.where(batch.query_tokens != "", batch.query_idf, 0.0)


def teacher_signals(batch: TextBatch) -> tf.Tensor:
    """The teacher's head's lexical signals (`trainer.teacher.lexical_signals`), `[B, 3F + 1]`:
    per lexical field log1p(BM25), then coverage, then BM25 / ((k1 + 1) * sum of the
    query's idf) (the share of what the query can score: comparable across queries),
    then log1p(query tokens)."""
    bm25_value, coverage = batch.bm25_and_coverage
    bm25_value = tf.maximum(bm25_value, 0.0)
    idf = tf.maximum(batch.per_row(query_term_idf(batch)), 0.0)
    ceiling = (BM25_K1 + 1.0) * tf.reduce_sum(idf, axis=1, keepdims=True)
    length = batch.per_row(query_length(batch))[:, None]
    return tf.concat([tf.math.log1p(bm25_value), coverage,
                      tf.math.divide_no_nan(bm25_value, ceiling), tf.math.log1p(length)], axis=1)


def item_vector_word_ids(batch: TextBatch) -> tf.Tensor:
    """The item's first words (fields in embedding order) as word-vector rows, 0 = none."""
    words = batch.item_words(batch.tokens.flat_values).to_tensor(
        default_value="", shape=[None, tx.MAX_ITEM_VECTOR_WORDS])
    return batch.corpus_word_ids(words) + 1
