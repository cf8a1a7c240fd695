"""Teacher hyper-parameters, read from the Trainer's `custom_config["teacher"]`."""

import dataclasses
from typing import Any, Dict, Optional, Tuple

from relevance import contract
from relevance.config_dicts import check_keys
from trainer.teacher.presets.registry import (DEFAULT_TEACHER_PRESET, get_spec,
                                              is_from_scratch)

# Word budgets per item field. They keep one long field (a description) from using the
# whole sequence: fields come in contract order and the packer truncates the item
# segment from the end, so without budgets the list fields would rarely be seen.
DEFAULT_FIELD_BUDGETS = {
    # Titles get most: an item's one line of text may be all it has (an XQuAD-R
    # candidate is one sentence, whose answer lies past word 16 in 35-43% of en, es and
    # de sentences; docs/pretrained_teacher.md).
    "title": 48,
    "description": 8,
    "image_caption": 8,
    "link_title": 8,
    "link_description": 8,
    "engaged_queries": 12,
    "board_titles": 12,
}

# Defaults that depend on the kind of teacher, chosen by measurement (docs/teacher.md,
# docs/pretrained_teacher.md). A small encoder trained from scratch needs many epochs
# at a high learning rate; a pretrained one is fine-tuned for a few epochs at a low
# one, with its 96 M-parameter embedding table frozen (82% of the weights; training it
# cost 1.4x the time per step and 3x the memory for no gain on held-out queries) and a
# head that learns 30x as fast as the backbone.
FROM_SCRATCH_DEFAULTS = dict(sequence_length=64, batch_size=16, learning_rate=1e-3, epochs=20,
                             lowercase=True, mark_query_matches=True, freeze_embeddings=False,
                             head_learning_rate_multiplier=1.0, match_features=False)
# Measured on XQuAD-R development questions (bench/teacher_dev_curve.py: English labels,
# nDCG@10 in en / es / de / zh): at 2e-4 the cross-encoder collapsed to the base rate;
# at 3e-5 with a plain head the head barely left zero and the teacher stayed the
# similarity prior; with the head at 30x it learns. Query-match markers cost the
# languages the labels never saw (zh, written without spaces, gets no markers at all),
# so they are off; lexical match features in the head (word and character-bigram
# coverage, every script) carry the overlap instead; 128 tokens fit a 48-word title.
PRETRAINED_DEFAULTS = dict(sequence_length=128, batch_size=16, learning_rate=3e-5, epochs=3,
                           lowercase=False, mark_query_matches=False, freeze_embeddings=True,
                           head_learning_rate_multiplier=30.0, match_features=True)

TOKEN_CACHES = ("memory", "disk", "none")
POOLINGS = ("auto", "first", "last")
MIXED_PRECISION = ("auto", "off", "on")


