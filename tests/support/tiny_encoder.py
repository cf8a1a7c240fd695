"""A tiny RANDOM keras-hub encoder preset (XLM-R style, hidden 8) for the ItemEmbedder's
tests and docstring examples: shapes and plumbing only, its embeddings mean nothing.

Written once per directory, and once per process by `tiny_encoder_preset()` (a temporary
directory), so the docstring examples of several modules share one.

>>> import os
>>> "config.json" in os.listdir(tiny_encoder_preset())
True
"""

import functools
import os
import tempfile

HIDDEN_DIM = 8
# Long enough for TextEncoder's default item length (128 tokens).
SEQUENCE_LENGTH = 128
_WORDS = ("red blue green mug cup lamp desk chair shoes boots rojo taza lámpara silla "
          "zapatos rot tasse lampe stuhl schuhe kitchen home office garden").split()
_MARKER = "TINY_RANDOM_ENCODER"


def write_tiny_encoder_preset(directory: str) -> str:
    """Writes the tiny preset into `directory` (reused if already there); returns it."""
    if os.path.isfile(os.path.join(directory, _MARKER)):
        return directory
    from trainer.teacher.config import TeacherConfig
    from trainer.teacher.default_preset import write_default_preset
    from trainer.teacher.vocabulary import train_sentencepiece

    config = TeacherConfig(preset="from-scratch", hidden_dim=HIDDEN_DIM, num_layers=1,
                           num_heads=2, intermediate_dim=16, sequence_length=SEQUENCE_LENGTH)
    proto = train_sentencepiece([(word, 3) for word in _WORDS], vocabulary_size=300)
    write_default_preset(directory, proto, config, num_grades=5)
    with open(os.path.join(directory, _MARKER), "w") as handle:
        handle.write("randomly initialised: for tests only\n")
    return directory


@functools.lru_cache(maxsize=None)
def tiny_encoder_preset() -> str:
    """One tiny preset per process, in a temporary directory."""
    return write_tiny_encoder_preset(tempfile.mkdtemp(prefix="tiny_encoder_"))
