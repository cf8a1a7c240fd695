"""The student's lexical signals, computed by the pipeline's Transform graph, for the
teacher's head.

A cross-encoder fine-tuned on a thousand labels in one language ranks below an
unsupervised sum of BM25 and its own pretrained bi-encoder (docs/results.md): BM25's
corpus statistics (idf, field lengths) are knowledge the encoder does not have, and the
labels are too few to teach it. The pipeline's Transform computes them for the student
over train and unlabeled text, and also outputs, as `TRANSFORM_OUTPUT`
(`trainer.student.lexical_features.teacher_signals`), per item field F:

    log1p(bm25_f)                        BM25 of the query against the field
    coverage_f                           share of the query's terms the field holds
    bm25_f / ((k1 + 1) * Σ_t idf(t))     BM25 as a share of what the query can score
    log1p(query tokens)

The third makes BM25 comparable across queries: a pointwise head sees one pair at a
time, and a raw BM25 grows with the query's length and rarity. The teacher's head reads
them beside the pooled token, and the Transform graph goes into the teacher's
SavedModel, so every caller of its signatures (the PseudoLabeler, `relevance evaluate`,
BulkInferrer-style tools) gets the same signals from raw text.
"""

from typing import List

import tensorflow as tf

from models.export import RawFeatures
from models.transform_inputs import TransformInputAdapter

INPUT_NAME = "lexical_signals"
# The Transform graph's output (the student's feature table declares it).
TRANSFORM_OUTPUT = "teacher_lexical_signals"


class LexicalSignals:
    """Raw feature dict -> `[N, width]` lexical signals, through the pipeline's
    Transform graph (`tft.TFTransformOutput`).

    Args:
        tft_output: the Transform component's output (`fn_args.transform_output`, loaded).

    Example (`transform_dir` as the pipeline's Transform, or
    tests/support/transform_output.py, writes it; `raw` as `models.export` builds it):

        signals = LexicalSignals(tft.TFTransformOutput(transform_dir))
        signals(raw)  # [N, signals.width] float32
    """

    def __init__(self, tft_output):
        spec = tft_output.transformed_feature_spec().get(TRANSFORM_OUTPUT)
        if spec is None:
            raise ValueError(f"the Transform graph has no {TRANSFORM_OUTPUT!r} output: the "
                             "teacher's lexical signals need the student's preprocessing_fn "
                             "(trainer.student.preprocessing) of this version")
        self.width = int(spec.shape[0])
        self.layer = tft_output.transform_features_layer()
        self.adapter = TransformInputAdapter(tft_output.raw_feature_spec())

    def __call__(self, raw: RawFeatures) -> tf.Tensor:
        values = self.layer(self.adapter(raw))[TRANSFORM_OUTPUT]
        return tf.reshape(tf.cast(values, tf.float32), [-1, self.width])

    @property
    def trackables(self) -> List[object]:
        """What a SavedModel must track to run it (the graph's tables and assets)."""
        return [self.layer]
