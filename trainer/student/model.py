"""The student network: hashed n-gram embeddings + lexical match features -> grade logits.

Small on purpose: two shared embedding tables (word and character n-grams), mean pooling
over the real (non-padding) ids, a shared projection, a handful of query/item interactions and a two-layer MLP.
It scores a few hundred candidates in a few milliseconds on CPU.
"""

from typing import Dict

import keras
from keras import ops

from trainer.student import text_features as tx
from trainer.student.config import StudentConfig
from trainer.student.pooled_embedding import MeanPooledEmbedding

# Transform outputs the model reads, with their widths.
MODEL_INPUT_WIDTHS = {
    tx.QUERY_WORD_IDS: tx.MAX_QUERY_WORD_NGRAMS,
    tx.QUERY_CHAR_IDS: tx.MAX_QUERY_CHAR_NGRAMS,
    tx.ITEM_WORD_IDS: tx.MAX_ITEM_WORD_NGRAMS,
    tx.ITEM_CHAR_IDS: tx.MAX_ITEM_CHAR_NGRAMS,
    tx.BM25: tx.NUM_LEXICAL_FIELDS,
    tx.QUERY_TERM_COVERAGE: tx.NUM_LEXICAL_FIELDS,
    tx.QUERY_LENGTH: 1,
}
_ID_INPUTS = (tx.QUERY_WORD_IDS, tx.QUERY_CHAR_IDS, tx.ITEM_WORD_IDS, tx.ITEM_CHAR_IDS)
# Inputs that depend on the query only: at serving time they are encoded once per
# distinct query (see `encode_queries_once`), not once per candidate.
QUERY_INPUTS = (tx.QUERY_WORD_IDS, tx.QUERY_CHAR_IDS)
QUERY_ENCODER = "query_encoder"
CANDIDATE_SCORER = "candidate_scorer"
# Outputs of the query encoder, inputs of the candidate scorer.
_QUERY_ENCODINGS = ("query_word_vector", "query_char_vector", "query_vector")


def select_model_inputs(transformed: Dict) -> Dict:
    """Keeps the Transform outputs the model consumes (drops e.g. teacher-only ones)."""
    return {name: transformed[name] for name in MODEL_INPUT_WIDTHS}


def _input(name, width=None):
    if width is None:
        width = MODEL_INPUT_WIDTHS[name]
    return keras.Input(shape=(width,), dtype="int64" if name in _ID_INPUTS else "float32", name=name)


