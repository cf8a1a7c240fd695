"""ComponentSpec of the ItemEmbedder: channel and parameter names, their defaults, and the
artifact type of the embedding space.

`fit_splits` is one comma-separated string, since TFX stores execution parameters as
MLMD int / double / string values.

Example:

>>> sorted(ItemEmbedderSpec.PARAMETERS) == sorted(DEFAULTS)
True
>>> DEFAULTS[DIMS_KEY], DEFAULTS[FIT_SPLITS_KEY]
(64, 'train,unlabeled')
>>> ItemEmbeddingSpace.TYPE_NAME
'relevance.ItemEmbeddingSpace'
"""

from tfx.types import artifact, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.item_embedder.settings import EmbedSettings

EXAMPLES_KEY = "examples"
EMBEDDED_KEY = "embedded_examples"
SPACE_KEY = "embedding_space"

PRESET_KEY = "preset"
DIMS_KEY = "dims"
BATCH_SIZE_KEY = "batch_size"
QUERY_LENGTH_KEY = "query_length"
ITEM_LENGTH_KEY = "item_length"
CACHE_DIR_KEY = "cache_dir"
FIT_SPLITS_KEY = "fit_splits"
PRESET_CACHE_DIR_KEY = "preset_cache_dir"

DEFAULTS = {
    PRESET_KEY: EmbedSettings.preset,
    DIMS_KEY: EmbedSettings.dims,
    BATCH_SIZE_KEY: EmbedSettings.batch_size,
    QUERY_LENGTH_KEY: EmbedSettings.query_length,
    ITEM_LENGTH_KEY: EmbedSettings.item_length,
    CACHE_DIR_KEY: "",  # "" = under the output artifact (no reuse across runs)
    FIT_SPLITS_KEY: ",".join(EmbedSettings.fit_splits),
    PRESET_CACHE_DIR_KEY: "",  # "" = the default preset cache
}

_PARAMETER_TYPES = {
    PRESET_KEY: str,
    DIMS_KEY: int,
    BATCH_SIZE_KEY: int,
    QUERY_LENGTH_KEY: int,
    ITEM_LENGTH_KEY: int,
    CACHE_DIR_KEY: str,
    FIT_SPLITS_KEY: str,
    PRESET_CACHE_DIR_KEY: str,
}


class ItemEmbeddingSpace(artifact.Artifact):
    """A directory holding an `EmbeddingSpace` (`embedding_space.npz` and `.json`): the
    PCA the ItemEmbedder's features were projected with, for embedding new items into
    the same space (`relevance embed-items --space DIR`).

    Example:

    >>> ItemEmbeddingSpace().type_name
    'relevance.ItemEmbeddingSpace'
    """

    # "namespace.Name": the form Kubeflow Pipelines v2 accepts for a custom artifact type.
    TYPE_NAME = "relevance.ItemEmbeddingSpace"


class ItemEmbedderSpec(ComponentSpec):
    """Input: Examples (any splits). Outputs: the same splits with the embedding features,
    and the embedding space."""

    PARAMETERS = {
        name: ExecutionParameter(type=kind, optional=True)
        for name, kind in _PARAMETER_TYPES.items()
    }
    INPUTS = {EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {
        EMBEDDED_KEY: ChannelParameter(type=standard_artifacts.Examples),
        SPACE_KEY: ChannelParameter(type=ItemEmbeddingSpace),
    }
