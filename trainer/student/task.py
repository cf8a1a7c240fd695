"""TFX Trainer entry point of the student: `run_fn='trainer.student.task.run_fn'`.

Reads the student corpus (canonical features + teacher `soft_label` on every row, human
`grade` on some), applies the Transform graph to the raw text through the same adapter
the serving signatures use, trains with `DistillationLoss` and exports a SavedModel with
the two signatures of `models.export.RelevanceServingModule`.

custom_config:

    {"num_grades": G, "student": {...StudentConfig fields...}}
"""

import json
import math
import os
from typing import List, Optional

import keras
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging

from relevance import contract
from models.export import RelevanceServingModule, raw_features_from_examples, save_serving_module
from trainer.epoch_log import EpochLog
from trainer.training_progress import TrainingProgress
from trainer.student.config import StudentConfig
from trainer.student.losses import DistillationLoss, pack_targets, teacher_agreement
from trainer.student.model import (
    ITEM_EMBEDDING_PRESENT,
    build_student_model,
    encode_queries_once,
    select_model_inputs,
)
from trainer.student import text_features
from trainer.student.item_embeddings import (
    absent_item_embeddings, embedding_width, hide_item_embeddings, item_embedding_inputs,
    parse_item_embeddings,
)
from models.query_batches import grouped_batches, query_keys
from trainer.student.query_side import cache_lookup_of, prepare_query_side
from models.transform_inputs import TransformInputAdapter
from trainer.student.word_vectors import cached_word_vectors

CONFIG_FILENAME = "student_config.json"
# Upper bound of the teacher contrast: a teacher whose outputs differ only by float
# rounding has nothing to amplify.
MAX_TEACHER_CONTRAST = 100.0


def _glob(patterns: List[str]) -> List[str]:
    files = sorted({path for pattern in patterns for path in tf.io.gfile.glob(pattern)})
    if not files:
        raise ValueError(f"no files match {patterns}")
    return files


def parse_labels(serialized: tf.Tensor, num_grades: int):
    """Teacher distribution `[B, G]` and human grade `[B]` (0 = no human grade)."""
    spec = {
        contract.SOFT_LABEL: tf.io.FixedLenFeature(
            [num_grades], tf.float32, default_value=[1.0 / num_grades] * num_grades
        ),
        contract.GRADE: tf.io.VarLenFeature(tf.int64),
    }
    parsed = tf.io.parse_example(serialized, spec)
    grades = tf.sparse.to_dense(parsed[contract.GRADE], default_value=0)
    # Pad so that a batch without any human row still has a first column to read.
    grades = tf.pad(grades, [[0, 0], [0, 1]])[:, 0]
    return parsed[contract.SOFT_LABEL], grades


def teacher_log_prob_stats(file_patterns: List[str], num_grades: int, batch_size: int = 1024):
    """(mean log-probability per grade `[G]`, pooled std around it) of the teacher's labels.

    The spread is sqrt(mean over rows i and grades k of (log p_ik - mean_k)^2), in nats.
    """
    dataset = tf.data.TFRecordDataset(_glob(file_patterns), compression_type="GZIP")
    total = tf.zeros([num_grades], tf.float64)
    total_squares = tf.zeros([num_grades], tf.float64)
    rows = 0
    for serialized in dataset.batch(batch_size):
        soft_label, _ = parse_labels(serialized, num_grades)
        log_probs = tf.math.log(tf.maximum(tf.cast(soft_label, tf.float64), 1e-12))
        total += tf.reduce_sum(log_probs, axis=0)
        total_squares += tf.reduce_sum(tf.square(log_probs), axis=0)
        rows += int(tf.shape(log_probs)[0])
    if not rows:
        raise ValueError(f"no training rows in {file_patterns}")
    center = (total / rows).numpy()
    variance = (total_squares / rows).numpy() - center**2
    return center.tolist(), float(math.sqrt(max(float(variance.mean()), 0.0)))


def teacher_contrast(spread: float, min_spread: float) -> float:
    """Factor that lifts a teacher spread below `min_spread` up to it (1: unchanged).

    Example:
    >>> teacher_contrast(0.02, 1.0), teacher_contrast(2.0, 1.0), teacher_contrast(0.5, 0.0)
    (50.0, 1.0, 1.0)
    """
    if min_spread <= 0 or spread >= min_spread:
        return 1.0
    return min(MAX_TEACHER_CONTRAST, min_spread / max(spread, 1e-12))


