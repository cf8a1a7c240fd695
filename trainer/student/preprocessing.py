"""TFX Transform `preprocessing_fn`: lexical features and hashed n-grams for the student.

Analyzers run over the whole text corpus (train + unlabeled, every language), so IDF and
average field lengths describe the traffic the student will serve, not just the graded
sample. Only core TensorFlow ops are used: the resulting graph is embedded in the
student's SavedModel, which must load in a stock TF Serving.

Outputs: every feature of `trainer.student.features.FEATURES`, dense `[B, width]`
int64 or float32 under its name (the table says each one's width, dtype and how it is
computed, from the batch's `trainer.student.text_batch.TextBatch`).

Serving cost (the graph runs inside the student's serving signature, one query x N
candidates): query-side work runs once per distinct query of the batch and is gathered
back to the rows; all item text is lower-cased, split and fingerprinted in one pass
(one `StringSplit` on whitespace and ASCII punctuation: no punctuation regex over the
item text), and the fingerprints serve both BM25 term matching and the hashed word
n-grams; character n-grams cover the query and the item title only (the only texts
that still get the punctuation regex); vocabulary tables are built outside
the traced function, so they are initialised once when the model loads, not per call.

`query_corpus_word_ids` exists so that the `corpus_word_counts` vocabulary (read by the
teacher through `TFTransformOutput.vocabulary_file_by_name`) is always computed. The
`*_vector_word_ids` are the same vocabulary's line numbers + 1 of the query's words and
of the item's first words (fields in embedding order), 0 for padding and for words
outside the vocabulary: the rows of the student's distilled word-vector table
(`trainer.student.word_vectors`).

Never reads `grade` or pseudo-label features: unlabeled rows do not have them.

Example (TFX):

    Transform(examples=..., schema=...,
              preprocessing_fn="trainer.student.preprocessing.preprocessing_fn",
              splits_config=SplitsConfig(analyze=["train", "unlabeled"]))
"""

from typing import Dict

import tensorflow as tf

from trainer.student import features
from trainer.student.text_batch import TextBatch


def preprocessing_fn(inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Maps raw canonical features (Sparse, Ragged or dense) to the student's features.

    Query-side work (tokens, n-grams, idf, vocabulary ids) runs once per *distinct*
    query of the batch and is gathered back to the rows: at serving time, one query
    against N candidates is processed once, not N times.
    """
    batch = TextBatch(inputs)
    return {spec.name: spec.transform(batch) for spec in features.table()}
