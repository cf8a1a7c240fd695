"""TF Serving's REST API, independent of the HTTP server that carries it.

    GET  /v1/models/NAME[/versions/V]            version status (the HTTP health check)
    GET  /v1/models/NAME[/versions/V]/metadata   signature definitions
    POST /v1/models/NAME[/versions/V]:predict    {"signature_name": ..., "inputs": {...}}
                                                 or {"instances": [{...}, ...]}

Strings are JSON strings (UTF-8) or {"b64": "..."} for bytes. The columnar form
("inputs") answers {"outputs": ...}; the row form ("instances") answers
{"predictions": [...]}. Errors answer {"error": "..."} with an HTTP status matching
the gRPC code (400 INVALID_ARGUMENT, 404 NOT_FOUND, 413 body too large, 503 UNAVAILABLE).
"""

import base64
import json
import logging
import re
from typing import Dict, Optional, Tuple

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2

from relevance import contract
from serving.errors import RequestRejected, shown
from serving.model_registry import ModelRegistry
from serving.signature_runner import SignatureRunner

log = logging.getLogger(__name__)

_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[0-9]+))?"
    r"(?:/labels/(?P<label>[^/:]+))?(?P<suffix>/metadata|:predict)?/?$"
)
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 413,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.UNIMPLEMENTED: 501,
}
_MAX_VERSION = 2**63 - 1
# A JSON string literal (escapes included), unrolled so that long strings match fast.
_STRING_LITERAL = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def _invalid(message: str) -> RequestRejected:
    return RequestRejected(grpc.StatusCode.INVALID_ARGUMENT, message)


def _version_number(digits: Optional[str]) -> Optional[int]:
    """The version of a path, an int64 as in TF Serving; INVALID_ARGUMENT beyond that
    (and before `int()`, which refuses strings of more than 4,300 digits).

    >>> _version_number("3"), _version_number(None)
    (3, None)
    """
    if digits is None:
        return None
    if len(digits) > len(str(_MAX_VERSION)) or int(digits) > _MAX_VERSION:
        raise _invalid(f"version {shown(digits)} is not a 64-bit integer")
    return int(digits)


def nesting_depth(body: bytes) -> int:
    """Deepest nesting of arrays and objects in JSON text, found without recursing.

    >>> nesting_depth(b'{"a": [[1], "]]]"]}')
    3
    """
    codes = np.frombuffer(_STRING_LITERAL.sub(b"", body), dtype=np.uint8)
    steps = ((codes == ord("[")) | (codes == ord("{"))).astype(np.int32)
    steps -= (codes == ord("]")) | (codes == ord("}"))
    return int(np.cumsum(steps).max(initial=0))


