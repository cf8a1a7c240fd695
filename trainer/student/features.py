"""The student's features, declared once: Transform, the model and the config read this.

`FEATURES` is the table: one `FeatureSpec` a feature, saying its name (the Transform
output and the model input), width, dtype, whether it depends on the query only, how
Transform computes it (a function of the batch's `TextBatch`), which students read it
(`group`), where the model reads it (the query encoder, once per distinct query, or the
candidate scorer) and, for a feature the MLP takes as it is, how (`mlp`).

`trainer.student.preprocessing.preprocessing_fn` outputs every feature of the table;
`trainer.student.model.build_student_model` takes as inputs those of its groups and
feeds the `mlp` ones to its MLP. So a new feature is its own module (its `compute`,
reading the `TextBatch`) plus one entry here. An entry with a `switch` can be turned on or
off without touching anything else: `StudentConfig.features` (`{"name": true}`) and the
`--student-feature NAME=on|off` flag set it; Transform computes it either way.

Features the MLP does not take as they are (the n-gram ids, the word-vector ids, the
query's idf) are read by name by one of the model's views (`NgramOverlap`, the word
vectors), which is where a feature that needs a new kind of interaction goes.
"""

import dataclasses
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

from trainer.student import lexical_features as lexical
from trainer.student import text_features as tx
from trainer.teacher.lexical_signals import TRANSFORM_OUTPUT as TEACHER_SIGNALS

# Which students read a feature: every one, one with word vectors, or none (a Transform
# output for another reader, e.g. the teacher's vocabulary).
LEXICAL = "lexical"
WORD_VECTORS = "word_vectors"
TRANSFORM_ONLY = ""
_GROUPS = (LEXICAL, WORD_VECTORS, TRANSFORM_ONLY)
_DTYPES = ("int64", "float32")


def log1p_of_positive(value):
    """`log1p(max(value, 0))`: keeps an unbounded, heavy-tailed count (BM25, a length)
    tame as an MLP input."""
    from keras import ops

    return ops.log1p(ops.maximum(value, 0.0))


def log1p(value):
    from keras import ops

    return ops.log1p(value)


def as_is(value):
    return value


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """One student feature: a Transform output `[B, width]` and, unless
    `group == TRANSFORM_ONLY`, a model input of the same name.

    `compute(batch)` builds it from the batch's `TextBatch`: per distinct query
    (`[U, width]`, or `[U]` when `width == 1`) when `query_only`, else per row; it may
    use the batch's analyzer-backed values (idf, vocabularies). `query_encoder`: the
    model reads it in its query encoder, once per distinct query at serving time (a
    query-only feature a view encodes). `mlp`: the MLP input the candidate scorer makes
    of it (`as_is`, `log1p_of_positive`...); None when a view reads it by name.
    `switch`: None, always read; True or False, the default of its on/off switch
    (`StudentConfig.features`, checked by `switched_on`).

    Example:

    >>> import tensorflow as tf
    >>> from relevance import contract
    >>> from trainer.student.text_batch import TextBatch
    >>> def title_words(batch):  # its own module in the project
    ...     return tf.cast(batch.field_tokens("title").row_lengths(), tf.float32)
    >>> spec = FeatureSpec("title_words", width=1, dtype="float32", compute=title_words,
    ...                    mlp=log1p)
    >>> texts = {name: tf.constant(["", ""]) for name in contract.ITEM_TEXT_FIELDS}
    >>> texts.update(query=tf.constant(["red shoes"] * 2),
    ...              title=tf.constant(["Red running shoes", "A hat"]))
    >>> spec.transform(TextBatch(texts)).numpy().tolist()
    [[3.0], [2.0]]
    >>> [(spec.name, spec.width) for spec in FEATURES if spec.group == WORD_VECTORS]
    [('query_vector_word_ids', 16), ('item_vector_word_ids', 64), ('query_term_idf', 16)]
    """

    name: str
    width: int
    dtype: str
    compute: Callable
    query_only: bool = False
    group: str = LEXICAL
    query_encoder: bool = False
    mlp: Optional[Callable] = None
    switch: Optional[bool] = None

    def __post_init__(self):
        if self.dtype not in _DTYPES or self.group not in _GROUPS or self.width < 1:
            raise ValueError(f"{self.name}: dtype {self.dtype!r} (one of {_DTYPES}), group "
                             f"{self.group!r} (one of {_GROUPS}), width {self.width} (>= 1)")
        if self.query_encoder and (self.mlp is not None or not self.query_only
                                   or self.group == TRANSFORM_ONLY):
            raise ValueError(f"{self.name}: the query encoder reads query-only model inputs "
                             "that a view encodes; the MLP's are read per candidate")

    def transform(self, batch) -> "tf.Tensor":  # noqa: F821
        """The Transform output `[B, width]` of `batch` (a `TextBatch`)."""
        import tensorflow as tf

        value = self.compute(batch)
        if self.query_only:
            value = batch.per_row(value)
        if value.dtype.name != self.dtype:
            raise ValueError(f"{self.name}: computed {value.dtype.name}, declared {self.dtype}")
        if value.shape.rank == 2 and value.shape[1] == self.width:
            return value
        # TFT needs a static inner shape to declare a FixedLenFeature; analyzer outputs
        # lose it along the way.
        return tf.reshape(value, [-1, self.width])


