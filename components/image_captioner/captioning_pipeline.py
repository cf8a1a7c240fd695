"""The Beam graph of the image captioner: read, sort out, caption distinct images, write, count.

Kept free of TFX artifacts so it can be run and tested on plain paths.

    examples ─> Classify ─┬─ already captioned / no image / unreadable / unparseable ─────┐
                          └─ needs a caption: (hash, example), (hash, image bytes)        │
                                  distinct images ─> cache ─┬─ hit ─────────┐            │
                                                            └─ miss ─> PaliGemma ┤       │
                                  CoGroupByKey(hash) <─ captions ────────────┘            │
                                  write `image_caption` ─────────────────────> Write <───┘

An example that has no item text at all once captioning is done (an image-only item
whose image was unreadable or got no caption) goes to the quarantine shards instead of
Write (see `quarantine.py`), keeping its outcome.

Example:

    config = CaptioningConfig(settings=CaptionSettings(preset="/presets/paligemma"),
                              cache_dir="/cache", cache_namespace="...", image_root="/data")
    with beam.Pipeline() as pipeline:
        build_captioning_graph(pipeline, config, CaptioningPaths(
            input_patterns={"train": [...], "eval": [...], "unlabeled": [...]},
            output_split_dirs={"train": "/out/Split-train", ...},
            scratch_dir="/out/_scratch",
            quarantine_dir="/out/quarantine"))
"""

import dataclasses
from typing import Dict, List

import apache_beam as beam
import tensorflow as tf
from absl import logging

from components.event_counts import WriteEventTotals
from components.image_captioner import counts
from components.image_captioner import quarantine as quarantine_lib
from components.image_captioner.caption_cache import CaptionCache
from components.image_captioner.caption_model import CaptionSettings, GenerateCaptions
from components.image_captioner.images import (
    UnreadableImageError,
    content_hash,
    has_caption,
    has_image,
    read_image,
)
from components.sharded_writer import JSON_LINES, WriteDeterministicShards

CAPTION_FIELD = "image_caption"
_PASS = "pass"  # (split, serialized, outcome): written unchanged
_NEEDS_CAPTION = "needs_caption"  # (hash, (split, serialized))
_IMAGE = "image"  # (hash, image bytes)
_QUARANTINED = "quarantined"  # (split, outcome, JSON line): no item text, not written
_CACHED = "cached"
_MISSING = "missing"
_MAX_WARNINGS = 20


@dataclasses.dataclass(frozen=True)
class CaptioningConfig:
    """The model settings, the caption cache, and where relative image paths start.

    Example:

    >>> config = CaptioningConfig(CaptionSettings("/presets/pg"), "/cache", "ns", "/data")
    >>> config.cache.root
    '/cache/ns'
    """

    settings: CaptionSettings
    cache_dir: str
    cache_namespace: str
    image_root: str = ""

    @property
    def cache(self) -> CaptionCache:
        return CaptionCache(self.cache_dir, self.cache_namespace)


@dataclasses.dataclass(frozen=True)
class CaptioningPaths:
    """Where to read (file patterns per split) and write (one directory per split).

    Example:

    >>> CaptioningPaths({"train": ["/in/Split-train/*"]}, {"train": "/out/Split-train"},
    ...                 "/out/_scratch", "/out/quarantine").events_path
    '/out/_scratch/events.json'
    """

    input_patterns: Dict[str, List[str]]
    output_split_dirs: Dict[str, str]
    scratch_dir: str  # removed by the caller after the run
    quarantine_dir: str  # JSON-lines shards of the examples left without item text

    @property
    def events_path(self) -> str:
        return f"{self.scratch_dir}/events.json"


def _written_or_quarantined(split: str, serialized: bytes, example, outcome: str):
    """The example for Write, or its quarantine entry when it has no item text."""
    if quarantine_lib.has_item_text(example):
        return split, serialized, outcome
    return beam.pvalue.TaggedOutput(
        _QUARANTINED, (split, outcome, quarantine_lib.quarantine_entry(split, example, outcome))
    )


class _Classify(beam.DoFn):
    """Sends each example to pass-through (with its outcome) or to captioning."""

    def __init__(self, image_root: str):
        self._image_root = image_root
        self._warnings = 0

    def process(self, split_and_record):
        split, serialized = split_and_record
        try:
            example = tf.train.Example.FromString(serialized)
        except Exception:  # noqa: BLE001 - protobuf raises DecodeError and friends
            yield split, serialized, counts.UNPARSEABLE
            return
        if has_caption(example):
            yield split, serialized, counts.ALREADY_CAPTIONED
        elif not has_image(example):
            yield _written_or_quarantined(split, serialized, example, counts.NO_IMAGE)
        else:
            try:
                data = read_image(example, self._image_root)
            except UnreadableImageError as error:
                self._warn(example, error)
                yield _written_or_quarantined(split, serialized, example, counts.UNREADABLE_IMAGE)
                return
            image_hash = content_hash(data)
            yield beam.pvalue.TaggedOutput(_NEEDS_CAPTION, (image_hash, (split, serialized)))
            yield beam.pvalue.TaggedOutput(_IMAGE, (image_hash, data))

    def _warn(self, example, error):
        self._warnings += 1
        if self._warnings <= _MAX_WARNINGS:
            item = example.features.feature["item_id"].bytes_list.value[:1]
            logging.warning("ImageCaptioner: item %s: unreadable image: %s",
                            item[0].decode("utf-8", "replace") if item else "?", error)


