"""`RelevanceClient`: score candidates for a query against TF Serving (or `relevance serve`).

    relevance score --server HOST:PORT --model-name NAME --query "red shoes" \
        --candidates items.jsonl [--signature serving_default] [--timeout 5]

prints one JSON line per candidate, in input order: its item_id (when the candidate has
one), `score` (expected grade) and `probabilities` (one per grade, grade 1 first); that
command line is `cli.score`.
"""

import logging
import random
import time
from typing import Dict, List, Mapping, Optional, Sequence

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_service_pb2_grpc

from relevance import contract
from relevance.records import bytes_example
from serving.errors import ServingError
from serving.limits import MIB
from models.tensor_codec import string_vector_proto, to_bytes

log = logging.getLogger(__name__)


def _field_text(candidate: Mapping, field: str) -> str:
    """A candidate's field as one string: lists joined by the contract's separator."""
    value = candidate.get(field)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return contract.LIST_SEPARATOR.join(str(v) for v in value)
    return value if isinstance(value, (str, bytes)) else str(value)


def example_bytes(query: str, candidate: Mapping) -> bytes:
    """One (query, candidate) pair as a serialized tf.Example (the examples signature's input)."""
    features = {contract.QUERY: [to_bytes(query)]}
    for field in contract.ITEM_SCALAR_TEXT_FIELDS:
        features[field] = [to_bytes(_field_text(candidate, field))]
    for field in contract.ITEM_LIST_TEXT_FIELDS:
        value = candidate.get(field) or []
        items = value if isinstance(value, (list, tuple)) else str(value).split(contract.LIST_SEPARATOR)
        features[field] = [to_bytes(v) for v in items if v != ""]
    example = bytes_example(features)
    embedding = candidate.get(contract.ITEM_EMBEDDING)
    if embedding:
        example.features.feature[contract.ITEM_EMBEDDING].float_list.value.extend(
            float(value) for value in embedding)
    return example.SerializeToString()


def embedded_inputs(query: str, candidates: Sequence[Mapping]) -> Dict[str, object]:
    """The `serving_embedded` signature's inputs: the raw ones plus `item_embedding`
    `[N, D]` float32, from each candidate's `item_embedding` (as `relevance embed-items`
    writes it). Every candidate needs one of the same width: the signature takes a
    dense matrix (send a row without one through `serving_examples` instead).

    >>> embedded_inputs("hat", [{"title": "Hat", "item_embedding": [0.5, 0.25]}])[
    ...     "item_embedding"].tolist()
    [[0.5, 0.25]]
    """
    vectors = [candidate.get(contract.ITEM_EMBEDDING) or [] for candidate in candidates]
    widths = {len(vector) for vector in vectors}
    if len(widths) != 1 or not min(widths):
        raise ValueError(f"signature {contract.SIGNATURE_EMBEDDED} needs an item_embedding "
                         "of one width on every candidate; use serving_examples for "
                         "candidates without one")
    return {**raw_inputs(query, candidates),
            contract.ITEM_EMBEDDING: np.asarray(vectors, np.float32)}


def raw_inputs(query: str, candidates: Sequence[Mapping]) -> Dict[str, List[str]]:
    """The raw signature's inputs for one query and its candidates, one entry per candidate.

    The query is repeated per candidate (not sent once) so that TF Serving's request
    batching, which concatenates inputs of queued requests, stays valid.

    Example:

    >>> inputs = raw_inputs("wool hat", [{"title": "Hat", "board_titles": ["Winter", "Wool"]}])
    >>> inputs["query"], inputs["title"], inputs["board_titles"] == ["Winter" + contract.LIST_SEPARATOR + "Wool"]
    (['wool hat'], ['Hat'], True)
    """
    inputs = {contract.QUERY: [query] * len(candidates)}
    for field in contract.ITEM_TEXT_FIELDS:
        inputs[field] = [_field_text(c, field) for c in candidates]
    return inputs