FEATURES: Tuple[FeatureSpec, ...] = (
    FeatureSpec(tx.QUERY_WORD_IDS, tx.MAX_QUERY_WORD_NGRAMS, "int64",
                lexical.query_word_ngram_ids, query_only=True, query_encoder=True),
    FeatureSpec(tx.QUERY_CHAR_IDS, tx.MAX_QUERY_CHAR_NGRAMS, "int64",
                lexical.query_char_ngram_ids, query_only=True, query_encoder=True),
    FeatureSpec(tx.ITEM_WORD_IDS, tx.MAX_ITEM_WORD_NGRAMS, "int64", lexical.item_word_ngram_ids),
    FeatureSpec(tx.ITEM_CHAR_IDS, tx.MAX_ITEM_CHAR_NGRAMS, "int64", lexical.item_char_ngram_ids),
    FeatureSpec(tx.BM25, tx.NUM_LEXICAL_FIELDS, "float32", lexical.bm25,
                mlp=log1p_of_positive),
    FeatureSpec(tx.QUERY_TERM_COVERAGE, tx.NUM_LEXICAL_FIELDS, "float32",
                lexical.query_term_coverage, mlp=as_is),
    FeatureSpec(tx.QUERY_LENGTH, 1, "float32", lexical.query_length, query_only=True,
                mlp=log1p),
    FeatureSpec(tx.QUERY_CORPUS_WORD_IDS, tx.MAX_QUERY_TOKENS, "int64",
                lexical.query_corpus_word_ids, query_only=True, group=TRANSFORM_ONLY),
    FeatureSpec(tx.QUERY_VECTOR_WORD_IDS, tx.MAX_QUERY_TOKENS, "int64",
                lexical.query_vector_word_ids, query_only=True, group=WORD_VECTORS,
                query_encoder=True),
    FeatureSpec(tx.ITEM_VECTOR_WORD_IDS, tx.MAX_ITEM_VECTOR_WORDS, "int64",
                lexical.item_vector_word_ids, group=WORD_VECTORS),
    FeatureSpec(tx.QUERY_TERM_IDF, tx.MAX_QUERY_TOKENS, "float32", lexical.query_term_idf,
                query_only=True, group=WORD_VECTORS, query_encoder=True),
    FeatureSpec(TEACHER_SIGNALS, 3 * tx.NUM_LEXICAL_FIELDS + 1, "float32",
                lexical.teacher_signals, group=TRANSFORM_ONLY),
)


def table() -> Tuple[FeatureSpec, ...]:
    """`FEATURES` as it is now (what Transform and the model read, at call time)."""
    return FEATURES


def widths(groups: Sequence[str], features: Sequence[FeatureSpec] = None) -> Dict[str, int]:
    """Name -> width of the features of `groups`, in table order."""
    return {spec.name: spec.width for spec in (features or table()) if spec.group in groups}


def switched_on(switches: Mapping[str, bool] = None,
                features: Sequence[FeatureSpec] = None) -> Tuple[FeatureSpec, ...]:
    """The features a student reads under `switches` (name -> on, e.g.
    `dict(StudentConfig.features)`): those without a switch and the switched-on ones.
    Naming a feature that has no switch is a ValueError.

    >>> [spec.name for spec in switched_on({})] == [spec.name for spec in FEATURES]
    True
    """
    features = features or table()
    switches = dict(switches or {})
    can_switch = {spec.name for spec in features if spec.switch is not None}
    unknown = sorted(set(switches) - can_switch)
    if unknown:
        raise ValueError(f"student feature switch(es) {', '.join(unknown)}: the features "
                         f"that can be switched are {sorted(can_switch) or 'none'}")
    return tuple(spec for spec in features
                 if spec.switch is None or switches.get(spec.name, spec.switch))
