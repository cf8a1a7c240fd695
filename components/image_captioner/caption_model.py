"""Beam DoFn that captions batches of distinct images with a keras-hub PaliGemma model.

The model is loaded with `PaliGemmaCausalLM.from_preset` (a preset name or a local
preset directory) once per worker process, shared across threads through
`apache_beam.utils.shared.Shared`, and only when there is something to caption: a run
served entirely from the cache never loads it. Every batch is padded to `batch_size`
so generation is compiled for one shape only.

Example (a pipeline captioning a PCollection of (content hash, image bytes) lists):

    captions = (batches
                | beam.ParDo(GenerateCaptions(settings, cache))
                  .with_outputs(GenerateCaptions.FAILED, main="captions"))
"""

import time
from typing import Iterable, List, Tuple

import apache_beam as beam
import numpy as np
from absl import logging
from apache_beam.utils import shared

from components.image_captioner.caption_cache import CaptionCache
from components.image_captioner.settings import CaptionSettings  # noqa: F401 - re-exported
from components.image_captioner.images import decode_image
from relevance.progress import RateProgress

_METRICS_NAMESPACE = "ImageCaptioner"


class LoadedCaptioner:
    """A PaliGemma causal LM loaded from a preset, captioning decoded images.

    Example:

        captioner = LoadedCaptioner("pali_gemma_3b_mix_224")
        captioner.caption([png_bytes], "caption en\\n", max_length=32)
    """

    def __init__(self, preset: str):
        import keras_hub

        self.preset = preset
        self.model = keras_hub.models.PaliGemmaCausalLM.from_preset(preset)
        self.image_size = int(self.model.backbone.image_size)
        self._tokenizer = self.model.preprocessor.tokenizer

    def caption(self, images: List[bytes], prompt: str, max_length: int,
                batch_size: int = 0) -> List[str]:
        """Captions of `images` (encoded bytes), generated as one batch of `batch_size`."""
        pixels = np.stack([decode_image(data, self.image_size) for data in images])
        padding = max(0, batch_size - len(images))
        if padding:
            pixels = np.concatenate([pixels, np.repeat(pixels[-1:], padding, axis=0)])
        # generate()'s max_length counts the prompt (and <bos>) too.
        prompt_tokens = int(np.asarray(self._tokenizer(prompt)).shape[0]) + 1
        outputs = self.model.generate(
            {"images": pixels, "prompts": [prompt] * len(pixels)},
            max_length=prompt_tokens + max_length,
            strip_prompt=True,
        )
        return [" ".join(str(text).split()) for text in outputs[: len(images)]]


class GenerateCaptions(beam.DoFn):
    """(content hash, image bytes) batches -> (content hash, caption), cached as they come.

    A batch that fails is retried image by image; images that still fail go to the
    `FAILED` output (their items keep an empty caption). A preset that cannot be loaded
    is a configuration error and fails the pipeline. Progress (images, rate, ETA) goes
    to `relevance.progress`; the optional `total_images` argument (a side input) is the
    number of images the whole step captions, for the percentage and ETA.

    Example:

        batches | beam.ParDo(GenerateCaptions(CaptionSettings("/presets/pg"),
                                               CaptionCache("/cache", "ns")),
                             total_images=beam.pvalue.AsSingleton(image_count))
    """

    FAILED = "caption_failed"

    def __init__(self, settings: CaptionSettings, cache: CaptionCache):
        self._settings = settings
        self._cache = cache
        self._shared_handle = shared.Shared()
        self._captioner = None
        self._generated = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, "images_captioned")
        self._failed = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, "images_failed")
        self._seconds = 0.0
        self._images = 0
        self._progress = None

    def teardown(self):
        if self._progress is not None:
            self._progress.finish()

    def _model(self) -> LoadedCaptioner:
        if self._captioner is None:
            preset = self._settings.preset
            started = time.time()
            self._captioner = self._shared_handle.acquire(
                lambda: LoadedCaptioner(preset), tag=preset
            )
            logging.info("ImageCaptioner: loaded %s in %.1f s", preset, time.time() - started)
        return self._captioner

    def _caption(self, batch: List[Tuple[str, bytes]]) -> List[str]:
        settings = self._settings
        started = time.time()
        captions = self._model().caption(
            [data for _, data in batch], settings.prompt, settings.max_length,
            batch_size=settings.batch_size,
        )
        self._seconds += time.time() - started
        self._images += len(batch)
        return captions

    def _emit(self, image_hash: str, caption: str):
        self._cache.put(image_hash, caption)
        self._generated.inc()
        return image_hash, caption

    def process(self, batch: List[Tuple[str, bytes]], total_images: int = 0) -> Iterable:
        self._model()  # outside the try: a preset that does not load must fail the run
        if self._progress is None:  # here, not in setup: the side input is known here
            self._progress = RateProgress("ImageCaptioner", total=total_images, unit="images")
        yield from self._captioned(batch)
        self._progress.update(len(batch))

    def _captioned(self, batch: List[Tuple[str, bytes]]) -> Iterable:
        try:
            captions = self._caption(batch)
        except Exception as error:  # noqa: BLE001 - TF, Keras and decoding errors all differ
            logging.warning("ImageCaptioner: a batch of %d failed (%s); retrying one by one",
                            len(batch), str(error).splitlines()[0] if str(error) else error)
            yield from self._process_one_by_one(batch)
            return
        for (image_hash, _), caption in zip(batch, captions):
            yield self._emit(image_hash, caption)
        logging.info("ImageCaptioner: %d images captioned, %.2f s per image so far",
                     self._images, self._seconds / max(1, self._images))

    def _process_one_by_one(self, batch: List[Tuple[str, bytes]]) -> Iterable:
        for image_hash, data in batch:
            try:
                (caption,) = self._caption([(image_hash, data)])
            except Exception as error:  # noqa: BLE001 - see process()
                logging.warning("ImageCaptioner: image %s failed: %s", image_hash[:12], error)
                self._failed.inc()
                yield beam.pvalue.TaggedOutput(self.FAILED, image_hash)
                continue
            yield self._emit(image_hash, caption)
