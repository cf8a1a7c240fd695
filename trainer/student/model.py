"""The student network: lexical match features (+ distilled word vectors) -> grade logits.

Small on purpose: BM25 and query-term coverage per item field, the exact overlap of the
query's hashed word and character n-grams with the item's (`NgramOverlap`), and a
two-layer MLP. It scores a few hundred candidates in a few milliseconds on CPU.

With distilled word vectors (`trainer.student.word_vectors`), a multilingual view joins
them: the query's and the item's word vectors (`WordVectorTable`), their pooled cosine
and product, a soft term match (each query word's best cosine over the item's words,
averaged, and the largest), that average and the pooled cosine again with each query
word weighted by its BM25 idf (a rare word the item paraphrases counts more than "what"
or "de"), and the share of query words that have a vector. Words without a vector fall
back to the n-gram overlaps and BM25.

`StudentConfig.ngram_embeddings` adds the earlier learned view: hashed n-gram embedding
tables, mean-pooled and projected, whose query and item vectors, product and cosines
feed the MLP. It memorises which items were relevant, which does not carry over to new
queries (docs/results.md#student-word-vectors), so it is off by default.
"""

from typing import Dict, Optional

import keras
import numpy as np
from keras import ops

from relevance import contract
from trainer.student import features as student_features
from trainer.student import text_features as tx
from trainer.student.config import StudentConfig
from trainer.student.ngram_overlap import NgramOverlap
from trainer.student.pooled_embedding import MeanPooledEmbedding
from trainer.student.query_tower import QueryTower
from trainer.student.word_vector_interactions import WordVectorInteractions
from trainer.student.word_vector_table import WordVectorTable

# Transform outputs the model reads, with their widths (from the feature table,
# `trainer.student.features`; `build_student_model` reads the table itself).
MODEL_INPUT_WIDTHS = student_features.widths([student_features.LEXICAL])
# Read only by a student with word vectors.
WORD_VECTOR_INPUT_WIDTHS = student_features.widths([student_features.WORD_VECTORS])
_ID_INPUTS = tuple(spec.name for spec in student_features.FEATURES if spec.dtype == "int64")
# Inputs that depend on the query only: at serving time they are encoded once per
# distinct query (see `encode_queries_once`), not once per candidate.
QUERY_INPUTS = tuple(spec.name for spec in student_features.FEATURES if spec.query_encoder)
QUERY_ENCODER = "query_encoder"
CANDIDATE_SCORER = "candidate_scorer"
# Outputs of the query encoder, inputs of the candidate scorer: the query's n-gram ids
# (passed through for the overlaps) and, with `ngram_embeddings`, its pooled vectors.
_QUERY_NGRAM_IDS = {tx.QUERY_WORD_IDS: "query_word_ngram_ids",
                    tx.QUERY_CHAR_IDS: "query_char_ngram_ids"}
_QUERY_ENCODINGS = ("query_word_vector", "query_char_vector", "query_vector")
# With word vectors only: [Q, dims] per word, [Q] 1.0 where the word has one, and [Q]
# the word's idf where it has one.
_QUERY_WORD_VECTORS = "query_word_vectors"
_QUERY_WORD_VECTOR_MASK = "query_word_vector_mask"
_QUERY_WORD_WEIGHTS = "query_word_weights"
# With item embeddings only (`embedding_dims`): the item's precomputed embedding `[D]`
# (zeros when the row has none), 1.0 where it has one `[1]`, and the query encoder's
# estimate of the query's embedding `[D]` (`QueryTower`; a cache hit replaces it).
ITEM_EMBEDDING = contract.ITEM_EMBEDDING
ITEM_EMBEDDING_PRESENT = "item_embedding_present"
QUERY_TOWER_VECTOR = "query_tower_vector"


def select_model_inputs(transformed: Dict, model: keras.Model, embeddings: Dict = None) -> Dict:
    """Keeps the Transform outputs `model` consumes (drops e.g. teacher-only ones), plus
    the item embedding inputs (`trainer.student.item_embeddings`) when it reads them."""
    available = {**transformed, **(embeddings or {})}
    return {name: available[name] for name in model.input}


def _input(name, embedding_dims: int = 0):
    specs = {spec.name: (spec.width, spec.dtype) for spec in student_features.table()}
    specs.update({ITEM_EMBEDDING: (embedding_dims, "float32"),
                  ITEM_EMBEDDING_PRESENT: (1, "float32")})
    width, dtype = specs[name]
    return keras.Input(shape=(width,), dtype=dtype, name=name)


def embedding_interactions(query, item, present, products: bool):
    """`[cos(q, i), q * i (with products), present]`, zero where the item has no
    embedding: the MLP learns from `present` when to trust them."""
    agreement = query * item * present
    return ([ops.sum(agreement, axis=-1, keepdims=True)]
            + ([agreement] if products else []) + [present])


