"""Item images: find them in a canonical tf.Example, read them, check and decode them.

An example names its image by `image` (a local path or any URI `tf.io.gfile` reads, e.g.
gs://) or carries it in `image_bytes`; bytes win when both are set. Relative paths are
resolved against an image root directory. Images are identified by the SHA-256 of their
bytes, so the same picture under two paths is captioned once.

Example:

>>> import tensorflow as tf
>>> png = tf.io.encode_png(tf.zeros([4, 4, 3], tf.uint8)).numpy()
>>> pixels = decode_image(png, image_size=8)
>>> pixels.shape, pixels.dtype
((8, 8, 3), dtype('float32'))
>>> resolve_image_path("img/a.png", "/data"), resolve_image_path("gs://b/a.png", "/data")
('/data/img/a.png', 'gs://b/a.png')
"""

import hashlib
import os
import re
from typing import Optional

import numpy as np
import tensorflow as tf

from relevance import contract


_OP_PREFIX = re.compile(r"\{\{[^}]*\}\}\s*|\s*\[Op:\w+\]")


class UnreadableImageError(ValueError):
    """The image file is missing or unreadable, or its bytes are not a decodable image."""


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def resolve_image_path(path: str, image_root: str) -> str:
    """`path` itself when it is a URI or absolute, else joined to `image_root` (if any)."""
    if "://" in path or os.path.isabs(path) or not image_root:
        return path
    return os.path.join(image_root, path)


def _single_bytes(example: tf.train.Example, name: str) -> bytes:
    feature = example.features.feature.get(name)
    if feature is None or feature.WhichOneof("kind") != "bytes_list":
        return b""
    return b"".join(feature.bytes_list.value[:1])


def has_caption(example: tf.train.Example) -> bool:
    return bool(_single_bytes(example, "image_caption").strip())


def has_image(example: tf.train.Example) -> bool:
    return any(_single_bytes(example, name).strip() for name in contract.IMAGE_FIELDS)


def read_image(example: tf.train.Example, image_root: str) -> bytes:
    """The encoded bytes of the example's image; raises UnreadableImageError."""
    data = _single_bytes(example, contract.IMAGE_BYTES)
    if not data:
        path = resolve_image_path(
            _single_bytes(example, contract.IMAGE).decode("utf-8", "replace").strip(), image_root
        )
        try:
            with tf.io.gfile.GFile(path, "rb") as handle:
                data = handle.read()
        except (tf.errors.OpError, OSError) as error:
            raise UnreadableImageError(f"cannot read {path}: {error}") from error
    check_decodable(data)
    return data


def _decode(data: bytes) -> tf.Tensor:
    try:
        return tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.OpError, ValueError) as error:
        # TF prefixes op errors with "{{function_node ...}}"; keep the readable part.
        message = _OP_PREFIX.sub("", str(error).splitlines()[0] if str(error) else "")
        raise UnreadableImageError(
            f"not a decodable image ({message or type(error).__name__})") from error


def check_decodable(data: bytes) -> None:
    if not data:
        raise UnreadableImageError("empty image")
    _decode(data)


def decode_image(data: bytes, image_size: Optional[int]) -> np.ndarray:
    """RGB float32 pixels in 0..255, resized to image_size x image_size when given."""
    pixels = tf.cast(_decode(data), tf.float32)
    if image_size:
        pixels = tf.image.resize(pixels, (image_size, image_size), antialias=True)
    return pixels.numpy()
