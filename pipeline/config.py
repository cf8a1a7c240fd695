"""Everything a pipeline run is configured by, in one serialisable object.

The CLI builds a `PipelineConfig` from flags; the pipeline definition reads only this
object, so local and Kubeflow runs are configured the same way.

Example:

>>> config = PipelineConfig.for_workdir("/tmp/relevance-run", num_grades=4)
>>> config.serving_model_dir
'/tmp/relevance-run/serving/relevance_student'
>>> PipelineConfig.for_workdir("/tmp/relevance-run", student={"epoch": 3})
Traceback (most recent call last):
...
ValueError: StudentConfig: unknown key 'epoch' (did you mean 'epochs'?)
"""

import dataclasses
import os
from typing import Any, Dict, List, Optional

from components.image_captioner.settings import CaptionSettings
from components.item_embedder.settings import EmbedSettings
from evaluation import gate_settings
from relevance import contract

DEFAULT_PIPELINE_NAME = "search-relevance"
DEFAULT_MODEL_NAME = "relevance_student"


@dataclasses.dataclass
class PipelineConfig:
    """A whole pipeline run.

    Attributes:
        pipeline_name: name in MLMD and on Kubeflow.
        pipeline_root: where components write their artefacts.
        metadata_path: SQLite MLMD file (local runs only).
        input_base: directory holding `labeled/` and `unlabeled/` input files.
        serving_model_dir: Pusher's destination, `<base>/<model_name>`; versions go below.
        input_format: "auto", "csv", "jsonl" or "tfrecord".
        num_grades: G, the number of relevance grades.
        eval_percent: share of labeled queries held out for evaluation.
        numeric_features: `num_*` columns carried as float features.
        teacher, student: hyperparameters passed to the Trainers' `custom_config`
            (`TeacherConfig` / `StudentConfig` keys; another key is a ValueError).
        pseudo_label: PseudoLabeler parameters that differ from its defaults, e.g.
            {"confidence_threshold": 0.5} (`LabelingConfig` keys; see
            components/pseudo_labeler).
        caption_images: run the ImageCaptioner between ExampleGen and everything else;
            off by default, and then the pipeline is exactly as without it.
        caption_preset: keras-hub PaliGemma preset name or local preset directory.
        caption_prompt, caption_max_length, caption_batch_size: prompt given with each
            image, generated tokens per caption at most, images per model call.
        caption_cache_dir: caption cache (by image content hash) that persists across
            runs; "" = `<pipeline_root>/caption_cache`.
        caption_image_root: directory relative `image` paths are relative to.
        item_embeddings: run the ItemEmbedder after ExampleGen (and the captioner), so
            every later component reads rows with `query_embedding` and
            `item_embedding`; off by default here, and then the pipeline is exactly
            as without it (`relevance run` / `demo` turn it on for a pretrained
            teacher: `cli.embedding_flags.item_embeddings_enabled`).
        item_embedding_preset: the encoder (default: the default teacher preset,
            multilingual-e5-small), a keras-hub preset directory or name.
        item_embedding_dims: D, the dimensions the embedding PCA keeps.
        item_embedding_cache_dir: encoder vector cache (by text content hash) that
            persists across runs; "" = `<pipeline_root>/embedding_cache`.
        min_student_accuracy: the gate blesses the student only at or above this
            accuracy on the held-out human grades.
        pseudo_eval_percent: share of pseudo-labeled queries the PseudoLabeler holds out
            of the student's training data, for the `label_source=pseudo` slice.
        gate_metrics: metrics the validation gate compares (higher is better).
        student_tolerance: the student must be within this of the teacher on each gate
            metric (held-out human grades), or within `gate_z` standard errors of the
            difference when that is wider (docs/evaluation.md, "The validation gate").
        pushed_tolerance: the student may be at most this worse than the model pushed
            last on each gate metric.
        gate_z: how many paired bootstrap standard errors of student - teacher the
            tolerance widens to; 0 keeps it at `student_tolerance`.
        gate_resamples: paired bootstrap resamples of the eval queries (fixed seed).
        beam_pipeline_args: e.g. ["--runner=DataflowRunner", ...]; DirectRunner by default.
        enable_cache: reuse results of components whose inputs did not change.
    """

    pipeline_name: str
    pipeline_root: str
    metadata_path: str
    input_base: str
    serving_model_dir: str
    input_format: str = "auto"
    num_grades: int = contract.DEFAULT_NUM_GRADES
    eval_percent: float = 20.0
    numeric_features: List[str] = dataclasses.field(default_factory=list)
    teacher: Dict[str, Any] = dataclasses.field(default_factory=dict)
    student: Dict[str, Any] = dataclasses.field(default_factory=dict)
    pseudo_label: Dict[str, Any] = dataclasses.field(default_factory=dict)
    caption_images: bool = False
    caption_preset: str = ""
    caption_prompt: str = CaptionSettings.prompt
    caption_max_length: int = CaptionSettings.max_length
    caption_batch_size: int = CaptionSettings.batch_size
    caption_cache_dir: str = ""
    caption_image_root: str = ""
    item_embeddings: bool = False
    item_embedding_preset: str = EmbedSettings.preset
    item_embedding_dims: int = EmbedSettings.dims
    item_embedding_cache_dir: str = ""
    min_student_accuracy: float = 0.0
    pseudo_eval_percent: float = 10.0
    gate_metrics: List[str] = dataclasses.field(
        default_factory=lambda: list(gate_settings.DEFAULT_GATE_METRICS))
    student_tolerance: float = gate_settings.DEFAULT_STUDENT_TOLERANCE
    pushed_tolerance: float = 0.0
    gate_z: float = gate_settings.DEFAULT_GATE_Z
    gate_resamples: int = gate_settings.DEFAULT_GATE_RESAMPLES
    beam_pipeline_args: List[str] = dataclasses.field(default_factory=list)
    enable_cache: bool = True

    def __post_init__(self):
        # A misspelled teacher, student or PseudoLabeler key fails here, when the
        # pipeline is configured, rather than in a Trainer hours later (each refuses a
        # key it does not know, naming the closest one).
        from components.pseudo_labeler.config import LabelingConfig
        from relevance.config_dicts import check_keys
        from trainer.student.config import StudentConfig
        from trainer.teacher.config import TeacherConfig

        TeacherConfig.from_dict(self.teacher)
        StudentConfig.from_dict(self.student)
        check_keys(LabelingConfig, self.pseudo_label)

    @classmethod
    def for_workdir(
        cls,
        workdir: str,
        model_name: str = DEFAULT_MODEL_NAME,
        pipeline_name: str = DEFAULT_PIPELINE_NAME,
        beam_direct_workers: Optional[int] = None,
        **overrides,
    ) -> "PipelineConfig":
        """The standard layout of a local run under one working directory."""
        # In-memory, one worker by default: TensorFlow already uses every core inside a
        # worker, and multi-process DirectRunner pays a start-up cost per component.
        workers = beam_direct_workers or 1
        mode = "multi_processing" if workers > 1 else "in_memory"
        beam_args = [f"--direct_running_mode={mode}", f"--direct_num_workers={workers}"]
        defaults = dict(
            pipeline_name=pipeline_name,
            pipeline_root=os.path.join(workdir, "pipeline_root"),
            metadata_path=os.path.join(workdir, "metadata", "mlmd.sqlite"),
            input_base=os.path.join(workdir, "inputs"),
            serving_model_dir=os.path.join(workdir, "serving", model_name),
            beam_pipeline_args=beam_args,
        )
        defaults.update(overrides)
        return cls(**defaults)
