"""Lexical match features of a (query, item text) pair for the teacher's head, in TF ops.

A cross-encoder fine-tuned on a thousand labels in one language learns that language's
word overlap, and the query-match markers that spell it out in the text cannot mark
scripts written without spaces (zh, ja, th). These two numbers carry the overlap to the
head in every script:

    word_coverage   = |words(q) ∩ words(item)| / |words(q)|
    bigram_coverage = |bigrams(q) ∩ bigrams(item)| / |bigrams(q)|

over lower-cased text with punctuation removed; bigrams are of characters inside a word,
so "红色跑鞋" and "跑鞋" share "跑鞋" where no word does, and "shoes" and "shoe" share
most of theirs. Sets, not counts; no IDF:
candidates of one query share its stop words, so the ranking rests on the rest. An
empty query gives 0.

Example:

>>> import tensorflow as tf
>>> features = match_features(tf.constant(["Red shoes", "红色跑鞋", ""]),
...                           tf.constant(["title: red running shoes!", "title: 跑鞋", "x"]))
>>> [[round(float(v), 2) for v in row] for row in features.numpy()]
[[1.0, 1.0], [0.0, 0.33], [0.0, 0.0]]
"""

import tensorflow as tf

from trainer.teacher.item_text import normalize_whitespace

FEATURE_NAMES = ("word_coverage", "bigram_coverage")
NUM_FEATURES = len(FEATURE_NAMES)
INPUT_NAME = "match_features"


def _normalised(text: tf.Tensor) -> tf.Tensor:
    text = tf.strings.lower(text, encoding="utf-8")
    return normalize_whitespace(tf.strings.regex_replace(text, r"[\pP\pS]+", " "))


def _words(text: tf.Tensor) -> tf.RaggedTensor:
    return tf.strings.split(text, sep=" ")


def _bigrams(text: tf.Tensor) -> tf.RaggedTensor:
    """[N, None] character bigrams inside each word (none across a space)."""
    characters = tf.strings.unicode_split(_words(text), "UTF-8")
    return tf.strings.ngrams(characters, ngram_width=2, separator="").merge_dims(1, 2)


def _coverage(query_units: tf.RaggedTensor, item_units: tf.RaggedTensor) -> tf.Tensor:
    """[N] share of each row's distinct query units found among its item units."""
    query, item = query_units.to_sparse(), item_units.to_sparse()
    # tf.sets needs the same leading shape; the last dimension may differ.
    common = tf.sets.size(tf.sets.intersection(query, item))
    total = tf.sets.size(query)
    return tf.where(total > 0, tf.cast(common, tf.float32) / tf.cast(tf.maximum(total, 1),
                                                                     tf.float32), 0.0)


def match_features(queries: tf.Tensor, items: tf.Tensor) -> tf.Tensor:
    """[N, NUM_FEATURES] float32 of query strings [N] and item strings [N]."""
    queries = _normalised(tf.reshape(queries, [-1]))
    items = _normalised(tf.reshape(items, [-1]))
    features = tf.stack([_coverage(_words(queries), _words(items)),
                         _coverage(_bigrams(queries), _bigrams(items))], axis=1)
    # tf.sets leaves the shape unknown in a graph; Keras needs the rank.
    return tf.reshape(features, [-1, NUM_FEATURES])
