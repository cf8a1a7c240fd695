"""fit_query_tower: fitted by cosine, stopped early on held-out queries."""

import keras
import numpy as np
import pytest

from trainer.student.query_tower import fit_query_tower


def _encoder(width=6, dims=4):
    words = keras.Input(shape=(width,), name="words")
    other = keras.layers.Dense(dims, name="frozen_part", trainable=False)(words)
    tower = keras.layers.Dense(dims, name="query_tower")(words)
    return keras.Model({"words": words}, {"vector": tower, "other": other})


def _queries(count=400, width=6, dims=4, learnable=True, seed=0):
    rng = np.random.default_rng(seed)
    inputs = {"words": rng.normal(size=(count, width)).astype("float32")}
    mapping = rng.normal(size=(width, dims))
    targets = inputs["words"] @ mapping if learnable else rng.normal(size=(count, dims))
    return inputs, targets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_learnable_map_is_fitted_by_cosine(seed):
    keras.utils.set_random_seed(seed)  # the encoder's initial weights
    inputs, targets = _queries(seed=seed)
    fit = fit_query_tower(_encoder(), "vector", inputs, targets, epochs=60,
                          learning_rate=0.03, seed=seed)
    assert fit.epochs == 60
    assert fit.training_cosine > 0.95, fit


def test_held_out_queries_stop_a_fit_that_cannot_generalise():
    keras.utils.set_random_seed(0)
    inputs, targets = _queries(learnable=False)  # noise: nothing carries to new queries
    fit = fit_query_tower(_encoder(), "vector", inputs, targets, epochs=200,
                          validation_share=0.2, patience=3)
    assert fit.epochs < 200, fit
    few_inputs, few_targets = _queries(count=20, learnable=False)
    # Too few queries to hold any out: every epoch runs.
    assert fit_query_tower(_encoder(), "vector", few_inputs, few_targets, epochs=5,
                           validation_share=0.2).epochs == 5