def make_dataset(
    file_patterns: List[str],
    tft_layer,
    adapter: TransformInputAdapter,
    model: keras.Model,
    num_grades: int,
    batch_size: int,
    shuffle_buffer: int = 0,
    seed: Optional[int] = None,
    repeat: bool = False,
    group_by_query: bool = False,
    embedding_dims: int = 0,
    hide_embeddings: float = 0.0,
) -> tf.data.Dataset:
    """(transformed model inputs, packed targets) batches from gzip TFRecord files.

    With `group_by_query` a query's rows share a batch and the targets carry the query
    group (`models.query_batches`; shuffled by `seed` when `shuffle_buffer`).
    With `embedding_dims` the rows' item embeddings join the inputs, a random
    `hide_embeddings` share of them hidden.
    """
    dataset = tf.data.TFRecordDataset(_glob(file_patterns), compression_type="GZIP")
    if group_by_query:
        records = list(dataset.as_numpy_iterator())
        dataset = grouped_batches(records, query_keys(records), batch_size,
                                  seed=seed if shuffle_buffer else None, repeat=repeat)
    else:
        if shuffle_buffer:
            dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        if repeat:
            dataset = dataset.repeat()
        dataset = dataset.batch(batch_size)

    def to_features_and_targets(serialized, query_group=None):
        # Same path as serving: serialized -> raw dict -> adapter -> Transform graph.
        raw = raw_features_from_examples(serialized)
        transformed = tft_layer(adapter(raw))
        embeddings = None
        if embedding_dims:
            embeddings = hide_item_embeddings(parse_item_embeddings(serialized, embedding_dims),
                                              hide_embeddings, seed=seed or 0)
        soft_label, grade = parse_labels(serialized, num_grades)
        targets = pack_targets(soft_label, grade, num_grades, query_group)
        return select_model_inputs(transformed, model, embeddings), targets

    return dataset.map(to_features_and_targets, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )


def make_predict_fn(model: keras.Model, tft_layer, adapter: TransformInputAdapter,
                    embedding_dims: int = 0, query_cache=None):
    """Raw feature dict -> grade probabilities `[N, G]`.

    The usual request is one query against N candidates (the query repeated N times by
    `models.export.broadcast_query`): the Transform graph processes each distinct query
    once, and so does the model's query encoder (`encode_queries_once`).

    With `embedding_dims` the raw dict may carry `item_embedding` (`[N, D]`, dense or
    ragged); rows without one are scored from the other features, and the result is a
    dict with `contract.OUTPUT_EMBEDDING_USED` beside the probabilities. A query found
    in `query_cache` (`QueryEmbeddingCache`) uses its exact embedding.
    """

    def predict(raw):
        transformed = tft_layer(adapter(raw))
        queries = raw[contract.QUERY]
        _, query_of_row = tf.unique(queries)
        embeddings = None
        if embedding_dims:
            embeddings = (item_embedding_inputs(raw[contract.ITEM_EMBEDDING], embedding_dims)
                          if contract.ITEM_EMBEDDING in raw
                          else absent_item_embeddings(tf.size(queries), embedding_dims))
        cached = cache_lookup_of(query_cache, queries) if query_cache is not None else None
        logits = encode_queries_once(model, select_model_inputs(transformed, model, embeddings),
                                     query_of_row, cached_query_vectors=cached)
        probabilities = tf.nn.softmax(logits, axis=-1)
        if not embedding_dims:
            return probabilities
        return {contract.OUTPUT_PROBABILITIES: probabilities,
                contract.OUTPUT_EMBEDDING_USED: embeddings[ITEM_EMBEDDING_PRESENT][:, 0]}

    return predict


def steps_per_epoch_of(config: StudentConfig, trainer_train_steps: Optional[int]):
    """Steps per epoch when a step budget is set (`config.train_steps`, else the
    Trainer's `TrainArgs.num_steps`), spread evenly over the epochs; None (one pass over
    the rows per epoch) without one.

    >>> steps_per_epoch_of(StudentConfig(epochs=3, train_steps=100), None)
    34
    >>> steps_per_epoch_of(StudentConfig(epochs=2), 40), steps_per_epoch_of(StudentConfig(), 0)
    (20, None)
    """
    train_steps = config.train_steps or trainer_train_steps
    return max(1, math.ceil(train_steps / config.epochs)) if train_steps else None


def distillation_loss(config: StudentConfig, num_grades: int, teacher_contrast: float = 1.0,
                      teacher_center=None) -> DistillationLoss:
    """The student's loss with `config`'s weights and temperatures.

    >>> distillation_loss(StudentConfig(listwise_weight=0.5), 4).needs_query_groups
    True
    """
    return DistillationLoss(
        num_grades,
        temperature=config.temperature,
        distill_weight=config.distill_weight,
        human_weight=config.human_weight,
        teacher_contrast=teacher_contrast,
        teacher_center=teacher_center,
        listwise_weight=config.listwise_weight,
        listwise_temperature=config.listwise_temperature,
        margin_weight=config.margin_weight,
    )


def load_word_vectors(config: StudentConfig, tft_output):
    """The distilled word vectors of the Transform's corpus vocabulary, or None when
    `config.word_vectors_preset` is empty."""
    if not config.word_vectors_preset:
        logging.info("Student without word vectors (no word_vectors_preset)")
        return None
    from trainer.teacher.presets.cache import default_cache_dir

    vocabulary = tft_output.vocabulary_file_by_name(text_features.CORPUS_WORD_COUNTS_VOCABULARY)
    if not vocabulary:
        raise ValueError("the Transform output has no corpus_word_counts vocabulary to "
                         "distil word vectors for")
    preset_cache_dir = config.preset_cache_dir or None
    return cached_word_vectors(
        vocabulary, config.word_vectors_preset, config.word_vector_dims,
        cache_dir=config.preset_cache_dir or default_cache_dir(),
        preset_cache_dir=preset_cache_dir, progress=logging.info,
    )


def student_embedding_dims(config: StudentConfig, train_files, word_vectors) -> int:
    """D when the student reads item embeddings: `config.item_embeddings`, the training
    rows carry them, and word vectors exist for the query tower; else 0 (logged)."""
    if not config.item_embeddings:
        return 0
    dims = embedding_width(_glob(train_files))
    if not dims:
        logging.info("Student without item embeddings: the training rows carry none "
                     "(run the pipeline with --item-embeddings)")
    elif word_vectors is None:
        logging.warning("Student without item embeddings: its query tower needs word vectors")
        dims = 0
    else:
        logging.info("Student with %d-d item embeddings", dims)
    return dims


def run_fn(fn_args) -> None:
    """Trains the student on the pseudo-labeled corpus and exports it for serving."""
    custom_config = fn_args.custom_config or {}
    num_grades = int(custom_config.get("num_grades", contract.DEFAULT_NUM_GRADES))
    config = StudentConfig.from_dict(custom_config.get("student"))
    logging.info("Student config: %s (num_grades=%d)", config.to_dict(), num_grades)
    keras.utils.set_random_seed(config.seed)

    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    tft_layer = tft_output.transform_features_layer()
    adapter = TransformInputAdapter(tft_output.raw_feature_spec())

    word_vectors = load_word_vectors(config, tft_output)
    embedding_dims = student_embedding_dims(config, fn_args.train_files, word_vectors)
    model = build_student_model(config, num_grades, word_vectors, embedding_dims)
    query_cache, query_side = None, None
    if embedding_dims:
        query_cache, query_side = prepare_query_side(
            model, config, tft_layer, adapter, _glob(fn_args.train_files),
            _glob(fn_args.eval_files), embedding_dims, progress=logging.info)
    steps_per_epoch = steps_per_epoch_of(config, fn_args.train_steps)
    eval_steps = fn_args.eval_steps or None
    center, contrast = None, 1.0
    if config.min_teacher_spread > 0:
        center, spread = teacher_log_prob_stats(fn_args.train_files, num_grades)
        contrast = teacher_contrast(spread, config.min_teacher_spread)
        logging.info("Teacher log-probability spread %.4f nats: contrast %.2f", spread, contrast)
    loss = distillation_loss(config, num_grades, contrast, center)

    train_dataset = make_dataset(
        fn_args.train_files, tft_layer, adapter, model, num_grades, config.batch_size,
        shuffle_buffer=config.shuffle_buffer, seed=config.seed, repeat=steps_per_epoch is not None,
        group_by_query=loss.needs_query_groups, embedding_dims=embedding_dims,
        hide_embeddings=config.embedding_dropout,
    )
    eval_dataset = make_dataset(
        fn_args.eval_files, tft_layer, adapter, model, num_grades, config.batch_size,
        repeat=bool(eval_steps), group_by_query=loss.needs_query_groups,
        embedding_dims=embedding_dims,
    )

    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=loss,
        metrics=[teacher_agreement(num_grades)],
    )
    callbacks = [EpochLog("student", config.epochs),
                 TrainingProgress("student", config.epochs, steps_per_epoch, config.batch_size)]
    if fn_args.model_run_dir:
        tf.io.gfile.makedirs(fn_args.model_run_dir)
        callbacks.append(keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir))
        with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, CONFIG_FILENAME), "w") as f:
            json.dump({"num_grades": num_grades, "student": config.to_dict(),
                       "teacher_contrast": contrast, "teacher_center": center,
                       "item_embedding_dims": embedding_dims,
                       "query_side": query_side.to_dict() if query_side else None}, f, indent=2)
    model.fit(
        train_dataset,
        validation_data=eval_dataset,
        epochs=config.epochs,
        steps_per_epoch=steps_per_epoch,
        validation_steps=eval_steps,
        callbacks=callbacks,
        verbose=0,  # EpochLog reports each epoch
    )

    # A copy without the optimizer: Adam's two slots per weight would double the export
    # (the hashed n-gram tables alone carry 50 MB of them).
    serving_model = build_student_model(config, num_grades, word_vectors, embedding_dims)
    serving_model.set_weights(model.get_weights())
    module = RelevanceServingModule(
        make_predict_fn(serving_model, tft_layer, adapter, embedding_dims, query_cache),
        num_grades, trackables=[serving_model, tft_layer, query_cache],
        embedding_dims=embedding_dims,
    )
    save_serving_module(module, fn_args.serving_model_dir)
    logging.info("Student exported to %s", fn_args.serving_model_dir)