def parse_json_body(body: bytes, max_depth: int):
    """A request body -> its JSON value; INVALID_ARGUMENT for bad UTF-8, JSON or depth."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _invalid(f"the body is not valid JSON: {error}") from None
    # json.loads recurses once per level: a deep body must be refused before it runs.
    depth = nesting_depth(body)
    if depth > max_depth:
        raise _invalid(f"the body nests arrays and objects {depth} deep; the limit is "
                       f"{max_depth} (--max-json-depth)")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise _invalid(f"the body is not valid JSON: {error}") from None


def _decode_value(name: str, value, want_string: bool):
    """JSON value -> bytes (strings) or the number itself, recursing through lists."""
    if isinstance(value, list):
        return [_decode_value(name, v, want_string) for v in value]
    if want_string:
        if isinstance(value, str):
            try:
                return value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape
                raise _invalid(f"input '{name}' holds a string that is not valid "
                               "Unicode") from None
        if isinstance(value, dict) and set(value) == {"b64"}:
            try:
                return base64.b64decode(value["b64"], validate=True)
            except (ValueError, TypeError):
                raise _invalid(f"input '{name}' has an invalid base64 value") from None
        raise _invalid(f"input '{name}' must hold strings (or {{\"b64\": ...}}), got {type(value).__name__}")
    if isinstance(value, (str, dict)) or value is None:
        raise _invalid(f"input '{name}' must hold numbers, got {type(value).__name__}")
    return value


def _to_array(name: str, values, spec: Optional[tf.TensorSpec]) -> np.ndarray:
    want_string = spec is None or spec.dtype == tf.string
    decoded = _decode_value(name, values, want_string)
    try:
        if want_string:
            array = np.array(decoded, dtype=object)
            if array.dtype != object or any(not isinstance(v, bytes) for v in array.reshape(-1)):
                raise ValueError("ragged")
            return array
        return np.array(decoded, dtype=spec.dtype.as_numpy_dtype)
    except (ValueError, TypeError, OverflowError):
        raise _invalid(f"input '{name}' is not a rectangular list of "
                       f"{'strings' if want_string else spec.dtype.name} values") from None


def parse_predict_body(body: Dict, specs: Dict[str, tf.TensorSpec]):
    """The JSON predict body -> ({input: array}, row_format)."""
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object with 'inputs' or 'instances'")
    if ("inputs" in body) == ("instances" in body):
        raise _invalid("the body needs exactly one of 'inputs' (columnar) or 'instances' (rows)")
    if "inputs" in body:
        columns = body["inputs"]
        if not isinstance(columns, dict):
            if len(specs) != 1:
                raise _invalid("'inputs' must be an object mapping input names to values")
            columns = {next(iter(specs)): columns}
        return {k: _to_array(k, v, specs.get(k)) for k, v in columns.items()}, False
    rows = body["instances"]
    if not isinstance(rows, list) or not rows:
        raise _invalid("'instances' must be a non-empty list")
    if all(isinstance(r, dict) and not set(r) == {"b64"} for r in rows):
        names = set(rows[0])
        if any(set(r) != names for r in rows):
            raise _invalid("every instance must name the same inputs")
        return {k: _to_array(k, [r[k] for r in rows], specs.get(k)) for k in names}, True
    if len(specs) != 1:
        raise _invalid("instances must be objects mapping input names to values")
    only = next(iter(specs))
    return {only: _to_array(only, rows, specs[only])}, True


def _format_outputs(outputs: Dict[str, np.ndarray], row_format: bool):
    lists = {k: v.tolist() for k, v in outputs.items()}
    if not row_format:
        return {"outputs": next(iter(lists.values())) if len(lists) == 1 else lists}
    if len(lists) == 1:
        return {"predictions": next(iter(lists.values()))}
    rows = len(next(iter(lists.values())))
    return {"predictions": [{k: v[i] for k, v in lists.items()} for i in range(rows)]}


class RestApi:
    """Answers one REST request (method, path, body) for one model's registry.

    Blocking (it runs the model): the HTTP server calls it from its worker threads.

    Example:

    >>> from serving.limits import ServingLimits
    >>> api = RestApi(ModelRegistry("m", "/nonexistent", poll_seconds=0),
    ...               SignatureRunner(ServingLimits()))
    >>> status, payload = api.answer("GET", "/v2/models", b"")
    >>> status, json.loads(payload)["error"]
    (404, "unknown path '/v2/models'; try /v1/models/m")
    """

    def __init__(self, registry: ModelRegistry, runner: SignatureRunner):
        self.registry = registry
        self.runner = runner

    def answer(self, method: str, path: str, body: bytes) -> Tuple[int, bytes]:
        """(http status, JSON payload) for one request; never raises."""
        status, answer = self.handle(method, path, body)
        return status, json.dumps(answer).encode("utf-8")

    def handle(self, method: str, path: str, body: bytes):
        """(http status, JSON-able answer) for one request; never raises."""
        try:
            return 200, self._route(method, path, body)
        except RequestRejected as rejected:
            return HTTP_STATUS.get(rejected.code, 500), {"error": rejected.message}
        except Exception as error:
            log.exception("REST %s %s failed", method, shown(path))
            return 500, {"error": f"internal error: {error}"}

    def _route(self, method: str, path: str, body: bytes):
        match = _PATH.match(path.split("?")[0])
        if not match:
            raise RequestRejected(grpc.StatusCode.NOT_FOUND, f"unknown path {shown(path)}; "
                                                             f"try /v1/models/{self.registry.model_name}")
        version = _version_number(match["version"])
        version = self.registry.resolve(match["name"], version, match["label"] or "")
        suffix = match["suffix"] or ""
        if method == "GET" and suffix == "":
            return self._status(version)
        if method == "GET" and suffix == "/metadata":
            return self._metadata(version)
        if method == "POST" and suffix == ":predict":
            return self._predict(version, body)
        raise RequestRejected(grpc.StatusCode.NOT_FOUND, f"no {method} handler for {shown(path)}")

    def _status(self, version):
        states = [s for s in self.registry.version_states()
                  if version is None or s.version == version]
        if not states:
            raise RequestRejected(grpc.StatusCode.NOT_FOUND,
                                  f"model '{self.registry.model_name}' has no such version yet")
        return {"model_version_status": [
            {"version": str(s.version), "state": s.state,
             "status": {"error_code": "UNKNOWN" if s.error else "OK", "error_message": s.error}}
            for s in states
        ]}

    def _metadata(self, version):
        with self.registry.acquire(version) as loaded:
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            for name, signature_def in loaded.signature_defs.items():
                signature_map.signature_def[name].CopyFrom(signature_def)
            served = loaded.version
        return {"model_spec": {"name": self.registry.model_name, "version": str(served)},
                "metadata": {"signature_def": json_format.MessageToDict(signature_map)}}

    def _predict(self, version, body: bytes):
        request = parse_json_body(body, self.runner.limits.max_json_depth)
        signature_name = (request.get("signature_name") if isinstance(request, dict) else None) \
            or contract.SIGNATURE_RAW
        if not isinstance(signature_name, str):
            raise _invalid(f"'signature_name' must be a string, got {type(signature_name).__name__}")
        with self.registry.acquire(version) as loaded:
            specs = loaded.input_specs(signature_name)
            inputs, row_format = parse_predict_body(request, specs)
            outputs = self.runner.run_arrays(loaded, signature_name, inputs)
        return _format_outputs(outputs, row_format)
