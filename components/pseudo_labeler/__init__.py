"""PseudoLabeler: teacher-labels unlabeled traffic into the student's training corpus.

>>> from components.pseudo_labeler import PseudoLabeler
"""

__all__ = ["PseudoLabeler"]


def __getattr__(name):
    # Imported on first use, so `components.pseudo_labeler.config` (the settings the CLI
    # reads) loads without TFX.
    if name == "PseudoLabeler":
        from components.pseudo_labeler.component import PseudoLabeler

        return PseudoLabeler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