def build_student_model(config: StudentConfig, num_grades: int) -> keras.Model:
    """Builds the (uncompiled) student; it outputs grade **logits** `[B, G]`.

    The model is `candidate_scorer(query_encoder(query inputs), other inputs)`; both parts
    are nested models (`get_layer(QUERY_ENCODER)`, `get_layer(CANDIDATE_SCORER)`) so that
    serving can encode one query once for all its candidates (`encode_queries_once`).

    Example:

    >>> import numpy as np
    >>> model = build_student_model(StudentConfig(embedding_dim=8), num_grades=5)
    >>> batch = {name: np.zeros((3, width), "int64" if name in _ID_INPUTS else "float32")
    ...          for name, width in MODEL_INPUT_WIDTHS.items()}
    >>> model(batch).shape
    TensorShape([3, 5])
    """
    # Query and item share tables and projection so that their vectors live in one
    # space and the interactions below compare like with like.
    word_embedding = MeanPooledEmbedding(
        tx.WORD_HASH_BUCKETS + 1, config.embedding_dim, name="word_ngram_embedding"
    )
    char_embedding = MeanPooledEmbedding(
        tx.CHAR_HASH_BUCKETS + 1, config.embedding_dim, name="char_ngram_embedding"
    )
    projection = keras.layers.Dense(config.embedding_dim, activation="tanh", name="text_projection")

    def encode(word_ids, char_ids):
        word_vector = word_embedding(word_ids)
        char_vector = char_embedding(char_ids)
        combined = projection(ops.concatenate([word_vector, char_vector], axis=-1))
        return word_vector, char_vector, combined

    query_inputs = {name: _input(name) for name in QUERY_INPUTS}
    query_encoder = keras.Model(
        inputs=query_inputs,
        outputs=dict(
            zip(
                _QUERY_ENCODINGS,
                encode(query_inputs[tx.QUERY_WORD_IDS], query_inputs[tx.QUERY_CHAR_IDS]),
            )
        ),
        name=QUERY_ENCODER,
    )

    scorer_inputs = {
        name: _input(name) for name in MODEL_INPUT_WIDTHS if name not in QUERY_INPUTS
    }
    encodings = {
        name: keras.Input(shape=(config.embedding_dim,), dtype="float32", name=name)
        for name in _QUERY_ENCODINGS
    }
    query_word, query_char, query = (encodings[name] for name in _QUERY_ENCODINGS)
    item_word, item_char, item = encode(
        scorer_inputs[tx.ITEM_WORD_IDS], scorer_inputs[tx.ITEM_CHAR_IDS]
    )

    def cosine(a, b):
        return keras.layers.Dot(axes=1, normalize=True)([a, b])

    features = ops.concatenate(
        [
            query,
            item,
            query * item,
            cosine(query_word, item_word),
            cosine(query_char, item_char),
            cosine(query, item),
            # BM25 is unbounded and heavy-tailed; log1p keeps the MLP's inputs tame.
            ops.log1p(ops.maximum(scorer_inputs[tx.BM25], 0.0)),
            scorer_inputs[tx.QUERY_TERM_COVERAGE],
            ops.log1p(scorer_inputs[tx.QUERY_LENGTH]),
        ],
        axis=-1,
    )
    hidden = features
    for index, units in enumerate(config.hidden_units):
        hidden = keras.layers.Dense(units, activation="relu", name=f"hidden_{index}")(hidden)
        if config.dropout > 0:
            hidden = keras.layers.Dropout(config.dropout, seed=config.seed)(hidden)
    logits = keras.layers.Dense(num_grades, name="grade_logits")(hidden)
    scorer = keras.Model(
        inputs={**scorer_inputs, **encodings}, outputs=logits, name=CANDIDATE_SCORER
    )

    inputs = {name: _input(name) for name in MODEL_INPUT_WIDTHS}
    encoded = query_encoder({name: inputs[name] for name in QUERY_INPUTS})
    outputs = scorer({**{name: inputs[name] for name in scorer_inputs}, **encoded})
    return keras.Model(inputs=inputs, outputs=outputs, name="relevance_student")


def encode_queries_once(model: keras.Model, features: Dict, query_of_row):
    """Logits `[N, G]` with the query encoded once per distinct query, not per row.

    Args:
        model: from `build_student_model`.
        features: the model inputs (`select_model_inputs`), one row per candidate.
        query_of_row: `[N]` index of each row's distinct query (e.g. `tf.unique(...).idx`);
            rows with the same index must have the same query features.

    Same result as `model(features)` (inference mode), with the query-side embedding
    and pooling work done U times instead of N.
    """
    import tensorflow as tf

    query_of_row = tf.cast(query_of_row, tf.int32)
    num_queries = tf.reduce_max(query_of_row) + 1
    first_row = tf.math.unsorted_segment_min(
        tf.range(tf.size(query_of_row)), query_of_row, num_queries
    )
    encoded = model.get_layer(QUERY_ENCODER)(
        {name: tf.gather(features[name], first_row) for name in QUERY_INPUTS}, training=False
    )
    scorer_inputs = {name: value for name, value in features.items() if name not in QUERY_INPUTS}
    scorer_inputs.update({name: tf.gather(encoded[name], query_of_row) for name in _QUERY_ENCODINGS})
    return model.get_layer(CANDIDATE_SCORER)(scorer_inputs, training=False)