class _NgramEmbeddings:
    """The learned hashed n-gram view (`StudentConfig.ngram_embeddings`): word and
    character n-gram tables, mean-pooled, a shared projection, and the query/item
    vectors, their product and cosines as MLP inputs. Query and item share tables and
    projection so that their vectors live in one space and compare like with like."""

    def __init__(self, config: StudentConfig):
        self.word = MeanPooledEmbedding(
            tx.WORD_HASH_BUCKETS + 1, config.embedding_dim, name="word_ngram_embedding")
        self.char = MeanPooledEmbedding(
            tx.CHAR_HASH_BUCKETS + 1, config.embedding_dim, name="char_ngram_embedding")
        self.projection = keras.layers.Dense(
            config.embedding_dim, activation="tanh", name="text_projection")

    def encode(self, word_ids, char_ids):
        word_vector, char_vector = self.word(word_ids), self.char(char_ids)
        combined = self.projection(ops.concatenate([word_vector, char_vector], axis=-1))
        return word_vector, char_vector, combined

    def interactions(self, query_encodings, item_word_ids, item_char_ids):
        query_word, query_char, query = query_encodings
        item_word, item_char, item = self.encode(item_word_ids, item_char_ids)

        def cosine(a, b):
            return keras.layers.Dot(axes=1, normalize=True)([a, b])

        return [query, item, query * item, cosine(query_word, item_word),
                cosine(query_char, item_char), cosine(query, item)]


