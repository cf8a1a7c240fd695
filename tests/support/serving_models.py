"""Tiny but real relevance SavedModels for tests, the benchmark's --demo and smoke checks.

The model scores query-token overlap with the item text (hashed bags of words), so it
answers sensibly, carries the standard signatures of `models.export`, and builds and
loads in about a second. `hidden_layers` adds dense layers whose cost stands in for a
bigger model (the benchmark's demo teacher).

Example:

>>> import tempfile, os
>>> path = write_lexical_model(os.path.join(tempfile.mkdtemp(), "relevance_student", "1"))
>>> sorted(name for name in os.listdir(path) if name.startswith(("saved_model", "variables")))
['saved_model.pb', 'variables']
"""

import os
import random
import shutil
import tempfile

import tensorflow as tf

from relevance import contract
from models.export import RelevanceServingModule, save_serving_module

_BUCKETS = 1024


def _bag_of_words(text: tf.Tensor) -> tf.Tensor:
    tokens = tf.strings.split(tf.strings.lower(text))
    ids = tf.strings.to_hash_bucket_fast(tokens, _BUCKETS)
    return tf.math.bincount(ids, minlength=_BUCKETS, maxlength=_BUCKETS,
                            binary_output=True, axis=-1, dtype=tf.float32)


class _LexicalOverlap(tf.Module):
    def __init__(self, num_grades: int, weight: float, hidden_layers: int, hidden_size: int,
                 embedding_dims: int = 0):
        super().__init__()
        self.num_grades = num_grades
        self.embedding_dims = embedding_dims
        self.weight = tf.Variable(weight, trainable=False)
        init = tf.random.stateless_normal
        self.hidden = [
            tf.Variable(init([_BUCKETS if i == 0 else hidden_size, hidden_size], seed=(i, 7))
                        * 0.01, trainable=False)
            for i in range(hidden_layers)
        ]

    def __call__(self, raw):
        item_text = tf.strings.reduce_join(
            tf.stack([raw[f] for f in contract.ITEM_TEXT_FIELDS], axis=1), axis=1, separator=" "
        )
        query_bag = _bag_of_words(raw[contract.QUERY])
        item_bag = _bag_of_words(item_text)
        overlap = tf.reduce_sum(query_bag * item_bag, axis=1)
        signal = tf.zeros_like(overlap)
        hidden = item_bag
        for matrix in self.hidden:
            hidden = tf.nn.relu(tf.matmul(hidden, matrix))
        if self.hidden:
            # Tiny contribution: keeps the dense layers in the graph without moving scores much.
            signal = 1e-3 * tf.reduce_mean(hidden, axis=1)
        embeddings = None
        if self.embedding_dims:
            # Like a student with item embeddings: the embedding moves the score where a
            # row has one of the right width, and the output says which rows had one.
            from trainer.student.item_embeddings import (
                ITEM_EMBEDDING, ITEM_EMBEDDING_PRESENT, absent_item_embeddings,
                item_embedding_inputs)
            embeddings = (item_embedding_inputs(raw[contract.ITEM_EMBEDDING], self.embedding_dims)
                          if contract.ITEM_EMBEDDING in raw
                          else absent_item_embeddings(tf.size(overlap), self.embedding_dims))
            signal += tf.reduce_sum(embeddings[ITEM_EMBEDDING], axis=1)
        grades = tf.linspace(-1.0, 1.0, self.num_grades)
        logits = (self.weight * overlap - 1.0 + signal)[:, None] * grades[None, :]
        probabilities = tf.nn.softmax(logits, axis=-1)
        if embeddings is None:
            return probabilities
        return {contract.OUTPUT_PROBABILITIES: probabilities,
                contract.OUTPUT_EMBEDDING_USED: embeddings[ITEM_EMBEDDING_PRESENT][:, 0]}


def write_lexical_model(export_dir: str, num_grades: int = contract.DEFAULT_NUM_GRADES,
                        weight: float = 1.0, hidden_layers: int = 0,
                        hidden_size: int = 256, embedding_dims: int = 0) -> str:
    """Saves a lexical-overlap relevance model at `export_dir`; returns the path.

    Different `weight`s give different outputs, which tells versions apart in tests.
    `embedding_dims` D gives it the item-embedding signature of a student with item
    embeddings: the sum of a row's `item_embedding` is added to its overlap.
    """
    scorer = _LexicalOverlap(num_grades, weight, hidden_layers, hidden_size, embedding_dims)
    module = RelevanceServingModule(scorer, num_grades=num_grades, trackables=[scorer],
                                    embedding_dims=embedding_dims)
    os.makedirs(os.path.dirname(os.path.abspath(export_dir)), exist_ok=True)
    return save_serving_module(module, export_dir)


_WRITTEN = {}  # (num_grades, weight, hidden_layers, hidden_size) -> a saved copy


def copy_lexical_model(export_dir: str, **params) -> str:
    """Like write_lexical_model, but saves each distinct model once per process and copies it.

    Saving traces the graph (seconds); copying a saved directory takes milliseconds,
    which keeps tests and the benchmark's --demo quick.
    """
    params = {"num_grades": contract.DEFAULT_NUM_GRADES, "weight": 1.0, "hidden_layers": 0,
              "hidden_size": 256, "embedding_dims": 0, **params}
    key = tuple(sorted(params.items()))
    if key not in _WRITTEN or not os.path.isdir(_WRITTEN[key]):
        _WRITTEN[key] = write_lexical_model(
            os.path.join(tempfile.mkdtemp(prefix="lexical_model_"), "1"), **params)
    shutil.copytree(_WRITTEN[key], export_dir)
    return export_dir


def sample_candidates(count: int, seed: int = 0):
    """`count` varied candidates (dicts of the contract's item fields) for tests and benchmarks."""
    rng = random.Random(seed)
    words = ["red", "running", "shoes", "blue", "hat", "wool", "scarf", "tea", "cup", "lamp",
             "zapatillas", "rojas", "chaussures", "Laufschuhe", "猫", "кошка", "garden", "chair"]
    candidates = []
    for i in range(count):
        pick = lambda n: " ".join(rng.choice(words) for _ in range(n))  # noqa: E731
        candidates.append({
            "item_id": f"item-{i}",
            "title": pick(4),
            "description": pick(12),
            "image_caption": pick(6),
            "link_title": pick(3),
            "link_description": pick(8),
            "engaged_queries": [pick(2) for _ in range(rng.randint(0, 3))],
            "board_titles": [pick(2) for _ in range(rng.randint(0, 2))],
        })
    return candidates
