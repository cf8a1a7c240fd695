"""`relevance evaluate` settings, each defined here once; no TensorFlow, so the CLI can
build its parser (and show these defaults in `--help`) without loading it.

>>> DEFAULT_BATCH_SIZE
512
"""

from relevance.readers import FORMATS

CANONICAL_FORMATS = ("auto",) + tuple(FORMATS)
DEFAULT_BATCH_SIZE = 512