def build_student_model(config: StudentConfig, num_grades: int,
                        word_vectors: Optional[np.ndarray] = None,
                        embedding_dims: int = 0) -> keras.Model:
    """Builds the (uncompiled) student; it outputs grade **logits** `[B, G]`.

    `word_vectors` (`[V, d]`, row i for Transform's word id i + 1; see
    `trainer.student.word_vectors`) adds the word-vector view and its two inputs;
    frozen unless `config.word_vectors_trainable`.

    `embedding_dims` D > 0 (needs `word_vectors`) adds the embedding view: inputs
    `item_embedding` `[D]` and `item_embedding_present` `[1]`, a `QueryTower` in the
    query encoder (output `query_tower_vector`), and the cosine, products and presence
    of the two vectors as MLP inputs (`embedding_interactions`).

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
    groups = [student_features.LEXICAL]
    if word_vectors is not None:
        groups.append(student_features.WORD_VECTORS)
    read = student_features.switched_on(dict(config.features))
    specs = [spec for group in groups for spec in read if spec.group == group]
    input_names = [spec.name for spec in specs]
    table = None
    if embedding_dims and word_vectors is None:
        raise ValueError("item embeddings need word vectors: the query tower is built on them")
    if word_vectors is not None:
        table = WordVectorTable(word_vectors, trainable=config.word_vectors_trainable,
                                name="word_vectors")

    query_inputs = {spec.name: _input(spec.name) for spec in specs if spec.query_encoder}
    # The query's n-gram ids pass through the query encoder to the scorer's overlaps.
    query_outputs = {_QUERY_NGRAM_IDS[name]: query_inputs[name] for name in _QUERY_NGRAM_IDS}
    encoding_specs = {encoding: (tuple(query_inputs[name].shape[1:]), "int64")
                      for name, encoding in _QUERY_NGRAM_IDS.items()}
    ngram_embeddings = _NgramEmbeddings(config) if config.ngram_embeddings else None
    if ngram_embeddings is not None:
        query_outputs.update(zip(_QUERY_ENCODINGS, ngram_embeddings.encode(
            query_inputs[tx.QUERY_WORD_IDS], query_inputs[tx.QUERY_CHAR_IDS])))
        encoding_specs.update({name: ((config.embedding_dim,), "float32")
                               for name in _QUERY_ENCODINGS})
    if table is not None:
        query_ids = query_inputs[tx.QUERY_VECTOR_WORD_IDS]
        query_outputs[_QUERY_WORD_VECTORS] = table(query_ids)
        known = ops.cast(query_ids > 0, "float32")
        query_outputs[_QUERY_WORD_VECTOR_MASK] = known
        query_outputs[_QUERY_WORD_WEIGHTS] = known * query_inputs[tx.QUERY_TERM_IDF]
        encoding_specs[_QUERY_WORD_VECTORS] = ((tx.MAX_QUERY_TOKENS, table.dims), "float32")
        encoding_specs[_QUERY_WORD_VECTOR_MASK] = ((tx.MAX_QUERY_TOKENS,), "float32")
        encoding_specs[_QUERY_WORD_WEIGHTS] = ((tx.MAX_QUERY_TOKENS,), "float32")
    if embedding_dims:
        input_names += [ITEM_EMBEDDING, ITEM_EMBEDDING_PRESENT]
        query_outputs[QUERY_TOWER_VECTOR] = QueryTower(
            embedding_dims, config.query_tower_units, name="query_tower")(
            query_outputs[_QUERY_WORD_VECTORS], query_outputs[_QUERY_WORD_VECTOR_MASK],
            query_outputs[_QUERY_WORD_WEIGHTS])
        encoding_specs[QUERY_TOWER_VECTOR] = ((embedding_dims,), "float32")
    query_encoder = keras.Model(inputs=query_inputs, outputs=query_outputs, name=QUERY_ENCODER)

    scorer_inputs = {name: _input(name, embedding_dims)
                     for name in input_names if name not in query_inputs}
    encodings = {
        name: keras.Input(shape=shape, dtype=dtype, name=name)
        for name, (shape, dtype) in encoding_specs.items()
    }
    overlap = NgramOverlap(name="ngram_overlap")
    features = [
        overlap(encodings[_QUERY_NGRAM_IDS[tx.QUERY_WORD_IDS]], scorer_inputs[tx.ITEM_WORD_IDS]),
        overlap(encodings[_QUERY_NGRAM_IDS[tx.QUERY_CHAR_IDS]], scorer_inputs[tx.ITEM_CHAR_IDS]),
    ]
    # The features the MLP takes as they are (BM25, coverage, the query's length...).
    features += [spec.mlp(scorer_inputs[spec.name]) for spec in specs if spec.mlp is not None]
    if ngram_embeddings is not None:
        features += ngram_embeddings.interactions(
            [encodings[name] for name in _QUERY_ENCODINGS],
            scorer_inputs[tx.ITEM_WORD_IDS], scorer_inputs[tx.ITEM_CHAR_IDS])
    if table is not None:
        features.append(WordVectorInteractions(
            table, products=config.word_vector_products, name="word_vector_interactions")(
            encodings[_QUERY_WORD_VECTORS], encodings[_QUERY_WORD_VECTOR_MASK],
            encodings[_QUERY_WORD_WEIGHTS], scorer_inputs[tx.ITEM_VECTOR_WORD_IDS],
            scorer_inputs[tx.QUERY_LENGTH]))
    if embedding_dims:
        features += embedding_interactions(
            encodings[QUERY_TOWER_VECTOR], scorer_inputs[ITEM_EMBEDDING],
            scorer_inputs[ITEM_EMBEDDING_PRESENT], config.embedding_products)
    features = ops.concatenate(features, axis=-1)
    hidden = features
    for index, units in enumerate(config.hidden_units):
        hidden = keras.layers.Dense(units, activation="relu", name=f"hidden_{index}")(hidden)
        if config.dropout > 0:
            hidden = keras.layers.Dropout(config.dropout, seed=config.seed)(hidden)
    logits = keras.layers.Dense(num_grades, name="grade_logits")(hidden)
    scorer = keras.Model(
        inputs={**scorer_inputs, **encodings}, outputs=logits, name=CANDIDATE_SCORER
    )

    inputs = {name: _input(name, embedding_dims) for name in input_names}
    encoded = query_encoder({name: inputs[name] for name in query_inputs})
    outputs = scorer({**{name: inputs[name] for name in scorer_inputs}, **encoded})
    return keras.Model(inputs=inputs, outputs=outputs, name="relevance_student")


def encode_queries_once(model: keras.Model, features: Dict, query_of_row,
                        cached_query_vectors=None):
    """Logits `[N, G]` with the query encoded once per distinct query, not per row.

    Args:
        model: from `build_student_model`.
        features: the model inputs (`select_model_inputs`), one row per candidate.
        query_of_row: `[N]` index of each row's distinct query (e.g. `tf.unique(...).idx`);
            rows with the same index must have the same query features.

    Same result as `model(features)` (inference mode), with the query-side embedding
    and pooling work done U times instead of N.

    `cached_query_vectors`, for a model with item embeddings: a function from the
    distinct queries' row indices `[U]` to (exact embeddings `[U, D]`, hit `[U]`), e.g.
    a `QueryEmbeddingCache` lookup; a hit replaces the query tower's estimate.
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
    if cached_query_vectors is not None and QUERY_TOWER_VECTOR in encoded:
        exact, hit = cached_query_vectors(first_row)
        encoded = dict(encoded)
        encoded[QUERY_TOWER_VECTOR] = tf.where(hit[:, None], exact, encoded[QUERY_TOWER_VECTOR])
    scorer_inputs = {name: value for name, value in features.items()
                     if name not in query_encoder.input}
    scorer_inputs.update({name: tf.gather(value, query_of_row) for name, value in encoded.items()})
    return model.get_layer(CANDIDATE_SCORER)(scorer_inputs, training=False)
