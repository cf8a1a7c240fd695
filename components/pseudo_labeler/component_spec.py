"""ComponentSpec of the PseudoLabeler: channel and parameter names and their defaults.

Flags are int (0/1) rather than bool because TFX stores execution parameters as MLMD
int / double / string values.

Example:

>>> sorted(PseudoLabelerSpec.PARAMETERS) == sorted(DEFAULTS)
True
>>> DEFAULTS[MAX_VOLUME_MULTIPLE_KEY]
100.0
"""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.pseudo_labeler.config import LabelingConfig

EXAMPLES_KEY = "examples"
MODEL_KEY = "model"
PSEUDO_LABELED_KEY = "pseudo_labeled"

NUM_GRADES_KEY = "num_grades"
CONFIDENCE_THRESHOLD_KEY = "confidence_threshold"
MAX_VOLUME_MULTIPLE_KEY = "max_volume_multiple"
MAX_PER_QUERY_KEY = "max_per_query"
DROP_HUMAN_LABELED_PAIRS_KEY = "drop_human_labeled_pairs"
BALANCE_LANGUAGES_KEY = "balance_languages"
BATCH_SIZE_KEY = "batch_size"
EVAL_HOLDOUT_PERCENT_KEY = "eval_holdout_percent"
SCORE_ALL_UNLABELED_KEY = "score_all_unlabeled"

# The execution parameters' defaults, as MLMD stores them, from the one LabelingConfig.
DEFAULTS = {
    NUM_GRADES_KEY: LabelingConfig.num_grades,
    CONFIDENCE_THRESHOLD_KEY: LabelingConfig.confidence_threshold,
    MAX_VOLUME_MULTIPLE_KEY: LabelingConfig.max_volume_multiple,
    MAX_PER_QUERY_KEY: LabelingConfig.max_per_query,
    DROP_HUMAN_LABELED_PAIRS_KEY: int(LabelingConfig.drop_human_labeled_pairs),
    BALANCE_LANGUAGES_KEY: int(LabelingConfig.balance_languages),
    BATCH_SIZE_KEY: LabelingConfig.batch_size,
    EVAL_HOLDOUT_PERCENT_KEY: LabelingConfig.eval_holdout_percent,
    SCORE_ALL_UNLABELED_KEY: int(LabelingConfig.score_all_unlabeled),
}

_PARAMETER_TYPES = {
    NUM_GRADES_KEY: int,
    CONFIDENCE_THRESHOLD_KEY: float,
    MAX_VOLUME_MULTIPLE_KEY: float,
    MAX_PER_QUERY_KEY: int,
    DROP_HUMAN_LABELED_PAIRS_KEY: int,
    BALANCE_LANGUAGES_KEY: int,
    BATCH_SIZE_KEY: int,
    EVAL_HOLDOUT_PERCENT_KEY: float,
    SCORE_ALL_UNLABELED_KEY: int,
}


class PseudoLabelerSpec(ComponentSpec):
    """Inputs: ExampleGen examples (train/eval/unlabeled) and the teacher Model.

    Output: `pseudo_labeled` Examples with splits train (human + kept pseudo-labels)
    and eval (human, plus the pseudo-labels of held-out queries), every row carrying
    the teacher features of `relevance.contract`.
    """

    PARAMETERS = {
        name: ExecutionParameter(type=kind, optional=True)
        for name, kind in _PARAMETER_TYPES.items()
    }
    INPUTS = {
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {
        PSEUDO_LABELED_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }
