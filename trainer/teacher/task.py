"""TFX Trainer entry point for the teacher: `run_fn(fn_args)`.

    Trainer(run_fn="trainer.teacher.task.run_fn", examples=..., transform_graph=...,
            custom_config={"num_grades": G, "teacher": TeacherConfig(...).to_dict()})

Reads gzip TFRecords of canonical tf.Examples (labeled rows carry `grade` 1..G), trains
the cross-encoder with cross-entropy (label = grade - 1) and exports a SavedModel with
the two relevance signatures (`models.export`). Beside the graph, `assets.extra/` keeps
the teacher config and, for the default teacher, the preset it started from.
"""

import json
import logging
import math
import os
import shutil
import tempfile
import time
from typing import Any, Dict, Optional, Sequence

import keras
import tensorflow as tf

from relevance import contract
from models import export
from trainer.teacher import vocabulary
from trainer.epoch_log import EpochLog
from trainer.training_progress import TrainingProgress
from trainer.teacher.config import TeacherConfig
from trainer.teacher.default_preset import write_default_preset
from trainer.teacher.lexical_signals import LexicalSignals
from trainer.teacher.listwise_training import query_grouped_dataset
from trainer.teacher.model import TeacherModel, trim_padding
from trainer.teacher.presets.registry import resolve_preset
from trainer.teacher.time_budget import TimeBudget

EXTRA_DIR = "assets.extra"
PRESET_DIR = "teacher_preset"
CONFIG_FILE = "teacher_config.json"
SHUFFLE_BUFFER = 10_000
# Rows per call of the text builder and tokenizer (large batches amortise their ops).
TOKENIZE_BATCH = 256
# Training batches are formed from pools of this many batches sorted by length (`batched`).
LENGTH_POOL_BATCHES = 16


def _files(patterns: Sequence[str]) -> list:
    return sorted(f for pattern in (patterns or []) for f in tf.io.gfile.glob(pattern))


