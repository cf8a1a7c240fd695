"""Checks a request's inputs against a signature, then runs it: the core of Predict.

Everything a client can get wrong is caught here, before the model runs, and answered
with TF Serving's status codes: an unknown signature is NOT_FOUND; a missing or unknown
input, a wrong dtype or shape, an empty batch, inputs of different lengths, too many
candidates or an oversize string are INVALID_ARGUMENT. Errors the graph raises itself
(`tf.errors.InvalidArgumentError`, e.g. a failed shape assertion or bytes that are no
tf.Example, even when TF's message about them is not UTF-8) are INVALID_ARGUMENT too.
"""

import logging
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple

import grpc
import numpy as np
import tensorflow as tf

from relevance import contract
from serving.errors import RequestRejected, shown
from serving.limits import ServingLimits
from serving.loaded_version import LoadedVersion
from serving.positional_signature import PositionalSignature
from serving.request_batcher import RequestBatcher
from models.tensor_codec import proto_dtype, proto_shape, proto_to_numpy

log = logging.getLogger(__name__)

Header = Tuple[tf.DType, Tuple[int, ...]]


def _invalid(message: str) -> RequestRejected:
    return RequestRejected(grpc.StatusCode.INVALID_ARGUMENT, message)


def _shape_text(shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


class SignatureRunner:
    """Validates inputs against a signature's `structured_input_signature` and runs it.

    Args:
        limits: per-request bounds (candidates, string bytes, message bytes).
        broadcastable_inputs: inputs that may hold 1 entry while the others hold N (the
            relevance signature repeats a single query over all candidates).
        batcher: when given, requests whose inputs all have a batch dimension are
            merged with concurrent ones into one model call (`RequestBatcher`).

    Example:

    >>> import tempfile, os, numpy as np
    >>> from support.serving_models import write_lexical_model
    >>> from serving.loaded_version import LoadedVersion
    >>> version = LoadedVersion.load(1, write_lexical_model(os.path.join(tempfile.mkdtemp(), "1")))
    >>> runner = SignatureRunner(ServingLimits())
    >>> inputs = {name: np.array([b"red shoes"], dtype=object) for name in contract.RAW_SIGNATURE_INPUTS}
    >>> runner.run_arrays(version, "serving_default", inputs)["probabilities"].shape
    (1, 5)
    """

    def __init__(self, limits: ServingLimits,
                 broadcastable_inputs: Iterable[str] = (contract.QUERY,),
                 batcher: Optional[RequestBatcher] = None):
        self.limits = limits
        self.broadcastable_inputs = frozenset(broadcastable_inputs)
        self.batcher = batcher

    # -- entry points ------------------------------------------------------------------

    def run_protos(self, version: LoadedVersion, signature_name: str,
                   inputs: Mapping, output_filter: Sequence[str] = ()) -> Dict[str, np.ndarray]:
        """Runs a signature on TensorProto inputs (gRPC), checking their headers before decoding."""
        specs = version.input_specs(signature_name)
        self._check_names(signature_name, specs, inputs.keys())
        headers = {}
        for name, proto in inputs.items():
            try:
                headers[name] = (proto_dtype(proto), proto_shape(proto))
            except ValueError as error:
                raise _invalid(f"input {shown(name)}: {error}") from None
        self._check_headers(signature_name, specs, headers)
        arrays = {}
        for name, proto in inputs.items():
            try:
                arrays[name] = proto_to_numpy(proto)
            except Exception as error:  # any undecodable tensor is the client's mistake
                raise _invalid(f"input {shown(name)} cannot be decoded: {error}") from None
            if specs[name].dtype == tf.string:
                # On the decoded array: reading the proto's repeated field again would
                # convert every string a second time (a quarter of a millisecond per request).
                self._check_string_sizes(name, arrays[name].reshape(-1))
        return self._call(version, signature_name, specs, arrays, output_filter)

    def run_arrays(self, version: LoadedVersion, signature_name: str,
                   inputs: Mapping[str, np.ndarray],
                   output_filter: Sequence[str] = ()) -> Dict[str, np.ndarray]:
        """Runs a signature on numpy inputs (REST); strings are object arrays of bytes."""
        specs = version.input_specs(signature_name)
        self._check_names(signature_name, specs, inputs.keys())
        headers = {name: (_array_dtype(name, array), tuple(array.shape))
                   for name, array in inputs.items()}
        self._check_headers(signature_name, specs, headers)
        for name, array in inputs.items():
            if specs[name].dtype == tf.string:
                self._check_string_sizes(name, array.reshape(-1))
        return self._call(version, signature_name, specs, dict(inputs), output_filter)

    def warm_up(self, version: LoadedVersion, requests: Sequence) -> int:
        """Replays recorded PredictRequests (errors propagate: the version is not served).

        Recorded requests come with the model, from its operator, so the per-request
        limits (which bound what a *client* may cost) do not apply to them: a model
        exported with 200-candidate warmups still loads on a server capped lower.
        Without recorded requests, calls each all-string signature once with one empty
        entry per input, so the first real request does not pay for first-call setup.
        Returns how many calls were made.
        """
        for request in requests:
            name = request.model_spec.signature_name or contract.SIGNATURE_RAW
            arrays = {key: proto_to_numpy(proto) for key, proto in request.inputs.items()}
            self._call(version, name, version.input_specs(name), arrays, request.output_filter,
                       batch=False)
        if requests:
            return len(requests)
        calls = 0
        for name in version.signature_names():
            specs = version.input_specs(name)
            if not all(s.dtype == tf.string and s.shape.rank == 1 for s in specs.values()):
                continue
            try:
                version.positional(name)({k: tf.constant([b""]) for k in specs})
                calls += 1
            except tf.errors.OpError as error:  # a signature that wants real text is fine
                log.info("synthetic warm-up of %s skipped: %s", name, error.message.split("\n")[0])
        return calls

    # -- checks ------------------------------------------------------------------------

    def _check_names(self, signature_name, specs, names):
        names = set(names)
        unknown = sorted(names - set(specs))
        if unknown:
            raise _invalid(
                f"input {shown(unknown[0])} is not an input of signature '{signature_name}'; "
                f"its inputs are: {', '.join(sorted(specs))}"
            )
        missing = sorted(set(specs) - names)
        if missing:
            raise _invalid(
                f"missing input(s) {', '.join(repr(m) for m in missing)} for signature "
                f"'{signature_name}'; every one of {', '.join(sorted(specs))} is required"
            )

    def _check_headers(self, signature_name, specs, headers: Dict[str, Header]):
        lengths = {}
        for name in sorted(headers):
            dtype, shape = headers[name]
            spec = specs[name]
            if dtype != spec.dtype:
                raise _invalid(
                    f"input '{name}' must be {spec.dtype.name} but {dtype.name} was sent"
                )
            if not spec.shape.is_compatible_with(shape):
                raise _invalid(
                    f"input '{name}' must have shape {_shape_text(spec.shape.as_list())} "
                    f"but has shape {_shape_text(shape)}"
                )
            elements = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if elements > self.limits.max_message_bytes:
                raise _invalid(f"input '{name}' declares {elements} elements, more than any "
                               f"request of at most {self.limits.max_message_bytes} bytes holds")
            if shape:
                if shape[0] == 0:
                    raise _invalid(f"input '{name}' is empty (shape {_shape_text(shape)}): "
                                   "send at least one candidate")
                lengths[name] = shape[0]
        if not lengths:
            return
        batch = max(lengths.values())
        for name, length in sorted(lengths.items()):
            if length != batch and not (length == 1 and name in self.broadcastable_inputs):
                longest = max(lengths, key=lengths.get)
                allowed = " (or 1)" if name in self.broadcastable_inputs else ""
                raise _invalid(
                    f"inputs have mismatched lengths: '{name}' has {length} entries but "
                    f"'{longest}' has {batch}; every input needs one entry per candidate{allowed}"
                )
        if batch > self.limits.max_candidates:
            raise _invalid(
                f"request has {batch} candidates; this server accepts at most "
                f"{self.limits.max_candidates} per request (--max-candidates): split the "
                "candidates over several requests"
            )

    def _check_string_sizes(self, name, values):
        limit = self.limits.max_string_bytes
        if max(map(len, values), default=0) <= limit:
            return
        for index, value in enumerate(values):
            if len(value) > limit:
                raise _invalid(
                    f"input '{name}' entry {index} is {len(value)} bytes; the limit is {limit} "
                    "bytes per string (--max-string-bytes)"
                )

    # -- the call ----------------------------------------------------------------------

    def _call(self, version, signature_name, specs, arrays, output_filter, batch=True):
        function = version.signature(signature_name)
        wanted = list(output_filter)
        known = set(function.structured_outputs.keys())
        for name in wanted:
            if name not in known:
                raise _invalid(f"output_filter names {shown(name)}, not an output of signature "
                               f"'{signature_name}'; its outputs are: {', '.join(sorted(known))}")

        positional = version.positional(signature_name)

        def invoke(inputs: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
            return _invoke(positional, version, signature_name, specs, inputs, wanted)

        rows = _batch_rows(specs, arrays)
        if self.batcher is None or not batch or rows is None:
            return invoke(arrays)
        # Merged requests are concatenated, so a 1-entry query must cover its own rows.
        arrays = {name: np.repeat(array, rows, axis=0) if len(array) != rows else array
                  for name, array in arrays.items()}
        return self.batcher.run((version, signature_name, tuple(wanted)), arrays, rows, invoke)


def _batch_rows(specs, arrays) -> Optional[int]:
    """Rows of a request whose every input has a free batch dimension, else None."""
    if not arrays or any(specs[name].shape.rank in (None, 0) or specs[name].shape[0] is not None
                         for name in arrays):
        return None
    return max(len(array) for array in arrays.values())


def _invoke(function: PositionalSignature, version, signature_name, specs, arrays,
            wanted) -> Dict[str, np.ndarray]:
    tensors = {name: tf.constant(arrays[name], dtype=specs[name].dtype) for name in specs}
    try:
        outputs = function(tensors)
    except UnicodeDecodeError as error:
        # TF could not even report its error: the message quotes the client's bytes (e.g.
        # "Could not parse example input, value: '\xff...'"), which are not UTF-8.
        message = error.object.decode("utf-8", "backslashreplace").strip().split("\n")[0]
        raise _invalid(f"the model rejected the inputs: {message[:300]}") from None
    except tf.errors.InvalidArgumentError as error:
        raise _invalid(f"the model rejected the inputs: {_first_line(error)}") from None
    except tf.errors.ResourceExhaustedError as error:
        raise RequestRejected(grpc.StatusCode.RESOURCE_EXHAUSTED, _first_line(error)) from None
    except tf.errors.OpError as error:
        log.exception("signature %s of version %s failed", signature_name, version.version)
        raise RequestRejected(grpc.StatusCode.INTERNAL,
                              f"the model failed: {_first_line(error)}") from None
    names = wanted or sorted(outputs)
    return {name: outputs[name].numpy() for name in names}


def _first_line(error: tf.errors.OpError) -> str:
    return (error.message or str(error)).strip().split("\n")[0]


def _array_dtype(name: str, array: np.ndarray) -> tf.DType:
    if array.dtype == object or array.dtype.kind in "SU":
        return tf.string
    try:
        return tf.dtypes.as_dtype(array.dtype)
    except TypeError:
        raise _invalid(f"input '{name}' has values of an unsupported type ({array.dtype})") from None
