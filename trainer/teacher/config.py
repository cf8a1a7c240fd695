"""Teacher hyper-parameters, read from the Trainer's `custom_config["teacher"]`."""

import dataclasses
from typing import Any, Dict, Optional, Tuple

from relevance import contract

# Word budgets per item field. They keep one long field (a description) from using the
# whole sequence: fields come in contract order and the packer truncates the item
# segment from the end, so without budgets the list fields would rarely be seen.
DEFAULT_FIELD_BUDGETS = {
    "title": 16,
    "description": 8,
    "image_caption": 8,
    "link_title": 8,
    "link_description": 8,
    "engaged_queries": 12,
    "board_titles": 12,
}

TOKEN_CACHES = ("memory", "disk", "none")
POOLINGS = ("auto", "first", "last")
MIXED_PRECISION = ("auto", "off", "on")


@dataclasses.dataclass
class TeacherConfig:
    """How the teacher is built and trained.

    `preset` is a keras-hub preset (a name such as "xlm_roberta_base_multi", or a local
    directory written by `save_to_preset`); None builds the small default encoder from
    scratch (`hidden_dim`, `num_layers`, `num_heads`, `intermediate_dim`,
    `vocabulary_size` only apply to that default).

    Example:

    >>> config = TeacherConfig.from_dict({"epochs": 2, "not_a_key": 1})
    >>> config.epochs, config.preset
    (2, None)
    >>> TeacherConfig.from_dict(config.to_dict()) == config
    True
    """

    preset: Optional[str] = None
    sequence_length: int = 64
    batch_size: int = 16
    learning_rate: float = 1e-3
    # Linear warm-up over this fraction of all training steps, then cosine decay to 0.
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    clipnorm: Optional[float] = 1.0
    # Sized for demo-scale data (~1000 labeled rows); lower it for large datasets.
    epochs: int = 20
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
    # The cross-encoder (any keras-hub backbone; see backbones.py and heads.py).
    # "auto": the first token for encoders, the last non-padding token for decoders.
    pooling: str = "auto"
    # Hidden layers of the MLP head; None = one layer of the backbone's width.
    head_hidden_units: Optional[Tuple[int, ...]] = None
    head_activation: str = "tanh"
    # LoRA rank on the backbone's attention query / value projections (0 = off). With
    # LoRA only the LoRA factors and the head train (freeze_backbone is then implied).
    lora_rank: int = 0
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
    # The default vocabulary is learned from lower-cased words, so the text is lowered too.
    lowercase: bool = True
    # Mark item words that also occur in the query (item_text.MATCH_MARKER). None = on
    # for the default from-scratch teacher, off for a pretrained `preset`.
    mark_query_matches: Optional[bool] = None
    seed: int = 13

    def __post_init__(self):
        if self.token_cache not in TOKEN_CACHES:
            raise ValueError(f"token_cache must be one of {TOKEN_CACHES}, "
                             f"got {self.token_cache!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}, "
                             f"got {self.mixed_precision!r}")
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

    def marks_query_matches(self) -> bool:
        """Whether the item text marks query matches (resolves None by `preset`)."""
        if self.mark_query_matches is None:
            return self.preset is None
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
        """Builds a config from `values`, ignoring keys it does not know."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in names})
