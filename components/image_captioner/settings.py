"""The ImageCaptioner's settings, each default defined here once: the component's
parameters, `PipelineConfig` and the `relevance` CLI's caption flags read them. No
TensorFlow, Beam or TFX is imported.

PaliGemma "mix" checkpoints caption with the task prefix "caption en"; the newline
ends the prompt.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class CaptionSettings:
    """Which model captions, and how: prompt, new tokens per caption, images per call.

    Example:

    >>> CaptionSettings(preset="pali_gemma_3b_mix_224", max_length=16).prompt
    'caption en\\n'
    """

    preset: str
    prompt: str = "caption en\n"
    max_length: int = 32
    batch_size: int = 8