def tokenized_examples(
    file_patterns: Sequence[str],
    teacher: TeacherModel,
    cache: str = "memory",
    cache_dir: Optional[str] = None,
) -> Optional[tf.data.Dataset]:
    """Unbatched (token inputs, class index) pairs from gzip TFRecords; rows without a
    grade in 1..G are skipped. None when no file matches.

    The text builder and tokenizer run once per row, in batches of TOKENIZE_BATCH (they
    cost several times a small teacher's training step), and with `cache` "memory" or
    "disk" (a file under `cache_dir`, default a new temporary directory) their output is
    kept: later passes (epochs, validation runs) only read the cache. The cache is
    filled by the first complete pass.
    """
    files = _files(file_patterns)
    if not files:
        return None
    num_grades = teacher.num_grades

    def has_grade(serialized):
        grade = tf.io.parse_single_example(
            serialized,
            {contract.GRADE: tf.io.FixedLenFeature([], tf.int64, default_value=0)},
        )[contract.GRADE]
        return tf.logical_and(grade >= 1, grade <= num_grades)

    def to_inputs(serialized):
        raw = export.raw_features_from_examples(serialized)
        grade = tf.io.parse_example(
            serialized, {contract.GRADE: tf.io.FixedLenFeature([], tf.int64)}
        )[contract.GRADE]
        return teacher.tokenize(raw), tf.cast(grade - 1, tf.int32)

    dataset = (
        tf.data.TFRecordDataset(files, compression_type="GZIP")
        .filter(has_grade)
        .batch(TOKENIZE_BATCH)
        .map(to_inputs, num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
    )
    if cache == "memory":
        dataset = dataset.cache()
    elif cache == "disk":
        directory = cache_dir or tempfile.mkdtemp(prefix="teacher_tokens_")
        tf.io.gfile.makedirs(directory)
        dataset = dataset.cache(os.path.join(directory, "tokens"))
    elif cache != "none":
        raise ValueError(f"unknown token cache {cache!r}")
    return dataset


def _sorted_by_length(inputs: Dict[str, tf.Tensor], labels: tf.Tensor):
    """A pool of rows ordered by their pair's token count (shortest first)."""
    order = tf.argsort(tf.reduce_sum(tf.cast(inputs["padding_mask"], tf.int32), axis=1),
                       stable=True)
    return {name: tf.gather(value, order) for name, value in inputs.items()}, tf.gather(labels, order)


def _trimmed(inputs: Dict[str, tf.Tensor], labels: tf.Tensor):
    return trim_padding(inputs), labels


def batched(examples: tf.data.Dataset, batch_size: int, shuffle: bool = False,
            seed: int = 0, length_pool: int = LENGTH_POOL_BATCHES) -> tf.data.Dataset:
    """Shuffled (each pass) and batched `tokenized_examples`, each batch cut to its
    longest row.

    When shuffling with `length_pool` > 1, every `length_pool` batches' worth of
    shuffled rows are sorted by length before they are cut into batches, so a batch
    holds rows of similar length and pays for little padding; the batches of a pool are
    then shuffled again. A transformer's step costs what its longest row does, so on
    text much shorter than `sequence_length` this saves most of the training time
    (Keras traces the step for a few shapes, then for any). Without shuffling the rows
    keep their order.
    """
    if shuffle:
        examples = examples.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    if shuffle and length_pool > 1:
        batches = (examples.batch(batch_size * length_pool)
                   .map(_sorted_by_length).unbatch().batch(batch_size)
                   .shuffle(length_pool, seed=seed, reshuffle_each_iteration=True))
    else:
        batches = examples.batch(batch_size)
    return batches.map(_trimmed)


def labeled_dataset(
    file_patterns: Sequence[str],
    teacher: TeacherModel,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    cache: str = "memory",
) -> Optional[tf.data.Dataset]:
    """Batches of (token inputs, class index) for `teacher.training_model`, from gzip
    TFRecords (see `tokenized_examples`). None when no file matches."""
    examples = tokenized_examples(file_patterns, teacher, cache=cache)
    if examples is None:
        return None
    return batched(examples, batch_size, shuffle=shuffle, seed=seed)


def _count(dataset: tf.data.Dataset) -> int:
    """Number of elements; a complete pass, which also fills a cache."""
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def _build_default_preset(fn_args, config: TeacherConfig, num_grades: int) -> str:
    word_counts = vocabulary.corpus_word_counts(
        fn_args.transform_output, fn_args.train_files, lowercase=config.lowercase
    )
    proto = vocabulary.train_sentencepiece(
        word_counts, vocabulary_size=config.vocabulary_size, seed=config.seed
    )
    # keras-hub writes presets with local file APIs; the export gets a gfile copy.
    preset_dir = os.path.join(tempfile.mkdtemp(prefix="teacher_"), PRESET_DIR)
    logging.info("default teacher preset: %d words -> %s", len(word_counts), preset_dir)
    return write_default_preset(preset_dir, proto, config, num_grades)


def _copy_tree(source: str, destination: str) -> None:
    for directory, _, files in tf.io.gfile.walk(source):
        target = os.path.join(destination, os.path.relpath(directory, source))
        tf.io.gfile.makedirs(target)
        for name in files:
            tf.io.gfile.copy(os.path.join(directory, name), os.path.join(target, name),
                             overwrite=True)


def _write_extras(serving_model_dir: str, config: TeacherConfig, num_grades: int,
                  default_preset_dir: Optional[str], training: Dict[str, Any]) -> None:
    extra = os.path.join(serving_model_dir, EXTRA_DIR)
    tf.io.gfile.makedirs(extra)
    record = {"num_grades": num_grades, "teacher": config.to_dict(), "training": training}
    if default_preset_dir:
        record["preset_copy"] = f"{EXTRA_DIR}/{PRESET_DIR}"
        # The default preset's vocabulary and initial weights depend on the corpus; the
        # copy lets the teacher be retrained exactly.
        _copy_tree(default_preset_dir, os.path.join(extra, PRESET_DIR))
    with tf.io.gfile.GFile(os.path.join(extra, CONFIG_FILE), "w") as out:
        out.write(json.dumps(record, indent=2, sort_keys=True))


class _EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds per epoch (validation included)."""

    def __init__(self):
        super().__init__()
        self.seconds = []
        self._started = None

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.time() - self._started)


def _lexical_signals(fn_args, config: TeacherConfig) -> Optional[LexicalSignals]:
    if not config.lexical_signals:
        return None
    if not getattr(fn_args, "transform_output", None):
        raise ValueError("lexical_signals needs the Trainer's transform_graph (the pipeline's "
                         "Transform computes them)")
    import tensorflow_transform as tft

    return LexicalSignals(tft.TFTransformOutput(fn_args.transform_output))


def _datasets(fn_args, teacher: TeacherModel, config: TeacherConfig, cache_dir: Optional[str]):
    """(shuffled training batches, evaluation batches or None, train rows, eval rows).

    With a listwise term, batches hold whole queries (`listwise_training`); otherwise
    rows are cached once tokenized and batched by length (`batched`)."""
    if config.listwise_weight:
        train, num_train = query_grouped_dataset(_files(fn_args.train_files), teacher,
                                                 config.batch_size, seed=config.seed,
                                                 chunk=TOKENIZE_BATCH)
        evaluation, num_eval = query_grouped_dataset(_files(fn_args.eval_files), teacher,
                                                     config.batch_size, chunk=TOKENIZE_BATCH)
        train = train and train.map(_trimmed)
        evaluation = evaluation and evaluation.map(_trimmed)
    else:
        train_examples = tokenized_examples(fn_args.train_files, teacher, config.token_cache,
                                            cache_dir and os.path.join(cache_dir, "train"))
        if train_examples is None:
            raise ValueError(f"no training files match {fn_args.train_files}")
        eval_examples = tokenized_examples(fn_args.eval_files, teacher, config.token_cache,
                                           cache_dir and os.path.join(cache_dir, "eval"))
        # Counting is a full pass: it fills the caches, so no epoch tokenizes.
        num_train = _count(train_examples)
        num_eval = _count(eval_examples) if eval_examples is not None else 0
        train = batched(train_examples, config.batch_size, shuffle=True, seed=config.seed)
        evaluation = batched(eval_examples, config.batch_size) if num_eval else None
    if num_train == 0:
        raise ValueError(f"no labeled rows (grade 1..{teacher.num_grades}) in "
                         f"{fn_args.train_files}")
    return train, evaluation, num_train, num_eval


def run_fn(fn_args) -> Dict[str, Any]:
    """Trains the teacher and exports it to `fn_args.serving_model_dir`.

    Reads `custom_config["num_grades"]` (default 5) and `custom_config["teacher"]` (a
    `TeacherConfig` dict); honours `fn_args.train_steps` / `eval_steps` when set.
    Returns a summary (row counts, timings, metric history); TFX ignores it.
    """
    custom_config = fn_args.custom_config or {}
    num_grades = int(custom_config.get("num_grades", contract.DEFAULT_NUM_GRADES))
    config = TeacherConfig.from_dict(custom_config.get("teacher"))
    logging.info("teacher config: %s", config.to_dict())
    keras.utils.set_random_seed(config.seed)

    default_preset_dir = None
    preset = resolve_preset(config.preset, cache_dir=config.preset_cache_dir)
    if preset is None:
        preset = default_preset_dir = _build_default_preset(fn_args, config, num_grades)
    teacher = TeacherModel.from_preset(preset, num_grades, config,
                                       lexical_signals=_lexical_signals(fn_args, config))

    cache_dir = tempfile.mkdtemp(prefix="teacher_tokens_") if config.token_cache == "disk" else None
    started = time.time()
    train, evaluation, num_train, num_eval = _datasets(fn_args, teacher, config, cache_dir)
    logging.info("teacher inputs: %d train / %d eval rows tokenized in %.1fs",
                 num_train, num_eval, time.time() - started)

    steps_per_epoch = None
    if fn_args.train_steps:
        steps_per_epoch = max(1, math.ceil(fn_args.train_steps / config.epochs))
        train = train.repeat()
    total_steps = (steps_per_epoch or math.ceil(num_train / config.batch_size)) * config.epochs
    budget = None
    if config.train_seconds:
        # The schedule runs over time, not steps: a constant rate the budget sets per batch.
        budget = TimeBudget(config.train_seconds, config.learning_rate, config.warmup_fraction)
        total_steps = None
    teacher.compile(config, total_steps=total_steps)

    if evaluation is not None and fn_args.eval_steps:
        evaluation = evaluation.repeat()
    timer = _EpochTimer()
    progress = TrainingProgress(
        "teacher", config.epochs, steps_per_epoch or math.ceil(num_train / config.batch_size),
        config.batch_size)
    callbacks = ([timer, EpochLog("teacher", config.epochs), progress]
                 + ([budget] if budget else []))
    if fn_args.model_run_dir:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir))

    started = time.time()
    history = teacher.training_model.fit(
        train.prefetch(tf.data.AUTOTUNE),
        validation_data=evaluation,
        validation_steps=fn_args.eval_steps if evaluation is not None else None,
        epochs=config.epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        verbose=0,  # EpochLog reports each epoch
    )
    fit_seconds = time.time() - started
    rows_per_epoch = steps_per_epoch * config.batch_size if steps_per_epoch else num_train
    # The first epoch also traces (and compiles) the train and eval steps.
    later = timer.seconds[1:] or timer.seconds
    examples_per_second = rows_per_epoch * len(later) / max(sum(later), 1e-9)
    logging.info("teacher trained in %.1fs (epochs %s s; %.0f examples/s after the "
                 "first): %s", fit_seconds, [round(t, 1) for t in timer.seconds],
                 examples_per_second, {k: v[-1] for k, v in history.history.items()})
    if budget:
        logging.info("teacher training budget %.0f s: %d steps taken", budget.seconds,
                     budget.steps)

    training = {"num_train": num_train, "num_eval": num_eval, "fit_seconds": round(fit_seconds, 1),
                "epochs": len(timer.seconds), "steps": budget.steps if budget else None,
                "train_examples_per_second": round(examples_per_second, 2)}
    export.save_serving_module(teacher.serving_module(), fn_args.serving_model_dir)
    _write_extras(fn_args.serving_model_dir, config, num_grades, default_preset_dir, training)
    if default_preset_dir:
        shutil.rmtree(os.path.dirname(default_preset_dir), ignore_errors=True)
    if cache_dir:
        shutil.rmtree(cache_dir, ignore_errors=True)
    logging.info("teacher exported to %s", fn_args.serving_model_dir)
    return {
        "num_train": num_train,
        "num_eval": num_eval,
        "fit_seconds": fit_seconds,
        "epoch_seconds": timer.seconds,
        "train_examples_per_second": examples_per_second,
        "budget_steps": budget.steps if budget else None,
        "history": {k: [float(v) for v in values] for k, values in history.history.items()},
    }
