"""The ItemEmbedder's settings, each default defined here once: the component's
parameters, `PipelineConfig` and the `relevance` CLI's flags read them. No TensorFlow,
Beam or TFX is imported (the registry's names import none either).

The encoder reads "query: q" in at most `query_length` tokens and "passage: item text"
in at most `item_length`, as the teacher's similarity prior does; both go through one
centred PCA to `dims` floats.
"""

import dataclasses
from typing import Tuple

from trainer.teacher.presets.registry import DEFAULT_TEACHER_PRESET

DEFAULT_FIT_SPLITS = ("train", "unlabeled")
# The PCA is fitted on at most this many distinct texts (queries and items together), a
# sample chosen by a stable hash of the text: the same texts give the same space.
MAX_FIT_TEXTS = 20_000


@dataclasses.dataclass(frozen=True)
class EmbedSettings:
    """Which encoder, how long its inputs, how many dimensions, texts per model call.

    Example:

    >>> EmbedSettings().preset, EmbedSettings().dims, EmbedSettings().fit_splits
    ('multilingual-e5-small', 64, ('train', 'unlabeled'))
    """

    preset: str = DEFAULT_TEACHER_PRESET
    # Measured at 32 / 64 / 128 / 256 (docs/results.md, "Student with item embeddings"):
    # the students rank alike at every width; 64 halves what 128 stores and sends.
    dims: int = 64
    batch_size: int = 32
    query_length: int = 32
    item_length: int = 128
    fit_splits: Tuple[str, ...] = DEFAULT_FIT_SPLITS
    preset_cache_dir: str = ""  # where a registry preset is built ("" = the default cache)