class RelevanceClient:
    """Scores (query, candidates) with a relevance model behind TF Serving's gRPC API.

    One client holds one gRPC channel and is safe to share between threads.

    Args:
        target: "host:port" of TF Serving or `relevance serve`.
        model_name: the served model's name.
        signature_name: "serving_default" (raw fields), "serving_examples" (tf.Example;
            a candidate's `item_embedding` goes with it) or "serving_embedded" (raw
            fields plus every candidate's `item_embedding`, for a student with item
            embeddings).
        timeout_s: deadline of each Predict call.
        max_retries: extra attempts after UNAVAILABLE (server restarting, no version
            loaded yet), with exponential backoff; other errors are raised at once.
        batch_size: candidates per Predict call; longer lists are split, results joined.
        version: ask for this model version (default: whichever is served).
        root_certificates: PEM CA bundle, to talk TLS.

    Example:

    >>> import tempfile, os
    >>> from support.serving_models import write_lexical_model
    >>> from serving.server import RelevanceServer
    >>> base = os.path.join(tempfile.mkdtemp(), "relevance_student")
    >>> _ = write_lexical_model(os.path.join(base, "1"))
    >>> with RelevanceServer(base, port=0, poll_seconds=0) as server:
    ...     with RelevanceClient(server.target, "relevance_student", batch_size=2) as client:
    ...         scored = client.score("red shoes", [{"title": "red shoes", "item_id": "a"},
    ...             {"title": "tea"}, {"title": "shoes", "board_titles": ["red", "shoes"]}])
    >>> [s.get("item_id") for s in scored], len(scored[0]["probabilities"])
    (['a', None, None], 5)
    """

    def __init__(self, target: str, model_name: str,
                 signature_name: str = contract.SIGNATURE_RAW, timeout_s: float = 5.0,
                 max_retries: int = 3, batch_size: int = 256, version: Optional[int] = None,
                 root_certificates: Optional[bytes] = None, backoff_s: float = 0.1,
                 max_message_bytes: int = 16 * MIB):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.target = target
        self.model_name = model_name
        self.signature_name = signature_name
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.batch_size = batch_size
        self.version = version
        self.backoff_s = backoff_s
        options = [("grpc.max_send_message_length", max_message_bytes),
                   ("grpc.max_receive_message_length", max_message_bytes)]
        if root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "RelevanceClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- scoring -----------------------------------------------------------------------

    def score(self, query: str, candidates: Sequence[Mapping]) -> List[Dict]:
        """One dict per candidate, in input order: score, probabilities (and item_id)."""
        if not query:
            raise ValueError("query is empty")
        candidates = list(candidates)
        results: List[Dict] = []
        for start in range(0, len(candidates), self.batch_size):
            chunk = candidates[start:start + self.batch_size]
            outputs = self.predict(self._inputs(query, chunk))
            probabilities = outputs[contract.OUTPUT_PROBABILITIES]
            scores = outputs[contract.OUTPUT_SCORE]
            if len(scores) != len(chunk):
                raise ServingError(None, f"the server returned {len(scores)} scores for "
                                         f"{len(chunk)} candidates", self.target, self.model_name)
            used = outputs.get(contract.OUTPUT_EMBEDDING_USED)
            for index, (candidate, score, probs) in enumerate(zip(chunk, scores, probabilities)):
                result = {"score": float(score), "probabilities": [float(p) for p in probs]}
                if used is not None:
                    result[contract.OUTPUT_EMBEDDING_USED] = bool(used[index])
                if candidate.get(contract.ITEM_ID) is not None:
                    result[contract.ITEM_ID] = candidate[contract.ITEM_ID]
                results.append(result)
        return results

    def _inputs(self, query: str, chunk: Sequence[Mapping]):
        if self.signature_name == contract.SIGNATURE_EXAMPLES:
            return {"examples": [example_bytes(query, c) for c in chunk]}
        if self.signature_name == contract.SIGNATURE_EMBEDDED:
            return embedded_inputs(query, chunk)
        return raw_inputs(query, chunk)

    def scoring_request(self, query: str, candidates: Sequence[Mapping]) -> predict_pb2.PredictRequest:
        """The PredictRequest `score` sends for one batch of candidates (e.g. to replay it)."""
        return self._request(self._inputs(query, candidates))

    def _request(self, inputs: Mapping[str, Sequence]) -> predict_pb2.PredictRequest:
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(name=self.model_name, signature_name=self.signature_name)
        )
        if self.version is not None:
            request.model_spec.version.value = self.version
        for name, values in inputs.items():
            request.inputs[name].CopyFrom(
                tf.make_tensor_proto(values) if isinstance(values, np.ndarray)
                else string_vector_proto(values))
        return request

    def predict(self, inputs: Mapping[str, Sequence]) -> Dict[str, np.ndarray]:
        """One Predict call with string-vector inputs; outputs as numpy arrays."""
        response = self._call_with_retries(self._request(inputs))
        return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}

    def _call_with_retries(self, request):
        attempt = 0
        while True:
            try:
                return self._stub.Predict(request, timeout=self.timeout_s)
            except grpc.RpcError as error:
                code = error.code() if hasattr(error, "code") else None
                details = error.details() if hasattr(error, "details") else str(error)
                if code == grpc.StatusCode.UNAVAILABLE and attempt < self.max_retries:
                    # Full jitter keeps many clients from retrying in lockstep.
                    delay = random.uniform(0, self.backoff_s * (2 ** attempt))
                    log.info("%s unavailable (%s); retry %d in %.2fs", self.target, details,
                             attempt + 1, delay)
                    time.sleep(delay)
                    attempt += 1
                    continue
                if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    details = f"{details} (no answer within {self.timeout_s}s; raise --timeout?)"
                elif code == grpc.StatusCode.UNAVAILABLE and attempt:
                    details = f"{details} (gave up after {attempt + 1} attempts)"
                raise ServingError(code, details, self.target, self.model_name) from None
