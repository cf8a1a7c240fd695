"""The student network: hashed n-gram embeddings + lexical match features -> grade logits.

Small on purpose: two shared embedding tables (word and character n-grams), mean pooling
over the real (non-padding) ids, a shared projection, a handful of query/item interactions and a two-layer MLP.
It scores a few hundred candidates in a few milliseconds on CPU.

With distilled word vectors (`trainer.student.word_vectors`), a third, multilingual view
joins them: the query's and the item's word vectors (`WordVectorTable`), their pooled
cosine and product, a soft term match (each query word's best cosine over the item's
words, averaged, and the largest), that average and the pooled cosine again with each
query word weighted by its BM25 idf (a rare word the item paraphrases counts more than
"what" or "de"), and the share of query words that have a vector. Words without a
vector fall back to the hashed n-grams, which stay in the model.
"""

from typing import Dict, Optional

import keras
import numpy as np
from keras import ops

from trainer.student import text_features as tx
from trainer.student.config import StudentConfig
from trainer.student.pooled_embedding import MeanPooledEmbedding
from trainer.student.word_vector_interactions import WordVectorInteractions
from trainer.student.word_vector_table import WordVectorTable

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
# Read only by a student with word vectors.
WORD_VECTOR_INPUT_WIDTHS = {
    tx.QUERY_VECTOR_WORD_IDS: tx.MAX_QUERY_TOKENS,
    tx.ITEM_VECTOR_WORD_IDS: tx.MAX_ITEM_VECTOR_WORDS,
    tx.QUERY_TERM_IDF: tx.MAX_QUERY_TOKENS,
}
_ID_INPUTS = (tx.QUERY_WORD_IDS, tx.QUERY_CHAR_IDS, tx.ITEM_WORD_IDS, tx.ITEM_CHAR_IDS,
              tx.QUERY_VECTOR_WORD_IDS, tx.ITEM_VECTOR_WORD_IDS)
# Inputs that depend on the query only: at serving time they are encoded once per
# distinct query (see `encode_queries_once`), not once per candidate.
QUERY_INPUTS = (tx.QUERY_WORD_IDS, tx.QUERY_CHAR_IDS, tx.QUERY_VECTOR_WORD_IDS,
                tx.QUERY_TERM_IDF)
QUERY_ENCODER = "query_encoder"
CANDIDATE_SCORER = "candidate_scorer"
# Outputs of the query encoder, inputs of the candidate scorer.
_QUERY_ENCODINGS = ("query_word_vector", "query_char_vector", "query_vector")
# With word vectors only: [Q, dims] per word, [Q] 1.0 where the word has one, and [Q]
# the word's idf where it has one.
_QUERY_WORD_VECTORS = "query_word_vectors"
_QUERY_WORD_VECTOR_MASK = "query_word_vector_mask"
_QUERY_WORD_WEIGHTS = "query_word_weights"


def select_model_inputs(transformed: Dict, model: keras.Model) -> Dict:
    """Keeps the Transform outputs `model` consumes (drops e.g. teacher-only ones)."""
    return {name: transformed[name] for name in model.input}


def _input(name):
    width = {**MODEL_INPUT_WIDTHS, **WORD_VECTOR_INPUT_WIDTHS}[name]
    return keras.Input(shape=(width,), dtype="int64" if name in _ID_INPUTS else "float32", name=name)


def build_student_model(config: StudentConfig, num_grades: int,
                        word_vectors: Optional[np.ndarray] = None) -> keras.Model:
    """Builds the (uncompiled) student; it outputs grade **logits** `[B, G]`.

    `word_vectors` (`[V, d]`, row i for Transform's word id i + 1; see
    `trainer.student.word_vectors`) adds the word-vector view and its two inputs;
    frozen unless `config.word_vectors_trainable`.

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
    >>> with_vectors = build_student_model(StudentConfig(embedding_dim=8), 5,
    ...                                    word_vectors=np.eye(4, 3, dtype="float32"))
    >>> sorted(set(with_vectors.input) - set(model.input))
    ['item_vector_word_ids', 'query_term_idf', 'query_vector_word_ids']
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

    input_names = list(MODEL_INPUT_WIDTHS)
    table = None
    if word_vectors is not None:
        input_names += list(WORD_VECTOR_INPUT_WIDTHS)
        table = WordVectorTable(word_vectors, trainable=config.word_vectors_trainable,
                                name="word_vectors")

    query_inputs = {name: _input(name) for name in QUERY_INPUTS if name in input_names}
    query_outputs = dict(zip(
        _QUERY_ENCODINGS,
        encode(query_inputs[tx.QUERY_WORD_IDS], query_inputs[tx.QUERY_CHAR_IDS]),
    ))
    encoding_shapes = {name: (config.embedding_dim,) for name in _QUERY_ENCODINGS}
    if table is not None:
        query_ids = query_inputs[tx.QUERY_VECTOR_WORD_IDS]
        query_outputs[_QUERY_WORD_VECTORS] = table(query_ids)
        known = ops.cast(query_ids > 0, "float32")
        query_outputs[_QUERY_WORD_VECTOR_MASK] = known
        query_outputs[_QUERY_WORD_WEIGHTS] = known * query_inputs[tx.QUERY_TERM_IDF]
        encoding_shapes[_QUERY_WORD_VECTORS] = (tx.MAX_QUERY_TOKENS, table.dims)
        encoding_shapes[_QUERY_WORD_VECTOR_MASK] = (tx.MAX_QUERY_TOKENS,)
        encoding_shapes[_QUERY_WORD_WEIGHTS] = (tx.MAX_QUERY_TOKENS,)
    query_encoder = keras.Model(inputs=query_inputs, outputs=query_outputs, name=QUERY_ENCODER)

    scorer_inputs = {name: _input(name) for name in input_names if name not in QUERY_INPUTS}
    encodings = {
        name: keras.Input(shape=shape, dtype="float32", name=name)
        for name, shape in encoding_shapes.items()
    }
    query_word, query_char, query = (encodings[name] for name in _QUERY_ENCODINGS)
    item_word, item_char, item = encode(
        scorer_inputs[tx.ITEM_WORD_IDS], scorer_inputs[tx.ITEM_CHAR_IDS]
    )

    def cosine(a, b):
        return keras.layers.Dot(axes=1, normalize=True)([a, b])

    word_vector_features = []
    if table is not None:
        word_vector_features = [WordVectorInteractions(table, name="word_vector_interactions")(
            encodings[_QUERY_WORD_VECTORS], encodings[_QUERY_WORD_VECTOR_MASK],
            encodings[_QUERY_WORD_WEIGHTS], scorer_inputs[tx.ITEM_VECTOR_WORD_IDS],
            scorer_inputs[tx.QUERY_LENGTH])]
    features = ops.concatenate(
        [
            *word_vector_features,
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

    inputs = {name: _input(name) for name in input_names}
    encoded = query_encoder({name: inputs[name] for name in query_inputs})
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
    query_encoder = model.get_layer(QUERY_ENCODER)
    encoded = query_encoder(
        {name: tf.gather(features[name], first_row) for name in query_encoder.input},
        training=False,
    )
    scorer_inputs = {name: value for name, value in features.items() if name not in QUERY_INPUTS}
    scorer_inputs.update({name: tf.gather(value, query_of_row) for name, value in encoded.items()})
    return model.get_layer(CANDIDATE_SCORER)(scorer_inputs, training=False)
