"""Config dataclasses built from plain dicts (CLI overrides, a Trainer's custom_config,
a pipeline config): a key the dataclass does not know is refused, naming the closest
valid key, so that a misspelled setting fails where it is given instead of being
silently dropped.

A dict stored by an older version (a model's assets.extra config, a run summary) may
hold keys that have since gone: whoever reads one filters it with `known_keys`, on
purpose and with a comment why.

Example:

>>> import dataclasses
>>> @dataclasses.dataclass
... class Settings:
...     epochs: int = 1
...     learning_rate: float = 0.1
>>> check_keys(Settings, {"epochs": 2})
>>> check_keys(Settings, {"epoch": 2})
Traceback (most recent call last):
...
ValueError: Settings: unknown key 'epoch' (did you mean 'epochs'?)
>>> check_keys(Settings, {"seed": 1})
Traceback (most recent call last):
...
ValueError: Settings: unknown key 'seed'; the keys are epochs, learning_rate
>>> known_keys(Settings, {"epochs": 2, "gone": 1})
{'epochs': 2}
"""

import dataclasses
import difflib
from typing import Any, Dict, Mapping, Optional


def check_keys(cls, values: Optional[Mapping[str, Any]]) -> None:
    """ValueError when `values` holds a key that is not a field of the dataclass `cls`;
    the message names each such key and the closest field (difflib)."""
    names = [field.name for field in dataclasses.fields(cls)]
    unknown = sorted(set(values or {}) - set(names))
    if not unknown:
        return
    described, guessed = [], True
    for key in unknown:
        close = difflib.get_close_matches(str(key), names, n=1)
        described.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        guessed = guessed and bool(close)
    keys = "key" if len(unknown) == 1 else "keys"
    raise ValueError(f"{cls.__name__}: unknown {keys} {', '.join(described)}"
                     + ("" if guessed else f"; the keys are {', '.join(names)}"))


def known_keys(cls, values: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The entries of `values` that are fields of the dataclass `cls` (for dicts stored
    by another version; a dict given by a person goes through `check_keys`)."""
    names = {field.name for field in dataclasses.fields(cls)}
    return {key: value for key, value in (values or {}).items() if key in names}
