"""Hyper-parameters of the student, as passed in the Trainer's custom_config["student"]."""

import dataclasses
from typing import Any, Dict, Mapping, Tuple

from relevance.config_dicts import check_keys


@dataclasses.dataclass(frozen=True)
class StudentConfig:
    """Student model and training settings.

    `temperature`, `distill_weight` and `human_weight` parameterise
    `trainer.student.losses.DistillationLoss`. `min_teacher_spread` (nats; 0 = off) sets
    its teacher contrast: when the teacher's log-probabilities vary across the training
    rows by less than this (pooled standard deviation around each grade's mean), their
    departures from the mean are scaled up to it (see `trainer.student.task`).
    `listwise_weight` and `margin_weight` (0 = off) weigh its order terms, the listwise
    KL at temperature `listwise_temperature` and the margin MSE over a query's
    candidates; either one on trains on batches that keep a query's rows together
    (`models.query_batches`) instead of a shuffle buffer.
    `train_steps` (0 = off), or else the Trainer's `TrainArgs.num_steps`, fixes the
    number of optimiser steps whatever the data volume: they are split evenly over
    `epochs` and the training rows are repeated as needed. Without it an epoch is one
    pass over the rows, so a small training set gets few steps (e.g. 88 rows at batch
    256: one step per epoch), which confounds data volume with training length when
    comparing volumes.

    Example:

    >>> config = StudentConfig.from_dict({"embedding_dim": 16})
    >>> config.embedding_dim, config.hidden_units
    (16, (64, 32))
    >>> StudentConfig.from_dict(config.to_dict()) == config
    True
    >>> StudentConfig(features={"title_words": True}).to_dict()["features"]
    {'title_words': True}
    """

    embedding_dim: int = 32
    hidden_units: Tuple[int, ...] = (64, 32)
    dropout: float = 0.1
    epochs: int = 5
    train_steps: int = 0
    batch_size: int = 256
    learning_rate: float = 3e-3
    temperature: float = 2.0
    distill_weight: float = 1.0
    human_weight: float = 1.0
    min_teacher_spread: float = 0.0
    listwise_weight: float = 0.0
    listwise_temperature: float = 1.0
    margin_weight: float = 0.0
    shuffle_buffer: int = 10000
    seed: int = 42
    # Word vectors distilled from this pretrained encoder preset ("" = none; the
    # pipeline sets it to the teacher's preset when that is pretrained), reduced to
    # `word_vector_dims`, frozen unless `word_vectors_trainable`. See
    # trainer.student.word_vectors. They are cached beside the presets, in
    # `preset_cache_dir` ("" = trainer.teacher.presets.cache.default_cache_dir()).
    word_vectors_preset: str = ""
    word_vector_dims: int = 128
    word_vectors_trainable: bool = False
    # The elementwise products of the pooled query and item vectors as MLP inputs,
    # beside the six cosine features (trainer.student.word_vector_interactions).
    word_vector_products: bool = True
    # Learned hashed n-gram embeddings as MLP inputs (the student before the word
    # vectors). Off: the n-grams enter only through their exact overlaps
    # (`trainer.student.ngram_overlap`), which generalise to unseen queries and items.
    ngram_embeddings: bool = False
    preset_cache_dir: str = ""
    # The precomputed `item_embedding` / `query_embedding` features (the ItemEmbedder's),
    # used when the training rows carry them (trainer.student.item_embeddings): their
    # cosine, products (`embedding_products`) and presence as MLP inputs, the query's
    # side estimated per request by a `QueryTower` of `query_tower_units` hidden units,
    # fitted for `query_tower_epochs` before the student, and answered exactly for the
    # corpus's `query_cache_size` most frequent queries. `embedding_dropout` of the
    # training rows hide their item embedding, so that a request without one is
    # answered from the other features. The fitted tower is frozen unless
    # `query_tower_trainable` (then the student's loss tunes it further; measured in
    # docs/results.md, "Student with item embeddings").
    item_embeddings: bool = True
    embedding_products: bool = True
    query_tower_units: int = 256
    query_tower_epochs: int = 40
    query_tower_trainable: bool = False
    # Share of the tower's distinct queries held out to stop its fit early (0: every
    # epoch on every query).
    query_tower_validation_share: float = 0.1
    query_cache_size: int = 10000
    embedding_dropout: float = 0.1
    # Switchable features (`trainer.student.features`, a spec with a `switch`) turned on
    # or off by name, e.g. {"title_words": True}; unnamed ones keep their spec's default.
    # Held as sorted (name, on) pairs; a dict in `to_dict`.
    features: Tuple[Tuple[str, bool], ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "features", tuple(sorted(
            (str(name), bool(on)) for name, on in dict(self.features).items())))

    def to_dict(self) -> Dict[str, Any]:
        """JSON-friendly dict (tuples become lists)."""
        values = dataclasses.asdict(self)
        values["hidden_units"] = list(self.hidden_units)
        values["features"] = dict(self.features)
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] = None) -> "StudentConfig":
        """Builds a config from `values`; missing keys default, unknown ones are a ValueError."""
        check_keys(cls, values)
        kwargs = dict(values or {})
        if "hidden_units" in kwargs:
            kwargs["hidden_units"] = tuple(int(units) for units in kwargs["hidden_units"])
        return cls(**kwargs)
