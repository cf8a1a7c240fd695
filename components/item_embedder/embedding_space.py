"""One centred PCA for queries and items: the space the ItemEmbedder's features live in.

    v   = the encoder's unit vector of "query: q" or "passage: item text"   [H]
    out = normalize((v - mean) @ axes)                                      [D]

`mean` and `axes` (the top-D principal axes, each signed so that its largest entry is
positive: the same texts give the same space on every machine) are fitted on queries and
items together, so a query's and an item's features stay comparable by cosine; the
centring removes the direction every e5 output shares. D >= H keeps all H dimensions
(centred, not rotated). Saved as `embedding_space.npz` (mean, axes) and
`embedding_space.json` (preset, encoder lengths, dims, texts fitted on), which is all
`relevance embed-items` needs to put new items in the same space.

Example:

>>> import tempfile
>>> rng = np.random.default_rng(0)
>>> space = EmbeddingSpace.fit(rng.normal(size=(50, 6)), dims=3, preset="tiny")
>>> projected = space.project(rng.normal(size=(4, 6)))
>>> projected.shape, projected.dtype, bool(np.allclose(np.linalg.norm(projected, axis=1), 1))
((4, 3), dtype('float32'), True)
>>> directory = tempfile.mkdtemp()
>>> space.save(directory)
>>> loaded = EmbeddingSpace.load(directory)
>>> loaded.info()["dims"], bool(np.allclose(loaded.axes, space.axes))
(3, True)
>>> loaded.project(np.ones((1, 5)))
Traceback (most recent call last):
...
ValueError: vectors have 5 dimensions; this space was fitted on 6
"""

import io
import json
import posixpath

import numpy as np

SPACE_FILE = "embedding_space.npz"
INFO_FILE = "embedding_space.json"


class EmbeddingSpace:
    """A fitted centred PCA: `project` maps encoder vectors [N, H] to unit rows [N, D].

    Attributes:
        mean: [H] float32. axes: [H, D] float32, orthonormal columns.
        preset: the encoder's preset (name or directory) the space was fitted on.
        fitted_on: how many vectors it was fitted on.
        query_length, item_length: the encoder's token budgets, for encoding more texts
            into this space later (`relevance embed-items`).

    Example:

    >>> space = EmbeddingSpace.fit(np.eye(3), dims=8, preset="tiny")
    >>> space.dims, space.fitted_on, [round(float(x), 3) for x in space.project(np.eye(3))[0]]
    (3, 3, [0.816, -0.408, -0.408])
    """

    def __init__(self, mean: np.ndarray, axes: np.ndarray, preset: str, fitted_on: int,
                 query_length: int = 32, item_length: int = 128):
        self.mean = np.asarray(mean, np.float32)
        self.axes = np.asarray(axes, np.float32)
        if self.axes.ndim != 2 or self.axes.shape[0] != self.mean.shape[0]:
            raise ValueError(f"axes {self.axes.shape} do not fit a mean of {self.mean.shape}")
        self.preset = str(preset)
        self.fitted_on = int(fitted_on)
        self.query_length = int(query_length)
        self.item_length = int(item_length)

    @property
    def dims(self) -> int:
        return int(self.axes.shape[1])

    @property
    def hidden_dim(self) -> int:
        return int(self.axes.shape[0])

    @classmethod
    def fit(cls, vectors: np.ndarray, dims: int, preset: str, query_length: int = 32,
            item_length: int = 128) -> "EmbeddingSpace":
        """The space of `vectors` [N, H]: their mean and top-`dims` principal axes."""
        vectors = np.asarray(vectors, np.float64)
        if vectors.ndim != 2 or not len(vectors):
            raise ValueError(f"an embedding space is fitted on [N, H] vectors, N >= 1; "
                             f"got shape {vectors.shape}")
        if dims < 1:
            raise ValueError(f"dims must be >= 1, got {dims}")
        hidden = vectors.shape[1]
        mean = vectors.mean(axis=0)
        if dims >= hidden:
            axes = np.eye(hidden)
        else:
            centred = vectors - mean
            _, eigenvectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
            axes = eigenvectors[:, ::-1][:, :dims]
            largest = np.argmax(np.abs(axes), axis=0)
            axes = axes * np.sign(axes[largest, np.arange(dims)])
        return cls(mean, axes, preset, len(vectors), query_length, item_length)

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """[N, D] float32 unit rows (a vector equal to the mean stays all zeros)."""
        vectors = np.asarray(vectors, np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.hidden_dim:
            raise ValueError(f"vectors have {vectors.shape[-1]} dimensions; this space was "
                             f"fitted on {self.hidden_dim}")
        reduced = (vectors - self.mean) @ self.axes
        norms = np.linalg.norm(reduced, axis=1, keepdims=True)
        return (reduced / np.maximum(norms, 1e-12)).astype(np.float32)

    def info(self) -> dict:
        return {"preset": self.preset, "dims": self.dims, "hidden_dim": self.hidden_dim,
                "fitted_on": self.fitted_on, "query_length": self.query_length,
                "item_length": self.item_length}

    def save(self, directory: str) -> None:
        """Writes `embedding_space.npz` and `embedding_space.json` into `directory`
        (local or any gfile URI)."""
        import tensorflow as tf

        tf.io.gfile.makedirs(directory)
        buffer = io.BytesIO()
        np.savez(buffer, mean=self.mean, axes=self.axes)
        with tf.io.gfile.GFile(posixpath.join(directory, SPACE_FILE), "wb") as handle:
            handle.write(buffer.getvalue())
        with tf.io.gfile.GFile(posixpath.join(directory, INFO_FILE), "w") as handle:
            handle.write(json.dumps(self.info(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, directory: str) -> "EmbeddingSpace":
        """The space `save` wrote into `directory`; a ValueError names what is missing."""
        import tensorflow as tf

        paths = [posixpath.join(directory, name) for name in (SPACE_FILE, INFO_FILE)]
        missing = [path for path in paths if not tf.io.gfile.exists(path)]
        if missing:
            raise ValueError(f"{directory} is not an embedding space (no {', '.join(missing)}"
                             "); give the ItemEmbedder's embedding_space output directory")
        with tf.io.gfile.GFile(paths[0], "rb") as handle:
            arrays = np.load(io.BytesIO(handle.read()), allow_pickle=False)
            mean, axes = arrays["mean"], arrays["axes"]
        with tf.io.gfile.GFile(paths[1]) as handle:
            info = json.load(handle)
        return cls(mean, axes, info["preset"], info["fitted_on"],
                   info.get("query_length", 32), info.get("item_length", 128))

