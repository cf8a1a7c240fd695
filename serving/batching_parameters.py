"""TF Serving's BatchingParameters: one definition for the file we ship and the file we read.

`tensorflow_model_server --enable_batching --batching_parameters_file=F` reads a text
proto whose message lives in TF Serving's C++ tree, not in tensorflow-serving-api, so
this module writes and parses its text form itself (int fields are wrapped as
`name { value: N }`, `allowed_batch_sizes` is a plain repeated field).
"""

import dataclasses
import logging
import re
from typing import Optional, Tuple

log = logging.getLogger(__name__)

_WRAPPED = re.compile(r"([a-z_]+)\s*\{\s*value\s*:\s*([A-Za-z0-9_]+)\s*\}")
_PLAIN = re.compile(r"([a-z_]+)\s*:\s*([A-Za-z0-9_]+)")


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
    """How queued Predict requests are merged into one model call.

    Attributes:
        max_batch_size: candidates (rows along dimension 0) in one merged call.
        batch_timeout_micros: how long the first queued request waits for others; 0 runs
            whatever is queued as soon as a batch thread is free, so a lone request
            waits for nothing and requests queue only while the model is busy.
        num_batch_threads: model calls that may run at once.
        max_enqueued_batches: queued work beyond this many full batches is refused
            with RESOURCE_EXHAUSTED instead of queueing without bound.
        allowed_batch_sizes: TF Serving pads merged batches up to one of these sizes
            (for XLA / TPU); `relevance serve` never pads and only writes them.
        enable_large_batch_splitting / max_execution_batch_size: TF Serving runs a
            request larger than max_execution_batch_size in pieces; `relevance serve`
            runs such a request on its own (its size is bounded by --max-candidates).

    Example:

    >>> params = BatchingParameters(max_batch_size=800, batch_timeout_micros=0)
    >>> BatchingParameters.from_text(params.to_text()) == params
    True
    >>> "max_batch_size { value: 800 }" in params.to_text()
    True
    """

    max_batch_size: int = 1024
    batch_timeout_micros: int = 2000
    num_batch_threads: int = 2
    max_enqueued_batches: int = 64
    allowed_batch_sizes: Tuple[int, ...] = ()
    enable_large_batch_splitting: bool = True
    max_execution_batch_size: Optional[int] = None

    def __post_init__(self):
        for name in ("max_batch_size", "num_batch_threads", "max_enqueued_batches"):
            if getattr(self, name) < 1:
                raise ValueError(f"batching parameter {name} must be >= 1, got {getattr(self, name)}")
        if self.batch_timeout_micros < 0:
            raise ValueError(f"batch_timeout_micros must be >= 0, got {self.batch_timeout_micros}")
        if self.enable_large_batch_splitting and self.max_execution_batch_size is None:
            object.__setattr__(self, "max_execution_batch_size", self.max_batch_size)
        sizes = tuple(self.allowed_batch_sizes)
        object.__setattr__(self, "allowed_batch_sizes", sizes)
        if sizes and (list(sizes) != sorted(set(sizes)) or sizes[-1] != self.max_batch_size):
            raise ValueError("allowed_batch_sizes must increase and end with max_batch_size "
                             "(TF Serving rule)")

    def to_text(self) -> str:
        lines = [
            f"max_batch_size {{ value: {self.max_batch_size} }}",
            f"batch_timeout_micros {{ value: {self.batch_timeout_micros} }}",
            f"num_batch_threads {{ value: {self.num_batch_threads} }}",
            f"max_enqueued_batches {{ value: {self.max_enqueued_batches} }}",
        ]
        lines += [f"allowed_batch_sizes: {size}" for size in self.allowed_batch_sizes]
        if self.enable_large_batch_splitting:
            lines.append("enable_large_batch_splitting { value: true }")
            lines.append(f"max_execution_batch_size {{ value: {self.max_execution_batch_size} }}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str, source: str = "batching parameters") -> "BatchingParameters":
        """Parses the text proto; unknown fields are logged and ignored, bad values raise."""
        values, sizes = {}, []
        known = {field.name for field in dataclasses.fields(cls)}
        body = re.sub(r"#[^\n]*", "", text)
        wrapped = _WRAPPED.findall(body)
        unwrapped = _WRAPPED.sub("", body)
        plain = _PLAIN.findall(unwrapped)
        leftover = _PLAIN.sub("", unwrapped).strip()
        if leftover:
            raise ValueError(f"{source}: cannot parse {leftover.splitlines()[0]!r} "
                             "(expected `name { value: N }` or `allowed_batch_sizes: N` lines)")
        for name, raw in wrapped + plain:
            if name not in known:
                log.warning("%s: field %s is not used by relevance serve; ignored", source, name)
                continue
            try:
                value = (raw.lower() == "true") if name == "enable_large_batch_splitting" else int(raw)
            except ValueError:
                raise ValueError(f"{source}: {name} must be an integer, got {raw!r}") from None
            if name == "allowed_batch_sizes":
                sizes.append(value)
            else:
                values[name] = value
        return cls(allowed_batch_sizes=tuple(sizes), **values)

    @classmethod
    def from_file(cls, path: str) -> "BatchingParameters":
        with open(path, encoding="utf-8") as f:
            return cls.from_text(f.read(), source=path)
