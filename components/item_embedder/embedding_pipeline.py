"""The Beam graph of the ItemEmbedder: read, key texts, encode distinct texts once, fit the
PCA, project, join back to the rows, write, count. Free of TFX artifacts, so it runs and
is tested on plain paths.

    rows ─> Classify ─┬─ unparseable / no query / no item text ──────────────────────┐
                      └─ row keyed by its query's and its item's text keys           │
                           distinct texts ─> cache ─┬─ hit ────────┐                 │
                                                    └─ miss ─> encoder ┤             │
                           vectors [H] ─> fit sample ─> EmbeddingSpace (saved)       │
                           vectors ─> project [D] ─┬─ queries ─> CoGroupByKey(query) │
                                                   └─ items ───> CoGroupByKey(item)  │
                           write `query_embedding`, `item_embedding` ───> Write <────┘

Rows meet their vectors through two CoGroupByKeys (by query key, then by item key)
rather than a side input: a side input holds every distinct text's vector in every
worker's memory (a million items at D = 128 is 0.5 GB of floats before Python's
overhead), while a join scales with the data, at the price of shuffling the rows twice.
The space itself (mean and axes, a few hundred KB) is a side input.

Example:

    config = EmbeddingConfig(EmbedSettings(preset="/presets/e5"), "/cache", "ns")
    with beam.Pipeline() as pipeline:
        build_embedding_graph(pipeline, config, EmbeddingPaths(
            input_patterns={"train": [...], "eval": [...], "unlabeled": [...]},
            output_split_dirs={"train": "/out/Split-train", ...},
            space_dir="/space", scratch_dir="/out/_scratch"))
"""

import dataclasses
from typing import Dict, List, Optional

import apache_beam as beam
import numpy as np
import tensorflow as tf
from absl import logging

from components.event_counts import WriteEventTotals
from components.hashing import stable_hash
from components.item_embedder import counts
from components.item_embedder.embedding_cache import EmbeddingCache
from components.item_embedder.embedding_space import EmbeddingSpace
from components.item_embedder.encode_texts import EncodeTexts
from components.item_embedder.settings import MAX_FIT_TEXTS, EmbedSettings
from components.item_embedder.texts import (
    ITEM_SIDE, QUERY_SIDE, item_embedding_text, key_side, query_text, text_key)
from components.sharded_writer import WriteDeterministicShards
from relevance import contract

_PASS = "pass"  # (split, serialized, outcome): written unchanged
_ROW = "row"  # (query key, (split, serialized, item key))
_TEXT = "text"  # (text key, (text, in a fit split))
_CACHED = "cached"
_MISSING = "missing"
# Texts per Beam batch; the encoder sorts each by length and calls the model
# `batch_size` texts at a time, so a larger batch pads less.
_BATCHES_PER_BUNDLE = 16


@dataclasses.dataclass(frozen=True)
class EmbeddingConfig:
    """The encoder and PCA settings, and the vector cache.

    Example:

    >>> EmbeddingConfig(EmbedSettings(preset="/presets/e5"), "/cache", "ns").cache.root
    '/cache/ns'
    """

    settings: EmbedSettings
    cache_dir: str
    cache_namespace: str

    @property
    def cache(self) -> EmbeddingCache:
        return EmbeddingCache(self.cache_dir, self.cache_namespace)


@dataclasses.dataclass(frozen=True)
class EmbeddingPaths:
    """Where to read (file patterns per split) and write (a directory per split, the
    space's directory, a scratch directory the caller removes after the run).

    Example:

    >>> EmbeddingPaths({"train": ["/in/Split-train/*"]}, {"train": "/out/Split-train"},
    ...                "/space", "/out/_scratch").events_path
    '/out/_scratch/events.json'
    """

    input_patterns: Dict[str, List[str]]
    output_split_dirs: Dict[str, str]
    space_dir: str
    scratch_dir: str

    @property
    def events_path(self) -> str:
        return f"{self.scratch_dir}/events.json"


