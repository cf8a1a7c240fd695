"""A query tower the student can afford per request: word vectors -> encoder embedding.

The item side of the student's embedding features is computed offline by the pretrained
encoder (the ItemEmbedder) and travels with the item. The query arrives with the
request, and running the encoder on it would cost a transformer pass per request. The
tower estimates the encoder's query embedding from what the student already holds: the
query's distilled word vectors (`trainer.student.word_vectors`, themselves the encoder's
embeddings of single words), pooled plainly and by idf, then

    t(q) = normalize(A x + B relu(C x)),   x = [mean(v_w), normalize(sum_w idf_w v_w)]

It is fitted before the student (`fit_query_tower`) on every query of the student's
corpus (labeled and pseudo-labeled, every language), by cosine to that query's
precomputed `query_embedding`, stopped early on a held-out share of those queries, and
frozen while the student trains. Core TF ops only, so
stock TF Serving loads it. `QueryEmbeddingCache` answers the most frequent queries
exactly instead.

Example:

>>> import numpy as np
>>> tower = QueryTower(output_dims=3, hidden_units=4)
>>> vectors = np.ones((2, 5, 8), "float32")
>>> known = np.array([[1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], "float32")
>>> out = tower(vectors, known, known * 2.0)
>>> out.shape, [round(float(n), 3) for n in np.linalg.norm(out, axis=1)]
(TensorShape([2, 3]), [1.0, 1.0])
"""

import math
from typing import Dict, NamedTuple

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="relevance_student")
class QueryTower(keras.layers.Layer):
    """Pooled query word vectors `[B, Q, d]` (with their mask and idf weights `[B, Q]`)
    -> a unit vector `[B, output_dims]` in the item embeddings' space."""

    def __init__(self, output_dims: int, hidden_units: int = 256, **kwargs):
        super().__init__(**kwargs)
        self.output_dims, self.hidden_units = int(output_dims), int(hidden_units)
        self.linear = keras.layers.Dense(self.output_dims, name="linear")
        self.hidden = keras.layers.Dense(self.hidden_units, activation="relu", name="hidden")
        self.residual = keras.layers.Dense(self.output_dims, name="residual")

    def call(self, query_vectors, query_known, query_weights):
        mean = tf.reduce_sum(query_vectors * query_known[..., None], axis=1) / tf.maximum(
            tf.reduce_sum(query_known, axis=1, keepdims=True), 1.0)
        weighted = tf.math.l2_normalize(
            tf.reduce_sum(query_vectors * query_weights[..., None], axis=1), axis=-1)
        pooled = tf.concat([mean, weighted], axis=-1)
        return tf.math.l2_normalize(
            self.linear(pooled) + self.residual(self.hidden(pooled)), axis=-1)

    def compute_output_shape(self, query_vectors_shape, *unused_shapes):
        return (query_vectors_shape[0], self.output_dims)

    def get_config(self):
        return {**super().get_config(), "output_dims": self.output_dims,
                "hidden_units": self.hidden_units}


def mean_cosine(estimates: np.ndarray, targets: np.ndarray) -> float:
    """Mean cosine of matching rows (the tower's agreement with the encoder).

    >>> mean_cosine(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [1.0, 0.0]]))
    0.5
    """
    def unit(x):
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    if not len(targets):
        return float("nan")
    return float(np.mean(np.sum(unit(estimates) * unit(targets), axis=1)))


class TowerFit(NamedTuple):
    """What `fit_query_tower` did: the last epoch's mean cosine on the training queries,
    and the epochs run (fewer than asked when the held-out queries stopped it)."""

    training_cosine: float
    epochs: int


# Fewer distinct queries than this: no held-out share, every epoch is run.
MIN_QUERIES_FOR_VALIDATION = 50


def fit_query_tower(query_encoder: keras.Model, output_name: str, inputs: Dict[str, np.ndarray],
                    targets: np.ndarray, epochs: int = 40, batch_size: int = 128,
                    learning_rate: float = 3e-3, seed: int = 42,
                    validation_share: float = 0.0, patience: int = 3) -> TowerFit:
    """Trains the tower inside `query_encoder` (the student's query encoder; its other
    weights are frozen) so that its output `output_name` matches `targets` by cosine:
    loss = 1 - cos(t(q), e(q)), one row per distinct query.

    With `validation_share` > 0 (and enough queries), that share of the queries, drawn
    by `seed`, is held out; training stops once their cosine has not improved for
    `patience` epochs and keeps the best epoch's weights. The tower answers queries it
    never saw, so this is what it is tuned for."""
    if not len(targets):
        raise ValueError("no query embeddings to fit the query tower on")
    keras.utils.set_random_seed(seed)
    model_inputs = {name: keras.Input(shape=value.shape[1:], dtype=value.dtype.name, name=name)
                    for name, value in inputs.items()}
    tower_model = keras.Model(model_inputs, query_encoder(model_inputs)[output_name])
    tower_model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                        loss=keras.losses.CosineSimilarity())
    targets = targets.astype("float32")
    held_out = int(len(targets) * validation_share)
    fit_args = {}
    if validation_share > 0 and len(targets) >= MIN_QUERIES_FOR_VALIDATION and held_out:
        order = np.random.default_rng(seed).permutation(len(targets))
        validation, training = order[:held_out], order[held_out:]
        fit_args = dict(
            validation_data=({n: v[validation] for n, v in inputs.items()}, targets[validation]),
            callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                                     restore_best_weights=True)])
        inputs = {n: v[training] for n, v in inputs.items()}
        targets = targets[training]
    steps = max(1, math.ceil(len(targets) / batch_size))
    history = tower_model.fit(inputs, targets, batch_size=batch_size, epochs=epochs,
                              steps_per_epoch=steps, shuffle=True, verbose=0, **fit_args)
    # keras' CosineSimilarity loss is the negated cosine.
    return TowerFit(-float(history.history["loss"][-1]), len(history.history["loss"]))