class _LookUpCache(beam.DoFn):
    def __init__(self, cache: CaptionCache):
        self._cache = cache

    def process(self, hash_and_image):
        image_hash, _ = hash_and_image
        caption = self._cache.get(image_hash)
        if caption is None:
            yield beam.pvalue.TaggedOutput(_MISSING, hash_and_image)
        else:
            yield image_hash, caption


def _first(values):
    return next(iter(values))


def _with_caption(grouped):
    """Each waiting example with its image's caption and outcome (or quarantined)."""
    _, groups = grouped
    found = list(groups["captions"])
    caption, outcome = found[0] if found else (None, counts.MODEL_ERROR)
    for split, serialized in groups["examples"]:
        example = tf.train.Example.FromString(serialized)
        if caption is not None:
            feature = example.features.feature[CAPTION_FIELD]
            feature.ClearField("bytes_list")
            feature.bytes_list.value.append(caption.encode("utf-8"))
            # Map fields serialize in arbitrary order unless asked; re-runs must be
            # byte-identical.
            serialized = example.SerializeToString(deterministic=True)
        yield _written_or_quarantined(split, serialized, example, outcome)


def _read_splits(pipeline, input_patterns: Dict[str, List[str]]):
    reads = [
        pipeline
        | f"Read[{split}][{index}]" >> beam.io.ReadFromTFRecord(pattern, coder=beam.coders.BytesCoder())
        | f"Tag[{split}][{index}]" >> beam.Map(lambda record, s=split: (s, record))
        for split, patterns in sorted(input_patterns.items())
        for index, pattern in enumerate(patterns)
    ]
    return reads | "FlattenReads" >> beam.Flatten(pipeline=pipeline)


def build_captioning_graph(pipeline, config: CaptioningConfig, paths: CaptioningPaths) -> None:
    """Adds the whole captioning graph to `pipeline`."""
    records = _read_splits(pipeline, paths.input_patterns)
    classified = records | "Classify" >> beam.ParDo(_Classify(config.image_root)).with_outputs(
        _NEEDS_CAPTION, _IMAGE, _QUARANTINED, main=_PASS
    )
    distinct = classified[_IMAGE] | "DistinctImages" >> beam.CombinePerKey(_first)
    looked_up = distinct | "LookUpCache" >> beam.ParDo(_LookUpCache(config.cache)).with_outputs(
        _MISSING, main=_CACHED
    )
    batch_size = config.settings.batch_size
    # How many images the model captions in all: the progress's percentage and ETA.
    to_caption = looked_up[_MISSING] | "CountToCaption" >> beam.combiners.Count.Globally()
    generated = (
        looked_up[_MISSING]
        | "Batch" >> beam.BatchElements(min_batch_size=batch_size, max_batch_size=batch_size)
        | "Caption" >> beam.ParDo(GenerateCaptions(config.settings, config.cache),
                                  total_images=beam.pvalue.AsSingleton(to_caption))
        .with_outputs(GenerateCaptions.FAILED, main="captions")
    )
    captions = (
        looked_up[_CACHED] | "FromCache" >> beam.Map(lambda hc: (hc[0], (hc[1], counts.CACHED))),
        generated["captions"]
        | "FromModel" >> beam.Map(lambda hc: (hc[0], (hc[1], counts.CAPTIONED))),
    ) | "FlattenCaptions" >> beam.Flatten()
    captioned = (
        {"examples": classified[_NEEDS_CAPTION], "captions": captions}
        | "JoinCaptions" >> beam.CoGroupByKey()
        | "WriteCaption" >> beam.FlatMap(_with_caption).with_outputs(_QUARANTINED, main=_PASS)
    )
    written = (classified[_PASS], captioned[_PASS]) | "FlattenOutputs" >> beam.Flatten()
    quarantined = (
        (classified[_QUARANTINED], captioned[_QUARANTINED]) | "FlattenQuarantined" >> beam.Flatten()
    )
    split_dirs = paths.output_split_dirs
    _ = (
        written
        | "ToDir" >> beam.Map(lambda sro: (split_dirs[sro[0]], sro[1]))
        | "Write" >> WriteDeterministicShards(paths.scratch_dir)
    )
    _ = (
        quarantined
        | "QuarantineLines" >> beam.Map(lambda soe: (paths.quarantine_dir, soe[2].encode("utf-8")))
        | "WriteQuarantine" >> WriteDeterministicShards(paths.scratch_dir, shard_format=JSON_LINES)
    )

    events = (
        records | "CountIn" >> beam.Map(lambda sr: counts.split_in(sr[0])),
        written | "CountOut" >> beam.FlatMap(
            lambda sro: [counts.split_out(sro[0]), counts.outcome(sro[2])]),
        quarantined | "CountQuarantined" >> beam.FlatMap(
            lambda soe: [counts.split_quarantined(soe[0]), counts.outcome(soe[1])]),
        looked_up[_CACHED] | "CountImagesFromCache" >> beam.Map(
            lambda _: counts.images(counts.IMAGES_FROM_CACHE)),
        generated["captions"] | "CountImagesGenerated" >> beam.Map(
            lambda _: counts.images(counts.IMAGES_GENERATED)),
    )
    _ = events | "WriteEventTotals" >> WriteEventTotals(paths.events_path)
