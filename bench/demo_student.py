"""A tiny but real student for the latency and cost benches: demo data through the real
Transform (tft_beam) and `trainer.student.task.run_fn`, optionally with a word-vector table
of the vocabulary cap's size and with item embeddings and a full query cache
(`build_demo_student`)."""

import os
import random

import numpy as np
import tensorflow as tf

from relevance import contract

G = contract.DEFAULT_NUM_GRADES


def _demo_examples(work_dir, num_labeled, num_unlabeled):
    from demo.data import write_demo_data
    from relevance.readers import read_rows
    from relevance.records import record_to_example, to_record

    paths = write_demo_data(work_dir, num_labeled=num_labeled, num_unlabeled=num_unlabeled)
    records = []
    for key in ("labeled", "unlabeled"):
        for row in read_rows(paths[key]):
            if row.fields is not None:
                records.append(to_record(row.fields, G, detect_missing_language=False))
    return records


def _soft_label(grade, rng):
    if grade is None:
        probabilities = np.array([rng.random() + 0.1 for _ in range(G)])
    else:
        probabilities = np.full(G, 0.04)
        probabilities[grade - 1] = 0.8
    return (probabilities / probabilities.sum()).tolist()


def _pad_vocabulary_with_word_vectors(transform_dir, num_words, dims, cache_dir):
    """Grows Transform's corpus vocabulary to `num_words` lines (made-up rare words after
    the real ones) and caches random unit word vectors for it, as if distilled: the
    student's table then has the size a 200k-word corpus gives it (cost and size do not
    depend on the values; distilling 200k real words takes minutes)."""
    import tensorflow_transform as tft

    from trainer.student import text_features as tx
    from trainer.student.word_vectors import VECTORS_FILE, cache_key
    from trainer.teacher.presets.cache import PresetCache

    path = tft.TFTransformOutput(transform_dir).vocabulary_file_by_name(
        tx.CORPUS_WORD_COUNTS_VOCABULARY)
    with open(path) as f:
        lines = f.read().splitlines()
    lines += [f"1 zz{index:07d}" for index in range(num_words - len(lines))]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    vectors = np.random.default_rng(0).normal(size=(num_words, dims)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    PresetCache(cache_dir).get(cache_key(path, _WORD_VECTOR_SOURCE, dims),
                               lambda d: np.save(os.path.join(d, VECTORS_FILE), vectors))


_WORD_VECTOR_SOURCE = "random-unit-vectors"


def _random_unit(rng, dims):
    vector = rng.normal(size=dims)
    return (vector / np.linalg.norm(vector)).tolist()


def _cache_filler_records(records, count):
    """`count` copies of a real record, each with its own made-up query: the cache is
    filled with the most frequent queries, so these reach it as real traffic would."""
    template = dict(records[0])
    return [{**template, contract.QUERY: f"cached query {index}",
             contract.QUERY_ID: f"cache-{index}", contract.GRADE: None}
            for index in range(count)]


def build_demo_student(work_dir, word_vector_words=0, word_vector_dims=128,
                       item_embedding_dims=0, query_cache=0):
    """Demo data -> canonical examples -> tft_beam Transform -> run_fn; returns the export dir.

    `word_vector_words` > 0 gives the student a word-vector table of that many words;
    `item_embedding_dims` > 0 random unit item / query embeddings on every row, and
    `query_cache` extra distinct queries to fill the query cache."""
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import metadata_io
    from tfx.components.trainer.fn_args_utils import FnArgs

    from relevance.records import record_to_example
    from trainer.student.preprocessing import preprocessing_fn
    from trainer.student.task import run_fn

    records = _demo_examples(os.path.join(work_dir, "data"), 300, 900)
    # Canonical examples, as ExampleGen writes them (SchemaGen: infer_feature_shape=False).
    spec = {
        name: tf.io.VarLenFeature(tf.string)
        for name in contract.SCALAR_STRING_FEATURES + contract.LIST_STRING_FEATURES
    }
    spec[contract.GRADE] = tf.io.VarLenFeature(tf.int64)
    metadata = tft.DatasetMetadata.from_feature_spec(spec)
    instances = []
    for record in records:
        instance = {name: [record[name]] for name in contract.SCALAR_STRING_FEATURES}
        instance.update({name: list(record[name]) for name in contract.LIST_STRING_FEATURES})
        grade = record.get(contract.GRADE)
        instance[contract.GRADE] = [] if grade is None else [int(grade)]
        instances.append(instance)
    transform_dir = os.path.join(work_dir, "transform")
    with tft_beam.Context(temp_dir=os.path.join(work_dir, "tft_tmp")):
        transform_fn = (instances, metadata) | tft_beam.AnalyzeDataset(preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(transform_dir)
    metadata_io.write_metadata(metadata, os.path.join(transform_dir, "metadata"))

    rng = random.Random(0)
    vectors = np.random.default_rng(0)
    if item_embedding_dims:
        records = records + _cache_filler_records(records, query_cache)
    serialized = []
    for record in records:
        example = record_to_example(record)
        feature = example.features.feature
        feature[contract.SOFT_LABEL].float_list.value.extend(
            _soft_label(record.get(contract.GRADE), rng)
        )
        if item_embedding_dims:
            for name in contract.EMBEDDING_FEATURES:
                feature[name].float_list.value.extend(_random_unit(vectors, item_embedding_dims))
        serialized.append(example.SerializeToString())
    rng.shuffle(serialized)
    for split, rows in (("train", serialized[200:]), ("eval", serialized[:200])):
        os.makedirs(os.path.join(work_dir, split))
        with tf.io.TFRecordWriter(
            os.path.join(work_dir, split, "data-00000-of-00001.gz"), options="GZIP"
        ) as writer:
            for row in rows:
                writer.write(row)

    fn_args = FnArgs(
        train_files=[os.path.join(work_dir, "train", "*")],
        eval_files=[os.path.join(work_dir, "eval", "*")],
        transform_output=transform_dir,
        serving_model_dir=os.path.join(work_dir, "serving"),
        model_run_dir="",
        train_steps=20,
        eval_steps=1,
        custom_config={"num_grades": G, "student": {"epochs": 1, "batch_size": 64}},
    )
    if word_vector_words:
        cache_dir = os.path.join(work_dir, "word_vector_cache")
        _pad_vocabulary_with_word_vectors(transform_dir, word_vector_words, word_vector_dims,
                                          cache_dir)
        fn_args.custom_config["student"].update(
            word_vectors_preset=_WORD_VECTOR_SOURCE, word_vector_dims=word_vector_dims,
            preset_cache_dir=cache_dir)
    if item_embedding_dims:
        fn_args.custom_config["student"].update(query_tower_epochs=2,
                                                query_cache_size=max(query_cache, 1))
    run_fn(fn_args)
    return fn_args.serving_model_dir