class _Classify(beam.DoFn):
    """Sends each row to pass-through (with its reason) or to embedding, with its texts."""

    def __init__(self, fit_splits):
        self._fit_splits = frozenset(fit_splits)

    def process(self, split_and_record):
        split, serialized = split_and_record
        try:
            example = tf.train.Example.FromString(serialized)
        except Exception:  # noqa: BLE001 - protobuf raises DecodeError and friends
            yield split, serialized, counts.UNPARSEABLE
            return
        query = query_text(example)
        if not query:
            yield split, serialized, counts.NO_QUERY
            return
        item = item_embedding_text(example)
        if not item.strip():
            yield split, serialized, counts.NO_ITEM_TEXT
            return
        in_fit = split in self._fit_splits
        query_key, item_key = text_key(QUERY_SIDE, query), text_key(ITEM_SIDE, item)
        yield beam.pvalue.TaggedOutput(_ROW, (query_key, (split, serialized, item_key)))
        yield beam.pvalue.TaggedOutput(_TEXT, (query_key, (query, in_fit)))
        yield beam.pvalue.TaggedOutput(_TEXT, (item_key, (item, in_fit)))


def _merge_texts(values):
    """One text per key, in a fit split if any of its rows is."""
    values = list(values)
    return values[0][0], any(in_fit for _, in_fit in values)


class _LookUpCache(beam.DoFn):
    def __init__(self, cache: EmbeddingCache):
        self._cache = cache

    def process(self, key_and_text):
        key, (_, in_fit) = key_and_text
        vector = self._cache.get(*key_side(key))
        if vector is None:
            yield beam.pvalue.TaggedOutput(_MISSING, key_and_text)
        else:
            yield key, (vector, in_fit)


def _fit_space(fit_sample, all_sample, settings: EmbedSettings,
               space_dir: str) -> Optional[EmbeddingSpace]:
    """The space fitted on the fit splits' sample (all splits' when they have no text),
    saved into `space_dir`; None when no row had a text at all."""
    sample = fit_sample or all_sample
    if not fit_sample and all_sample:
        logging.warning("ItemEmbedder: no text in the fit splits %s; fitting the space on "
                        "a sample of every split", list(settings.fit_splits))
    if not sample:
        logging.warning("ItemEmbedder: no row has a query and item text: nothing to embed")
        return None
    vectors = np.stack([vector for _, vector in sample])
    space = EmbeddingSpace.fit(vectors, settings.dims, settings.preset,
                               settings.query_length, settings.item_length)
    if len(sample) < space.dims:
        logging.warning("ItemEmbedder: the space is fitted on %d texts, fewer than its %d "
                        "dimensions", len(sample), space.dims)
    space.save(space_dir)
    logging.info("ItemEmbedder: embedding space %s saved to %s", space.info(), space_dir)
    return space


def _project(key_and_vector, space):
    key, vector = key_and_vector
    return key, space.project(vector[None, :])[0]


def _with_query_vector(grouped):
    """(item key, (split, serialized, query vector or None)) per waiting row."""
    _, groups = grouped
    found = list(groups["vectors"])
    vector = found[0] if found else None
    for split, serialized, item_key in groups["rows"]:
        yield item_key, (split, serialized, vector)


def _with_embeddings(grouped):
    """(split, serialized, outcome): both features written, or the row unchanged."""
    _, groups = grouped
    found = list(groups["vectors"])
    item_vector = found[0] if found else None
    for split, serialized, query_vector in groups["rows"]:
        if query_vector is None or item_vector is None:
            yield split, serialized, counts.ENCODE_ERROR
            continue
        example = tf.train.Example.FromString(serialized)
        for name, vector in ((contract.QUERY_EMBEDDING, query_vector),
                             (contract.ITEM_EMBEDDING, item_vector)):
            feature = example.features.feature[name]
            feature.Clear()
            feature.float_list.value.extend(vector.tolist())
        # Map fields serialize in arbitrary order unless asked; re-runs must be identical.
        yield split, example.SerializeToString(deterministic=True), counts.EMBEDDED


def _read_splits(pipeline, input_patterns: Dict[str, List[str]]):
    reads = [
        pipeline
        | f"Read[{split}][{index}]" >> beam.io.ReadFromTFRecord(
            pattern, coder=beam.coders.BytesCoder())
        | f"Tag[{split}][{index}]" >> beam.Map(lambda record, s=split: (s, record))
        for split, patterns in sorted(input_patterns.items())
        for index, pattern in enumerate(patterns)
    ]
    return reads | "FlattenReads" >> beam.Flatten(pipeline=pipeline)


