"""ComponentSpec of the ImageCaptioner: channel and parameter names and their defaults.

Example:

>>> sorted(ImageCaptionerSpec.PARAMETERS) == sorted([PRESET_KEY, *DEFAULTS])
True
>>> DEFAULTS[PROMPT_KEY]
'caption en\\n'
"""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.image_captioner.settings import CaptionSettings

EXAMPLES_KEY = "examples"
CAPTIONED_KEY = "captioned_examples"

PRESET_KEY = "preset"
PROMPT_KEY = "prompt"
MAX_LENGTH_KEY = "max_length"
BATCH_SIZE_KEY = "batch_size"
CACHE_DIR_KEY = "cache_dir"
IMAGE_ROOT_KEY = "image_root"

DEFAULTS = {
    PROMPT_KEY: CaptionSettings.prompt,
    MAX_LENGTH_KEY: CaptionSettings.max_length,
    BATCH_SIZE_KEY: CaptionSettings.batch_size,
    CACHE_DIR_KEY: "",  # "" = <pipeline root>/caption_cache, set by the pipeline definition
    IMAGE_ROOT_KEY: "",  # "" = relative image paths are relative to the working directory
}

_PARAMETER_TYPES = {
    PROMPT_KEY: str,
    MAX_LENGTH_KEY: int,
    BATCH_SIZE_KEY: int,
    CACHE_DIR_KEY: str,
    IMAGE_ROOT_KEY: str,
}


class ImageCaptionerSpec(ComponentSpec):
    """Input: canonical Examples (any splits). Output: the same splits, captions filled."""

    PARAMETERS = {
        PRESET_KEY: ExecutionParameter(type=str),
        **{name: ExecutionParameter(type=kind, optional=True)
           for name, kind in _PARAMETER_TYPES.items()},
    }
    INPUTS = {EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {CAPTIONED_KEY: ChannelParameter(type=standard_artifacts.Examples)}
