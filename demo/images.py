"""Small generated product images for the demo catalog, so the image-caption path has input.

One 32x32 PNG per (colour, category group): a shape that stands for the group (footwear,
clothing, furniture, kitchenware, lighting) in the item's colour, plus one damaged file
that is not an image at all, so the captioner's `unreadable_image` count is exercised.
Items refer to images by paths relative to the demo data directory (`images/...`), so
the data files do not depend on where they are written.

Example:

>>> import random, tempfile
>>> names = write_demo_images(tempfile.mkdtemp())
>>> len(names), names[0]
(41, 'images/black_clothing.png')
>>> image_reference(random.Random(1), colour=0, group=4, has_caption=False)
'images/red_lighting.png'
"""

import os
import random
from typing import List

import numpy as np
import tensorflow as tf

IMAGE_DIR = "images"
DAMAGED_IMAGE = f"{IMAGE_DIR}/damaged.png"
IMAGE_SIZE = 32

# Indexed like the demo lexicon's colours and category groups.
COLOUR_NAMES = ("red", "blue", "green", "black", "white", "yellow", "pink", "grey")
_RGB = ((210, 30, 30), (30, 60, 210), (30, 160, 60), (20, 20, 20), (250, 250, 250),
        (240, 210, 30), (240, 130, 180), (128, 128, 128))
GROUP_NAMES = ("footwear", "clothing", "furniture", "kitchenware", "lighting")
_BACKGROUND = (200, 190, 170)

# Most items without a caption have an image to caption; some captioned ones have one too
# (the captioner leaves those alone); a few point at the damaged file.
_IMAGE_SHARE_WITHOUT_CAPTION = 0.8
_IMAGE_SHARE_WITH_CAPTION = 0.25
_DAMAGED_SHARE = 0.03


def image_name(colour: int, group: int) -> str:
    return f"{IMAGE_DIR}/{COLOUR_NAMES[colour]}_{GROUP_NAMES[group]}.png"


def _shape_mask(group: int) -> np.ndarray:
    y, x = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]
    centre = (IMAGE_SIZE - 1) / 2
    if group == 0:  # footwear: a low, wide block
        return (y > 18) & (y < 28) & (x > 4) & (x < 28)
    if group == 1:  # clothing: a triangle
        return (y > 4) & (y < 28) & (np.abs(x - centre) < (y - 4) / 2)
    if group == 2:  # furniture: a square
        return (y > 8) & (y < 26) & (x > 7) & (x < 25)
    if group == 3:  # kitchenware: a disc
        return (y - centre) ** 2 + (x - centre) ** 2 < 10 ** 2
    return np.abs(y - centre) + np.abs(x - centre) < 11  # lighting: a diamond


def _png(colour: int, group: int) -> bytes:
    pixels = np.empty((IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    pixels[:] = _BACKGROUND
    pixels[_shape_mask(group)] = _RGB[colour]
    return tf.io.encode_png(pixels).numpy()


def write_demo_images(out_dir: str) -> List[str]:
    """Write every demo image (and the damaged one) under `out_dir/images`; return their names."""
    tf.io.gfile.makedirs(os.path.join(out_dir, IMAGE_DIR))
    names = []
    for colour in range(len(COLOUR_NAMES)):
        for group in range(len(GROUP_NAMES)):
            names.append(image_name(colour, group))
            with tf.io.gfile.GFile(os.path.join(out_dir, names[-1]), "wb") as handle:
                handle.write(_png(colour, group))
    with tf.io.gfile.GFile(os.path.join(out_dir, DAMAGED_IMAGE), "wb") as handle:
        handle.write(b"this file is damaged: it is not a PNG image\n")
    return sorted(names) + [DAMAGED_IMAGE]


def image_reference(rng: random.Random, colour: int, group: int, has_caption: bool) -> str:
    """The `image` field of one demo item: a relative path, or "" for no image."""
    share = _IMAGE_SHARE_WITH_CAPTION if has_caption else _IMAGE_SHARE_WITHOUT_CAPTION
    if rng.random() >= share:
        return ""
    return DAMAGED_IMAGE if rng.random() < _DAMAGED_SHARE else image_name(colour, group)