@dataclasses.dataclass
class TeacherConfig:
    """How the teacher is built and trained.

    `preset` is a preset this project builds ("multilingual-e5-small", the default, or
    "from-scratch"; see `trainer.teacher.presets`), a local keras-hub preset directory
    or a keras-hub preset name. "from-scratch" (or None) builds the small encoder from
    scratch (`hidden_dim`, `num_layers`, `num_heads`, `intermediate_dim`,
    `vocabulary_size` only apply to it). Settings left None take the defaults of the
    teacher's kind (FROM_SCRATCH_DEFAULTS or PRETRAINED_DEFAULTS).

    Example:

    >>> config = TeacherConfig.from_dict({"epochs": 2})
    >>> config.epochs, config.preset, config.learning_rate
    (2, 'multilingual-e5-small', 3e-05)
    >>> TeacherConfig.from_dict({"epoch": 2})
    Traceback (most recent call last):
    ...
    ValueError: TeacherConfig: unknown key 'epoch' (did you mean 'epochs'?)
    >>> TeacherConfig.from_dict(config.to_dict()) == config
    True
    >>> TeacherConfig(preset="from-scratch").epochs
    20
    >>> TeacherConfig().similarity_prior, TeacherConfig(preset="/my/preset").similarity_prior
    (True, False)
    """

    preset: Optional[str] = DEFAULT_TEACHER_PRESET
    # Where presets this project builds are cached (None: presets.cache.default_cache_dir).
    preset_cache_dir: Optional[str] = None
    sequence_length: Optional[int] = None
    batch_size: Optional[int] = None
    learning_rate: Optional[float] = None
    # Linear warm-up over this fraction of all training steps, then cosine decay to 0.
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    clipnorm: Optional[float] = 1.0
    # Sized for demo-scale data (~1000 labeled rows); lower it for large datasets.
    epochs: Optional[int] = None
    # A wall-clock budget for training (trainer.teacher.time_budget): the learning-rate
    # schedule runs over these seconds and training stops when they are spent; `epochs`
    # then only caps it. None: train for `epochs`.
    train_seconds: Optional[float] = None
    # XLA for the train / eval steps; "auto" lets Keras decide.
    jit_compile: Any = False
    # Where the tokenized training and eval inputs are kept between epochs: "memory"
    # (about 9 bytes per token, i.e. sequence_length * 9 bytes per row), "disk" (a
    # temporary file cache, for data that does not fit in memory) or "none" (tokenize
    # again every epoch).
    token_cache: str = "memory"
    # The default preset (ignored when `preset` is set).
    hidden_dim: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_dim: int = 128
    vocabulary_size: int = 4000
    dropout: float = 0.1
    # Start each attention layer with key kernel = query kernel (see default_preset).
    tied_query_key_init: bool = True
    freeze_backbone: bool = False
    # Keep the token embedding table fixed (pretrained teachers: see the defaults).
    freeze_embeddings: Optional[bool] = None
    # The cross-encoder (any keras-hub backbone; see backbones.py and heads.py).
    # "auto": the first token for encoders, the last non-padding token for decoders.
    pooling: str = "auto"
    # Hidden layers of the MLP head; None = one layer of the backbone's width.
    head_hidden_units: Optional[Tuple[int, ...]] = None
    head_activation: str = "tanh"
    # The head (and the similarity prior's Dense) learns this many times as fast as the
    # backbone (scaled_dense.ScaledDense): a fresh head on a backbone fine-tuned at a low rate.
    head_learning_rate_multiplier: Optional[float] = None
    # Give the head the pair's lexical match features (trainer.teacher.match_features:
    # query word and character-bigram coverage, in every script).
    match_features: Optional[bool] = None
    # Give the head the student's BM25 signals per item field (trainer.teacher.
    # lexical_signals), computed by the pipeline's Transform graph, which the teacher's
    # SavedModel then carries. Needs the Trainer's transform_graph.
    lexical_signals: bool = False
    # Weight of the listwise term beside the cross-entropy (trainer.teacher.
    # listwise_training: softmax cross-entropy over each query's candidates, graded
    # gains); 0 = pointwise only. Batches then hold whole queries.
    listwise_weight: float = 0.0
    # LoRA rank on the backbone's attention query / value projections (0 = off). With
    # LoRA only the LoRA factors and the head train (freeze_backbone is then implied).
    # None: the preset's default (8 for smollm2-135m), else 0.
    lora_rank: Optional[int] = None
    # "auto": mixed_float16 when a GPU is present, else full precision; "on" forces a
    # mixed policy (bfloat16 on CPU); "off" keeps the preset's dtype.
    mixed_precision: str = "auto"
    # The item text.
    field_budgets: Dict[str, int] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_FIELD_BUDGETS)
    )
    fields: Tuple[str, ...] = contract.ITEM_TEXT_FIELDS
    query_budget: int = 24
    max_list_entries: int = 8
    # Lower-case the text: the from-scratch vocabulary is learned from lower-cased words;
    # pretrained vocabularies are cased.
    lowercase: Optional[bool] = None
    # Mark item words that also occur in the query (item_text.MATCH_MARKER); the default
    # depends on the teacher's kind (measured, README "Teacher").
    mark_query_matches: Optional[bool] = None
    # Add the backbone's own bi-encoder score to the head (trainer.teacher.similarity_prior;
    # pretrained encoders only): the query and the item are also encoded alone, the
    # query at `prior_query_length` tokens, each after its prefix (multilingual-e5's).
    # None: on for the presets pre-trained as bi-encoders (PresetSpec.bi_encoder, by name;
    # measured on CrowdFlower and XQuAD-R, docs/results.md), off for any other.
    similarity_prior: Optional[bool] = None
    prior_query_length: int = 32
    prior_query_prefix: str = "query: "
    prior_item_prefix: str = "passage: "
    seed: int = 13

    def __post_init__(self):
        defaults = FROM_SCRATCH_DEFAULTS if self.from_scratch else PRETRAINED_DEFAULTS
        spec = get_spec(self.preset) if isinstance(self.preset, str) else None
        defaults = {**defaults, "lora_rank": 0, **(spec.teacher_defaults if spec else {})}
        for name, value in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.similarity_prior is None:
            self.similarity_prior = bool(spec and spec.bi_encoder)
        if self.token_cache not in TOKEN_CACHES:
            raise ValueError(f"token_cache must be one of {TOKEN_CACHES}, "
                             f"got {self.token_cache!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}, "
                             f"got {self.mixed_precision!r}")
        if self.train_seconds is not None and float(self.train_seconds) <= 0:
            raise ValueError(f"train_seconds must be > 0, got {self.train_seconds}")
        if float(self.listwise_weight) < 0:
            raise ValueError(f"listwise_weight must be >= 0, got {self.listwise_weight}")
        self.listwise_weight = float(self.listwise_weight)
        if int(self.lora_rank) < 0:
            raise ValueError(f"lora_rank must be >= 0, got {self.lora_rank}")
        self.lora_rank = int(self.lora_rank)
        if self.head_hidden_units is not None:
            self.head_hidden_units = tuple(int(u) for u in self.head_hidden_units)
        self.fields = tuple(self.fields)
        unknown = [f for f in self.fields if f not in contract.ITEM_TEXT_FIELDS]
        if unknown:
            raise ValueError(
                f"unknown item fields {unknown}; choose from {contract.ITEM_TEXT_FIELDS}"
            )
        # A partial dict of budgets overrides the defaults field by field.
        self.field_budgets = {**DEFAULT_FIELD_BUDGETS, **dict(self.field_budgets)}

    @property
    def from_scratch(self) -> bool:
        """Whether this is the built-in teacher trained from scratch."""
        return is_from_scratch(self.preset)

    def marks_query_matches(self) -> bool:
        """Whether the item text marks query matches."""
        return bool(self.mark_query_matches)

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-serialisable dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["fields"] = list(self.fields)
        if self.head_hidden_units is not None:
            out["head_hidden_units"] = list(self.head_hidden_units)
        return out

    @classmethod
    def from_dict(cls, values: Optional[Dict[str, Any]]) -> "TeacherConfig":
        """Builds a config from `values`; a key it does not know is a ValueError."""
        check_keys(cls, values)
        return cls(**(values or {}))
