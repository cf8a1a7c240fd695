"""The PseudoLabeler's settings, each default defined here once.

The component's parameters, the executor and the `relevance` CLI's flags all read
their defaults from `LabelingConfig`; this module imports no TensorFlow or Beam.

>>> LabelingConfig(model_path="m", teacher_id="t").max_volume_multiple
100.0
"""

import dataclasses

from relevance import contract


@dataclasses.dataclass(frozen=True)
class LabelingConfig:
    """What to score with and how to select; see `PseudoLabeler` for the meaning."""

    model_path: str
    teacher_id: str
    num_grades: int = contract.DEFAULT_NUM_GRADES
    confidence_threshold: float = 0.0
    max_volume_multiple: float = 100.0
    max_per_query: int = 0
    drop_human_labeled_pairs: bool = True
    balance_languages: bool = False
    batch_size: int = 64
    eval_holdout_percent: float = 0.0
    # When a volume cap binds, score only the sample it needs (sampling.py); True scores
    # the whole pool and keeps the most confident rows.
    score_all_unlabeled: bool = False
