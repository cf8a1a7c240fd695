"""Prepares the student's query side before it trains: the fitted tower and the cache.

`prepare_query_side` reads every row's (query, `query_embedding`) from the student's
corpus, fits the `QueryTower` on the distinct queries of the training split, measures
its agreement with the encoder on the evaluation split's queries (cosine; the queries
the tower saw and did not see, apart), freezes it, and fills a `QueryEmbeddingCache`
with the training split's most frequent queries. The report says how well the tower
agrees and how often the cache would answer the evaluation split's rows.
"""

import dataclasses
from typing import Dict, List, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from relevance import contract
from trainer.student.config import StudentConfig
from trainer.student.item_embeddings import distinct_query_embeddings, query_rows
from trainer.student.model import QUERY_ENCODER, QUERY_TOWER_VECTOR
from trainer.student.query_cache import QueryEmbeddingCache, most_frequent_queries
from trainer.student.query_tower import TowerFit, fit_query_tower, mean_cosine

BATCH = 512


@dataclasses.dataclass
class QuerySideReport:
    """What the query side knows; `tower_cosine_*` are mean cosines with the encoder."""

    training_queries: int
    tower_cosine_training: float
    # Epochs the tower's fit ran: fewer than `query_tower_epochs` when its held-out
    # queries stopped it.
    tower_epochs: int
    evaluation_queries: int
    tower_cosine_unseen: float
    cache_size: int
    cache_hit_rate_evaluation_rows: float

    def to_dict(self) -> Dict:
        return {key: (round(value, 4) if isinstance(value, float) else value)
                for key, value in dataclasses.asdict(self).items()}


def query_encoder_inputs(queries: Sequence[str], tft_layer, adapter,
                         query_encoder: keras.Model) -> Dict[str, np.ndarray]:
    """The query encoder's inputs for `queries`, through the same Transform graph as
    training and serving (the item fields empty: the query features do not read them)."""
    parts: Dict[str, List[np.ndarray]] = {name: [] for name in query_encoder.input}
    for start in range(0, len(queries), BATCH):
        batch = tf.constant(list(queries[start:start + BATCH]))
        empty = tf.fill(tf.shape(batch), "")
        raw = {contract.QUERY: batch, **{name: empty for name in contract.ITEM_TEXT_FIELDS}}
        transformed = tft_layer(adapter(raw))
        for name in parts:
            parts[name].append(transformed[name].numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


def tower_estimates(query_encoder: keras.Model, inputs: Dict[str, np.ndarray]) -> np.ndarray:
    """The query tower's output for prepared `inputs`."""
    outputs = []
    count = len(next(iter(inputs.values())))
    for start in range(0, count, BATCH):
        batch = {name: value[start:start + BATCH] for name, value in inputs.items()}
        outputs.append(np.asarray(query_encoder(batch, training=False)[QUERY_TOWER_VECTOR]))
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), "float32")


def fit_tower(query_encoder: keras.Model, queries: Sequence[str], targets: np.ndarray,
              config: StudentConfig, tft_layer, adapter, seed: int) -> Tuple[TowerFit, float]:
    """Fits the tower in `query_encoder` on distinct `queries` and their encoder
    embeddings `targets`, then freezes it unless `config.query_tower_trainable`;
    returns the fit and the tower's mean cosine on those queries."""
    inputs = query_encoder_inputs(queries, tft_layer, adapter, query_encoder)
    fit = fit_query_tower(query_encoder, QUERY_TOWER_VECTOR, inputs, targets,
                          epochs=config.query_tower_epochs, seed=seed,
                          validation_share=config.query_tower_validation_share)
    query_encoder.get_layer("query_tower").trainable = config.query_tower_trainable
    return fit, mean_cosine(tower_estimates(query_encoder, inputs), targets)


def prepare_query_side(model: keras.Model, config: StudentConfig, tft_layer, adapter,
                       train_files: Sequence[str], eval_files: Sequence[str], dims: int,
                       progress=print):
    """Fits `model`'s query tower (then frozen unless `config.query_tower_trainable`);
    returns (cache, QuerySideReport)."""
    query_encoder = model.get_layer(QUERY_ENCODER)
    train_queries, train_vectors = query_rows(train_files, dims)
    queries, targets = distinct_query_embeddings(train_queries, train_vectors)
    if not queries:
        raise ValueError("the student's training rows carry item embeddings but no "
                         "query_embedding: re-run the ItemEmbedder over them")
    progress(f"Query tower: fitting on {len(queries)} distinct queries "
             f"({config.query_tower_epochs} epochs)")
    fit, training_cosine = fit_tower(query_encoder, queries, targets, config, tft_layer,
                                     adapter, config.seed)

    eval_queries, eval_vectors = query_rows(eval_files, dims)
    seen = set(queries)
    unseen = [index for index, query in enumerate(eval_queries) if query not in seen]
    unseen_queries, unseen_targets = distinct_query_embeddings(
        [eval_queries[index] for index in unseen], eval_vectors[unseen])
    unseen_cosine = float("nan")
    if unseen_queries:
        unseen_cosine = mean_cosine(tower_estimates(query_encoder, query_encoder_inputs(
            unseen_queries, tft_layer, adapter, query_encoder)), unseen_targets)

    cached, vectors = most_frequent_queries(train_queries, train_vectors, config.query_cache_size)
    cache = QueryEmbeddingCache(cached, vectors.reshape(-1, dims))
    hits = 0
    if eval_queries:
        _, hit = cache.lookup(tf.constant(eval_queries))
        hits = int(tf.reduce_sum(tf.cast(hit, tf.int32)))
    report = QuerySideReport(
        training_queries=len(queries), tower_cosine_training=training_cosine,
        tower_epochs=fit.epochs,
        evaluation_queries=len(set(eval_queries)), tower_cosine_unseen=unseen_cosine,
        cache_size=cache.size,
        cache_hit_rate_evaluation_rows=hits / len(eval_queries) if eval_queries else float("nan"))
    progress(f"Query tower: {report.to_dict()}")
    return cache, report


def cache_lookup_of(cache: QueryEmbeddingCache, queries: tf.Tensor):
    """A `encode_queries_once` `cached_query_vectors` function over the rows' queries."""
    return lambda rows: cache.lookup(tf.gather(queries, rows))
