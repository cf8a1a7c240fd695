"""Limits the server enforces before any model code runs: per request, and on REST clients."""

import dataclasses
import re

MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ServingLimits:
    """Bounds on one request and on REST clients; beyond them, a message naming the flag.

    Attributes:
        max_candidates: entries per input (candidates) in one request.
        max_string_bytes: bytes in any one string entry.
        max_message_bytes: bytes of one gRPC message or REST body (both directions).
        max_json_depth: nesting of arrays and objects in a REST body.
        rest_header_timeout_s: time a REST connection may take to send a request's
            headers (and may sit idle between requests).
        rest_body_timeout_s: time a REST request may take to send its body.
        rest_max_connections: REST connections open at once; more are answered 503.

    Example:
        >>> ServingLimits(max_candidates=10).max_candidates
        10
        >>> parse_byte_size("16MiB") == 16 * MIB
        True
    """

    max_candidates: int = 1000
    max_string_bytes: int = 64 * 1024
    max_message_bytes: int = 16 * MIB
    max_json_depth: int = 64
    rest_header_timeout_s: float = 10.0
    rest_body_timeout_s: float = 30.0
    rest_max_connections: int = 256

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if getattr(self, field.name) <= 0:
                raise ValueError(f"{field.name} must be positive, got {getattr(self, field.name)}")


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2,
          "mib": MIB, "g": 1000**3, "gb": 1000**3, "gib": 1024**3}


def parse_byte_size(text: str) -> int:
    """'65536', '64KiB', '16MiB', '1.5MB' -> bytes (argparse `type=`)."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"not a byte size: {text!r} (examples: 65536, 64KiB, 16MiB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