def _sample(vectors, label: str):
    """A deterministic sample of at most MAX_FIT_TEXTS (key, vector): the smallest hashes."""
    return (vectors
            | f"{label}Vectors" >> beam.Map(lambda kv: (kv[0], kv[1][0]))
            | f"{label}Sample" >> beam.combiners.Top.Smallest(
                MAX_FIT_TEXTS, key=lambda kv: stable_hash(kv[0].encode("utf-8"))))


def build_embedding_graph(pipeline, config: EmbeddingConfig, paths: EmbeddingPaths) -> None:
    """Adds the whole embedding graph to `pipeline`."""
    settings = config.settings
    records = _read_splits(pipeline, paths.input_patterns)
    classified = records | "Classify" >> beam.ParDo(_Classify(settings.fit_splits)).with_outputs(
        _ROW, _TEXT, main=_PASS)
    distinct = classified[_TEXT] | "DistinctTexts" >> beam.CombinePerKey(_merge_texts)
    looked_up = distinct | "LookUpCache" >> beam.ParDo(_LookUpCache(config.cache)).with_outputs(
        _MISSING, main=_CACHED)
    to_encode = looked_up[_MISSING] | "CountToEncode" >> beam.combiners.Count.Globally()
    encoded = (
        looked_up[_MISSING]
        | "Batch" >> beam.BatchElements(
            min_batch_size=settings.batch_size,
            max_batch_size=settings.batch_size * _BATCHES_PER_BUNDLE)
        | "Encode" >> beam.ParDo(EncodeTexts(settings, config.cache),
                                 total_texts=beam.pvalue.AsSingleton(to_encode))
        .with_outputs(EncodeTexts.FAILED, main="vectors")
    )
    vectors = (looked_up[_CACHED], encoded["vectors"]) | "FlattenVectors" >> beam.Flatten()

    fit_sample = _sample(vectors | "InFitSplits" >> beam.Filter(lambda kv: kv[1][1]), "Fit")
    space = (
        pipeline
        | "SpaceSeed" >> beam.Create([None])
        | "FitSpace" >> beam.Map(
            lambda _, fit, every: _fit_space(fit, every, settings, paths.space_dir),
            fit=beam.pvalue.AsSingleton(fit_sample),
            every=beam.pvalue.AsSingleton(_sample(vectors, "All")))
    )
    projected = (
        vectors
        | "DropFitFlag" >> beam.Map(lambda kv: (kv[0], kv[1][0]))
        | "Project" >> beam.Map(_project, space=beam.pvalue.AsSingleton(space))
        | "BySide" >> beam.Partition(
            lambda kv, _: 0 if key_side(kv[0])[0] == QUERY_SIDE else 1, 2)
    )
    rows_by_item = (
        {"rows": classified[_ROW], "vectors": projected[0]}
        | "JoinQueries" >> beam.CoGroupByKey()
        | "ByItem" >> beam.FlatMap(_with_query_vector)
    )
    embedded = (
        {"rows": rows_by_item, "vectors": projected[1]}
        | "JoinItems" >> beam.CoGroupByKey()
        | "WriteFeatures" >> beam.FlatMap(_with_embeddings)
    )
    written = (classified[_PASS], embedded) | "FlattenOutputs" >> beam.Flatten()
    split_dirs = paths.output_split_dirs
    _ = (
        written
        | "ToDir" >> beam.Map(lambda sro: (split_dirs[sro[0]], sro[1]))
        | "Write" >> WriteDeterministicShards(paths.scratch_dir)
    )

    def text_event(name):
        return lambda item: counts.texts(key_side(item[0] if isinstance(item, tuple)
                                                  else item)[0], name)

    events = (
        records | "CountIn" >> beam.Map(lambda sr: counts.split_in(sr[0])),
        written | "CountOut" >> beam.FlatMap(
            lambda sro: [counts.split_out(sro[0]), counts.outcome(sro[0], sro[2])]),
        looked_up[_CACHED] | "CountFromCache" >> beam.Map(text_event(counts.TEXTS_FROM_CACHE)),
        encoded["vectors"] | "CountEncoded" >> beam.Map(text_event(counts.TEXTS_ENCODED)),
        encoded[EncodeTexts.FAILED] | "CountFailed" >> beam.Map(
            text_event(counts.TEXTS_FAILED)),
    )
    _ = events | "WriteEventTotals" >> WriteEventTotals(paths.events_path)
