"""The pipeline definition: which components run, wired how. Runners live apart.

    ExampleGen (labeled + unlabeled -> train / eval / unlabeled, quarantine)
      [-> ImageCaptioner (optional: PaliGemma captions for items with images)]
      [-> ItemEmbedder (optional: precomputed query / item embeddings on every row)]
      -> StatisticsGen -> SchemaGen -> ExampleValidator
      -> Transform (corpus statistics over train + unlabeled text)
      -> Trainer "teacher" (multilingual cross-encoder on human grades)
      -> PseudoLabeler (teacher labels the unlabeled split -> student corpus)
      -> Trainer "student" (distilled real-time model)
      -> Evaluator (student; baseline: the latest pushed model) + TeacherEvaluator
      -> ValidationGate (tolerance to the teacher, not worse than pushed, BM25 floor) -> Pusher
"""

import posixpath
from typing import List, Optional

from tfx import v1 as tfx
from tfx.dsl.components.base import base_node
from tfx.proto import transform_pb2

from components.example_gen.component import relevance_example_gen
from components.example_gen.options import ExampleGenOptions
from components.image_captioner.component import ImageCaptioner
from components.item_embedder.component import ItemEmbedder
from components.pseudo_labeler.component import PseudoLabeler
from pipeline.config import PipelineConfig
from pipeline.evaluation_wiring import (  # noqa: F401 - ids the run summary reads
    EVALUATOR,
    GATE,
    LATEST_PUSHED,
    TEACHER_EVALUATOR,
    evaluation_components,
)
from relevance import contract

TEACHER_RUN_FN = "trainer.teacher.task.run_fn"
STUDENT_RUN_FN = "trainer.student.task.run_fn"
PREPROCESSING_FN = "trainer.student.preprocessing.preprocessing_fn"

# Component ids, used by the run summary to find each component's outputs in MLMD.
EXAMPLE_GEN = "ExampleGen"
IMAGE_CAPTIONER = "ImageCaptioner"
ITEM_EMBEDDER = "ItemEmbedder"
TEACHER = "TeacherTrainer"
PSEUDO_LABELER = "PseudoLabeler"
STUDENT = "StudentTrainer"
PUSHER = "Pusher"


def image_captioner(config: PipelineConfig, examples) -> Optional[ImageCaptioner]:
    """The optional captioner over ExampleGen's output; None unless `caption_images`."""
    if not config.caption_images:
        return None
    if not config.caption_preset:
        raise ValueError("caption_images needs caption_preset: a keras-hub PaliGemma preset "
                         "name (e.g. pali_gemma_3b_mix_224) or a local preset directory")
    return ImageCaptioner(
        examples=examples,
        preset=config.caption_preset,
        prompt=config.caption_prompt,
        max_length=config.caption_max_length,
        batch_size=config.caption_batch_size,
        cache_dir=config.caption_cache_dir
        or posixpath.join(config.pipeline_root, "caption_cache"),
        image_root=config.caption_image_root,
    ).with_id(IMAGE_CAPTIONER)


def item_embedder(config: PipelineConfig, examples) -> Optional[ItemEmbedder]:
    """The optional embedder over ExampleGen's (or the captioner's) output; None unless
    `item_embeddings`."""
    if not config.item_embeddings:
        return None
    return ItemEmbedder(
        examples=examples,
        preset=config.item_embedding_preset,
        dims=config.item_embedding_dims,
        cache_dir=config.item_embedding_cache_dir
        or posixpath.join(config.pipeline_root, "embedding_cache"),
        preset_cache_dir=config.teacher.get("preset_cache_dir") or "",
    ).with_id(ITEM_EMBEDDER)


