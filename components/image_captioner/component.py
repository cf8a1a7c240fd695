"""The ImageCaptioner TFX component: fills `image_caption` from item images."""

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts

from components.image_captioner import component_spec as spec_lib
from components.image_captioner import executor


class ImageCaptioner(base_beam_component.BaseBeamComponent):
    """Captions item images with a keras-hub PaliGemma model, for items without a caption.

    Output `captioned_examples` (Examples) has the input's splits, every example written
    once: examples whose `image` (path / URI) or `image_bytes` is readable and whose
    `image_caption` is empty get the model's caption; all others are written unchanged,
    except that an example with no item text at all even after captioning (an image-only
    item whose image failed) is quarantined under `<output uri>/quarantine/` instead.
    Captions are cached by image content hash under `cache_dir`, so repeated images and
    re-runs are not captioned twice. Row accounting (in, out, quarantined, captioned,
    cached, already_captioned, no_image, unreadable_image, model_error, unparseable) goes
    to `<output uri>/image_caption_counts.json` and the artifact's custom properties.

    Example:

    >>> from tfx.types import channel_utils, standard_artifacts
    >>> examples = channel_utils.as_channel([standard_artifacts.Examples()])
    >>> captioner = ImageCaptioner(examples=examples, preset="pali_gemma_3b_mix_224")
    >>> captioner.outputs["captioned_examples"].type_name
    'Examples'

    Runs on any Beam runner: `ImageCaptioner(...).with_beam_pipeline_args([...])`.
    """

    SPEC_CLASS = spec_lib.ImageCaptionerSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        preset: str,
        prompt: str = spec_lib.DEFAULTS[spec_lib.PROMPT_KEY],
        max_length: int = spec_lib.DEFAULTS[spec_lib.MAX_LENGTH_KEY],
        batch_size: int = spec_lib.DEFAULTS[spec_lib.BATCH_SIZE_KEY],
        cache_dir: str = spec_lib.DEFAULTS[spec_lib.CACHE_DIR_KEY],
        image_root: str = spec_lib.DEFAULTS[spec_lib.IMAGE_ROOT_KEY],
    ):
        """Args:
        examples: canonical Examples, e.g. ExampleGen's output.
        preset: keras-hub PaliGemma preset name or local preset directory.
        prompt: the text prompt given with each image.
        max_length: at most this many generated tokens per caption.
        batch_size: images per model call.
        cache_dir: caption cache directory (local or any gfile URI); "" = under the
            output artifact, i.e. no reuse across runs.
        image_root: directory that relative `image` paths are relative to.
        """
        if not preset:
            raise ValueError("ImageCaptioner needs a PaliGemma preset name or directory")
        if max_length < 1 or batch_size < 1:
            raise ValueError("max_length and batch_size must be >= 1")
        spec = spec_lib.ImageCaptionerSpec(
            examples=examples,
            captioned_examples=types.Channel(type=standard_artifacts.Examples),
            preset=str(preset),
            prompt=str(prompt),
            max_length=int(max_length),
            batch_size=int(batch_size),
            cache_dir=str(cache_dir),
            image_root=str(image_root),
        )
        super().__init__(spec=spec)
