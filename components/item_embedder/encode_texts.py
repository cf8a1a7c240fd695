"""Beam DoFn that encodes batches of distinct texts with the pretrained encoder.

The `TextEncoder` is loaded once per worker process, shared across DoFn instances and
threads through one `apache_beam.utils.shared.Shared` handle (as the PseudoLabeler's
teacher), and only when there is something to encode: a run served entirely from the
cache never loads it. Every vector is cached as it comes.

Example (a pipeline encoding a PCollection of lists of (text key, (text, in_fit))):

    vectors = (batches
               | beam.ParDo(EncodeTexts(settings, cache),
                            total_texts=beam.pvalue.AsSingleton(count))
                 .with_outputs(EncodeTexts.FAILED, main="vectors"))
"""

import json
import time
from typing import Iterable, List, Tuple

import apache_beam as beam
import numpy as np
from absl import logging
from apache_beam.utils import shared

from components.item_embedder.embedding_cache import EmbeddingCache
from components.item_embedder.settings import EmbedSettings
from components.item_embedder.text_encoder import TextEncoder
from components.item_embedder.texts import QUERY_SIDE, SIDES, key_side
from relevance.progress import RateProgress

_METRICS_NAMESPACE = "ItemEmbedder"
# One handle for the whole process: every EncodeTexts instance shares one loaded model.
_ENCODERS = shared.Shared()

# (text key, (text, in a fit split))
PendingText = Tuple[str, Tuple[str, bool]]


class _LoadedEncoder:
    """Holder for the encoder; `Shared` needs a weak-referenceable object."""

    def __init__(self, settings: EmbedSettings):
        self.encoder = TextEncoder(settings.preset, settings.query_length,
                                   settings.item_length, settings.batch_size,
                                   preset_cache_dir=settings.preset_cache_dir or None)


def load_shared_encoder(settings: EmbedSettings) -> TextEncoder:
    """The process's encoder for `settings`, loaded on first use."""
    tag = json.dumps([settings.preset, settings.query_length, settings.item_length,
                      settings.batch_size, settings.preset_cache_dir])
    return _ENCODERS.acquire(lambda: _LoadedEncoder(settings), tag=tag).encoder


class EncodeTexts(beam.DoFn):
    """Lists of (text key, (text, in_fit)) -> (text key, (vector [H], in_fit)), cached.

    A side's texts that fail together are retried one by one; a text that still fails
    goes to the `FAILED` output (its rows are written without embeddings). A preset that
    cannot be loaded is a configuration error and fails the pipeline. Progress (texts,
    rate, ETA) goes to `relevance.progress` after every model call; the optional
    `total_texts` side input is the number the whole step encodes.
    """

    FAILED = "encode_failed"

    def __init__(self, settings: EmbedSettings, cache: EmbeddingCache):
        self._settings = settings
        self._cache = cache
        self._encoder = None
        self._progress = None
        self._encoded = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, "texts_encoded")
        self._failed = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, "texts_failed")

    def teardown(self):
        if self._progress is not None:
            self._progress.finish()

    def _model(self) -> TextEncoder:
        if self._encoder is None:
            started = time.time()
            self._encoder = load_shared_encoder(self._settings)
            logging.info("ItemEmbedder: encoder %s ready in %.1f s", self._settings.preset,
                         time.time() - started)
        return self._encoder

    def _encode(self, side: str, texts: List[str], on_batch=None) -> np.ndarray:
        encoder = self._model()
        encode = encoder.encode_queries if side == QUERY_SIDE else encoder.encode_items
        vectors = encode(texts, on_batch=on_batch)
        if not np.all(np.isfinite(vectors)):
            raise ValueError("the encoder returned non-finite values")
        return vectors

    def process(self, batch: List[PendingText], total_texts: int = 0) -> Iterable:
        self._model()  # outside the try: a preset that does not load must fail the run
        if self._progress is None:  # here, not in setup: the side input is known here
            self._progress = RateProgress("ItemEmbedder", total=total_texts, unit="texts")
        for side in SIDES:
            pending = [item for item in batch if key_side(item[0])[0] == side]
            if pending:
                yield from self._encoded_side(side, pending)

    def _encoded_side(self, side: str, pending: List[PendingText]) -> Iterable:
        try:
            vectors = self._encode(side, [text for _, (text, _) in pending],
                                   on_batch=self._progress.update)
        except Exception as error:  # noqa: BLE001 - TF, Keras and tokenizer errors all differ
            logging.warning("ItemEmbedder: %d %s texts failed together (%s); retrying one by "
                            "one", len(pending), side, str(error).splitlines()[0] if str(error)
                            else error)
            yield from self._one_by_one(side, pending)
            return
        for item, vector in zip(pending, vectors):
            yield self._emit(item, vector)

    def _one_by_one(self, side: str, pending: List[PendingText]) -> Iterable:
        for key, (text, in_fit) in pending:
            try:
                (vector,) = self._encode(side, [text])
            except Exception as error:  # noqa: BLE001 - see _encoded_side
                logging.warning("ItemEmbedder: %s text %s failed: %s", side, key[:18], error)
                self._failed.inc()
                yield beam.pvalue.TaggedOutput(self.FAILED, key)
                continue
            yield self._emit((key, (text, in_fit)), vector)

    def _emit(self, item: PendingText, vector: np.ndarray):
        key, (_, in_fit) = item
        self._cache.put(*key_side(key), vector)
        self._encoded.inc()
        return key, (vector, in_fit)
