"""The ItemEmbedder TFX component: precomputed query and item embeddings on every row."""

from typing import Sequence

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts

from components.item_embedder import component_spec as spec_lib
from components.item_embedder import executor
from components.item_embedder.settings import EmbedSettings


class ItemEmbedder(base_beam_component.BaseBeamComponent):
    """Encodes each distinct query and item text once with the pretrained bi-encoder,
    reduces the vectors to `dims` by a centred PCA fitted here, and writes them onto
    every row as `query_embedding` and `item_embedding` (float lists of `dims` values).

    Output `embedded_examples` (Examples) has the input's splits, every input row written
    once: a row that cannot be parsed, has no query or no item text, or whose text the
    encoder failed on is written unchanged and counted under that reason. Output
    `embedding_space` (ItemEmbeddingSpace) holds the PCA (`EmbeddingSpace`), fitted on
    at most 20,000 distinct texts (queries and items together) of `fit_splits`. Encoder
    vectors are cached by (preset, side, text hash) under `cache_dir`, so re-runs encode
    only new texts. Row accounting goes to `<output uri>/item_embedding_counts.json` and
    the artifact's custom properties.

    Example:

    >>> from tfx.types import channel_utils, standard_artifacts
    >>> examples = channel_utils.as_channel([standard_artifacts.Examples()])
    >>> embedder = ItemEmbedder(examples=examples, dims=64)
    >>> embedder.outputs["embedded_examples"].type_name, embedder.exec_properties["preset"]
    ('Examples', 'multilingual-e5-small')

    Runs on any Beam runner: `ItemEmbedder(...).with_beam_pipeline_args([...])`.
    """

    SPEC_CLASS = spec_lib.ItemEmbedderSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        preset: str = EmbedSettings.preset,
        dims: int = EmbedSettings.dims,
        batch_size: int = EmbedSettings.batch_size,
        cache_dir: str = "",
        fit_splits: Sequence[str] = EmbedSettings.fit_splits,
        query_length: int = EmbedSettings.query_length,
        item_length: int = EmbedSettings.item_length,
        preset_cache_dir: str = "",
    ):
        """Args:
        examples: canonical Examples, e.g. ExampleGen's or the ImageCaptioner's output.
        preset: the encoder: a preset this project builds (default: the pipeline's
            default teacher preset, multilingual-e5-small), a keras-hub preset
            directory or name.
        dims: D, the dimensions the PCA keeps (>= the encoder's width: all, centred).
        batch_size: texts per model call.
        cache_dir: vector cache directory (local or any gfile URI); "" = under the
            output artifact, i.e. no reuse across runs.
        fit_splits: the splits whose distinct texts the PCA is fitted on.
        query_length, item_length: the encoder's token budgets.
        preset_cache_dir: where a registry preset is built ("" = the default cache).
        """
        fit_splits = [str(split).strip() for split in fit_splits if str(split).strip()]
        if not preset:
            raise ValueError("ItemEmbedder needs an encoder preset name or directory")
        if min(dims, batch_size, query_length, item_length) < 1:
            raise ValueError("dims, batch_size, query_length and item_length must be >= 1")
        if not fit_splits or any("," in split for split in fit_splits):
            raise ValueError(f"fit_splits must name at least one split: {fit_splits}")
        spec = spec_lib.ItemEmbedderSpec(
            examples=examples,
            embedded_examples=types.Channel(type=standard_artifacts.Examples),
            embedding_space=types.Channel(type=spec_lib.ItemEmbeddingSpace),
            preset=str(preset),
            dims=int(dims),
            batch_size=int(batch_size),
            query_length=int(query_length),
            item_length=int(item_length),
            cache_dir=str(cache_dir),
            fit_splits=",".join(fit_splits),
            preset_cache_dir=str(preset_cache_dir),
        )
        super().__init__(spec=spec)
