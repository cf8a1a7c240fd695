"""The PseudoLabeler TFX component: builds the student's training corpus."""

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts

from components.pseudo_labeler import component_spec as spec_lib
from components.pseudo_labeler import executor
from components.pseudo_labeler.config import LabelingConfig as _DEFAULTS


class PseudoLabeler(base_beam_component.BaseBeamComponent):
    """Labels unlabeled (query, item) pairs with the teacher and selects the ones to keep.

    Output `pseudo_labeled` (Examples) has two splits:
      - `train`: every human-graded train row plus the kept pseudo-labeled rows;
      - `eval`: the human-graded eval rows, plus the pseudo-labeled rows of the
        `eval_holdout_percent` % of queries held out (whole queries, by a stable hash
        of query_id), so models can be evaluated on pseudo-labels they never trained on.
    Every row is the input example unchanged plus `soft_label` (the teacher's
    distribution, on human rows too), `teacher_score`, `teacher_confidence`,
    `teacher_model`, `label_source` ("human" / "pseudo"), and the evaluation features
    `fields_present` (e.g. "title+image_caption") and `reference_grade` (human grade,
    else the teacher's argmax grade). Row accounting is written
    to `<output uri>/pseudo_label_counts.json` and to the artifact's custom properties;
    rows that cannot be parsed or scored are kept aside under `<output uri>/quarantine/`.

    Selection, in order: drop pairs with a human grade (`drop_human_labeled_pairs`),
    drop max-probability < `confidence_threshold`, keep the best `max_per_query` per
    query, keep the best `max_volume_multiple` x (#human train rows) overall (split
    evenly over languages with `balance_languages`). "Best" is highest confidence, ties
    broken by a stable hash of (query_id, item_id), so re-runs select the same rows.

    Example:

    >>> from tfx.types import channel_utils, standard_artifacts
    >>> examples = channel_utils.as_channel([standard_artifacts.Examples()])
    >>> teacher = channel_utils.as_channel([standard_artifacts.Model()])
    >>> labeler = PseudoLabeler(examples=examples, model=teacher, max_per_query=50)
    >>> labeler.outputs["pseudo_labeled"].type_name
    'Examples'

    Runs on any Beam runner: `PseudoLabeler(...).with_beam_pipeline_args([...])`.
    """

    SPEC_CLASS = spec_lib.PseudoLabelerSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        model: types.BaseChannel,
        num_grades: int = _DEFAULTS.num_grades,
        confidence_threshold: float = _DEFAULTS.confidence_threshold,
        max_volume_multiple: float = _DEFAULTS.max_volume_multiple,
        max_per_query: int = _DEFAULTS.max_per_query,
        drop_human_labeled_pairs: bool = _DEFAULTS.drop_human_labeled_pairs,
        balance_languages: bool = _DEFAULTS.balance_languages,
        batch_size: int = _DEFAULTS.batch_size,
        eval_holdout_percent: float = _DEFAULTS.eval_holdout_percent,
        score_all_unlabeled: bool = _DEFAULTS.score_all_unlabeled,
    ):
        """Args:
        examples: Examples with splits train, eval (graded) and unlabeled.
        model: the teacher Model; its serving SavedModel needs `serving_examples`.
        num_grades: G; the teacher's probabilities must have G columns.
        confidence_threshold: drop pseudo-labels whose max probability is below.
        max_volume_multiple: keep at most this x (#human train rows) pseudo-labels;
            0 = no cap.
        max_per_query: keep at most this many pseudo-labels per query_id; 0 = no cap.
        drop_human_labeled_pairs: skip unlabeled pairs already graded in train/eval.
        balance_languages: give every language the same share of the volume budget
            (with no volume cap: as many as the smallest language has).
        batch_size: examples per teacher call.
        eval_holdout_percent: share of pseudo-labeled queries written to `eval`
            instead of `train` (0-100).
        score_all_unlabeled: when a volume cap binds, score the whole unlabeled pool
            and keep the most confident rows, instead of scoring only the sample the
            cap needs (`sampling.py`; rows not drawn count as `not_sampled`).
        """
        if num_grades < 2:
            raise ValueError(f"num_grades must be >= 2, got {num_grades}")
        if not 0.0 <= confidence_threshold <= 1.0:
            raise ValueError(f"confidence_threshold must be in [0, 1], got {confidence_threshold}")
        if max_volume_multiple < 0 or max_per_query < 0:
            raise ValueError("max_volume_multiple and max_per_query must be >= 0")
        if not 0.0 <= eval_holdout_percent <= 100.0:
            raise ValueError(
                f"eval_holdout_percent must be in [0, 100], got {eval_holdout_percent}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        pseudo_labeled = types.Channel(type=standard_artifacts.Examples)
        spec = spec_lib.PseudoLabelerSpec(
            examples=examples,
            model=model,
            pseudo_labeled=pseudo_labeled,
            num_grades=int(num_grades),
            confidence_threshold=float(confidence_threshold),
            max_volume_multiple=float(max_volume_multiple),
            max_per_query=int(max_per_query),
            drop_human_labeled_pairs=int(bool(drop_human_labeled_pairs)),
            balance_languages=int(bool(balance_languages)),
            batch_size=int(batch_size),
            eval_holdout_percent=float(eval_holdout_percent),
            score_all_unlabeled=int(bool(score_all_unlabeled)),
        )
        super().__init__(spec=spec)