def student_hyperparameters(config: PipelineConfig) -> dict:
    """The student's settings; its word vectors come from the teacher's pretrained
    encoder unless `word_vectors_preset` is set ("" = none; a from-scratch teacher has
    nothing pretrained to distil, so they come from the ItemEmbedder's encoder when it
    runs, else there are none; a decoder teacher's words come from the default
    multilingual encoder)."""
    from trainer.teacher.config import TeacherConfig
    from trainer.teacher.presets.registry import DEFAULT_TEACHER_PRESET, get_spec

    student = dict(config.student)
    if "word_vectors_preset" not in student:
        teacher = TeacherConfig.from_dict(config.teacher)
        spec = get_spec(teacher.preset)
        # Without a pretrained teacher, the ItemEmbedder's encoder: the query tower that
        # reads the item embeddings is built on word vectors of the same encoder.
        student["word_vectors_preset"] = (
            (config.item_embedding_preset if config.item_embeddings else "")
            if teacher.from_scratch
            else DEFAULT_TEACHER_PRESET if spec and spec.decoder
            else teacher.preset)
    if "preset_cache_dir" not in student and config.teacher.get("preset_cache_dir"):
        student["preset_cache_dir"] = config.teacher["preset_cache_dir"]
    return student


def create_components(config: PipelineConfig) -> List[base_node.BaseNode]:
    """All components of the relevance pipeline, wired together."""
    example_gen = relevance_example_gen(
        config.input_base,
        ExampleGenOptions(
            input_format=config.input_format,
            num_grades=config.num_grades,
            eval_percent=config.eval_percent,
            numeric_features=list(config.numeric_features),
            # The captioner gives image-only items their text (and quarantines the rest).
            image_only_items=config.caption_images,
        ),
    ).with_id(EXAMPLE_GEN)
    examples = example_gen.outputs["examples"]
    captioner = image_captioner(config, examples)
    if captioner is not None:
        examples = captioner.outputs["captioned_examples"]
    embedder = item_embedder(config, examples)
    if embedder is not None:
        examples = embedder.outputs["embedded_examples"]

    statistics_gen = tfx.components.StatisticsGen(examples=examples)
    schema_gen = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=False
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    transform = tfx.components.Transform(
        examples=examples,
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        splits_config=transform_pb2.SplitsConfig(
            analyze=[contract.SPLIT_TRAIN, contract.SPLIT_UNLABELED],
            transform=[],
        ),
        # Models apply the transform graph themselves; nothing to materialize.
        materialize=False,
        disable_statistics=True,
    )

    def trainer(run_fn, trainer_examples, hyperparameters_key, hyperparameters):
        return tfx.components.Trainer(
            run_fn=run_fn,
            examples=trainer_examples,
            transform_graph=transform.outputs["transform_graph"],
            schema=schema_gen.outputs["schema"],
            train_args=tfx.proto.TrainArgs(splits=[contract.SPLIT_TRAIN]),
            eval_args=tfx.proto.EvalArgs(splits=[contract.SPLIT_EVAL]),
            custom_config={
                "num_grades": config.num_grades,
                hyperparameters_key: hyperparameters,
            },
        )

    teacher = trainer(TEACHER_RUN_FN, examples, "teacher", dict(config.teacher)).with_id(TEACHER)
    pseudo_labeler = PseudoLabeler(
        examples=examples,
        model=teacher.outputs["model"],
        num_grades=config.num_grades,
        **{"eval_holdout_percent": config.pseudo_eval_percent, **config.pseudo_label},
    ).with_id(PSEUDO_LABELER)
    student = trainer(
        STUDENT_RUN_FN, pseudo_labeler.outputs["pseudo_labeled"], "student",
        student_hyperparameters(config),
    ).with_id(STUDENT)

    evaluation, blessing = evaluation_components(
        config, pseudo_labeler.outputs["pseudo_labeled"], teacher.outputs["model"],
        student.outputs["model"],
    )

    pusher = tfx.components.Pusher(
        model=student.outputs["model"],
        model_blessing=blessing,
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=config.serving_model_dir
            )
        ),
    ).with_id(PUSHER)

    return [
        example_gen,
        *([captioner] if captioner is not None else []),
        *([embedder] if embedder is not None else []),
        statistics_gen,
        schema_gen,
        example_validator,
        transform,
        teacher,
        pseudo_labeler,
        student,
        *evaluation,
        pusher,
    ]


def create_pipeline(config: PipelineConfig, metadata_connection_config=None) -> tfx.dsl.Pipeline:
    """The TFX pipeline for `config`; MLMD is set by the local runner, not on Kubeflow."""
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=create_components(config),
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_pipeline_args),
    )
