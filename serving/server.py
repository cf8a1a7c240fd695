"""`relevance serve`: TF Serving's gRPC (and optionally REST) API for one model directory.

    relevance serve --model-base-path BASE/MODEL_NAME --model-name NAME --port 8500 \
        [--rest-port 8501] [--host 127.0.0.1] [--poll-seconds 2] [--max-candidates 1000] \
        [--max-string-bytes 65536] [--max-message-bytes 16MiB] [--tls-cert F --tls-key F] \
        [--enable-batching [--batching-parameters-file F]]

It answers PredictionService.Predict / GetModelMetadata, ModelService.GetModelStatus
and grpc.health.v1.Health/Check exactly as tensorflow_model_server would, so clients
written against TF Serving work unchanged. The newest version under BASE/MODEL_NAME is
served and replaced, without failing requests, when a newer version appears. SIGTERM
stops accepting requests and lets those in flight finish within --grace-seconds.
With --enable-batching, concurrent requests are merged into one model call, configured
by the same BatchingParameters file TF Serving reads (see serving/batching_parameters.py).
The command line (flags to a running server) is `cli.serve`.
"""

import logging
import os
import ssl
import threading
from concurrent import futures
from typing import Optional

import grpc

from relevance.errors import InputError
from serving.batching_parameters import BatchingParameters
from serving.health import HealthService
from serving.limits import ServingLimits
from serving.model_registry import ModelRegistry
from serving.model_service import ModelStatusServicer
from serving.prediction_service import PredictionServicer
from serving.request_batcher import RequestBatcher
from serving.rest import RestGateway
from serving.signature_runner import SignatureRunner

log = logging.getLogger(__name__)


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class RelevanceServer:
    """The gRPC server (and REST gateway) for one model, startable in-process.

    Args:
        model_base_path: BASE/MODEL_NAME with integer version directories.
        model_name: the name requests must use (default: the directory's name).
        port / rest_port: 0 picks a free port; rest_port None disables REST.
        host: interface to bind; loopback unless you mean to expose the server.
        tls_cert / tls_key: PEM files; when given, gRPC and REST use TLS.
        max_workers: threads answering requests; max_concurrent_requests more are
            refused with RESOURCE_EXHAUSTED instead of queueing without bound.
        batching: when given, concurrent requests are merged into one model call
            (`RequestBatcher`); None (the default, as in TF Serving) runs each alone.

    Example:

    >>> import tempfile, os
    >>> from support.serving_models import write_lexical_model
    >>> from serving.client import RelevanceClient
    >>> base = os.path.join(tempfile.mkdtemp(), "relevance_student")
    >>> _ = write_lexical_model(os.path.join(base, "1"))
    >>> with RelevanceServer(base, port=0, poll_seconds=0) as server:
    ...     client = RelevanceClient(server.target, "relevance_student")
    ...     scored = client.score("red shoes", [{"title": "red shoes"}, {"title": "tea"}])
    ...     scored[0]["score"] > scored[1]["score"]
    True
    """

    def __init__(self, model_base_path: str, model_name: Optional[str] = None,
                 port: int = 8500, rest_port: Optional[int] = None, host: str = "127.0.0.1",
                 poll_seconds: float = 2.0, limits: ServingLimits = ServingLimits(),
                 tls_cert: Optional[str] = None, tls_key: Optional[str] = None,
                 max_workers: int = 16, max_concurrent_requests: int = 256,
                 grace_seconds: float = 10.0, batching: Optional[BatchingParameters] = None):
        if bool(tls_cert) != bool(tls_key):
            raise ValueError("TLS needs both --tls-cert and --tls-key")
        self.model_base_path = model_base_path.rstrip("/")
        self.model_name = model_name or os.path.basename(self.model_base_path)
        self.host = host
        self.limits = limits
        self.grace_seconds = grace_seconds
        self._requested = (port, rest_port)
        self._tls = (tls_cert, tls_key)
        self._max_workers = max_workers
        self._max_concurrent = max_concurrent_requests
        self._batching = batching
        self.batcher: Optional[RequestBatcher] = None
        self.runner = SignatureRunner(limits)
        self.registry = ModelRegistry(self.model_name, self.model_base_path, poll_seconds,
                                      warm_up=self.runner.warm_up)
        self.health = HealthService(
            self.registry.is_available,
            [self.model_name, "tensorflow.serving.PredictionService",
             "tensorflow.serving.ModelService"],
        )
        self._grpc: Optional[grpc.Server] = None
        self._rest: Optional[RestGateway] = None
        self._stopped = threading.Event()
        self._finished = threading.Event()
        self.port = self.rest_port = None

    @property
    def target(self) -> str:
        """host:port for clients (loopback when bound to all interfaces)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else ("::1" if self.host == "::" else self.host)
        return host_port(host, self.port)

    def start(self) -> "RelevanceServer":
        """Loads the model and listens; a port in use raises InputError naming its flag."""
        try:
            return self._start()
        except BaseException:
            self._stop_parts(grace=0)  # nothing half-started may outlive a failed start
            raise

    def _start(self) -> "RelevanceServer":
        if self._batching is not None:
            self.batcher = self.runner.batcher = RequestBatcher(self._batching)
        port, rest_port = self._requested
        options = [
            ("grpc.max_receive_message_length", self.limits.max_message_bytes),
            ("grpc.max_send_message_length", self.limits.max_message_bytes),
            ("grpc.so_reuseport", 0),  # a second server on a taken port must fail, not share it
        ]
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(self._max_workers, thread_name_prefix="grpc"),
            options=options, maximum_concurrent_rpcs=self._max_concurrent,
        )
        PredictionServicer(self.registry, self.runner).add_to_server(self._grpc)
        ModelStatusServicer(self.registry).add_to_server(self._grpc)
        self.health.add_to_server(self._grpc)
        address = host_port(self.host, port)
        cert, key = self._tls
        pem = _read_tls_files(cert, key) if cert else None
        context = _tls_context(cert, key) if cert else None
        try:
            if pem:
                self.port = self._grpc.add_secure_port(
                    address, grpc.ssl_server_credentials([(pem[1], pem[0])]))
            else:
                self.port = self._grpc.add_insecure_port(address)
        except RuntimeError:  # grpcio >= 1.60 raises where older versions returned 0
            self.port = 0
        if not self.port:
            raise InputError(f"cannot listen on {address} for gRPC (the port is in use or "
                             "not available); choose another --port")
        if rest_port is not None:
            try:
                self._rest = RestGateway(self.registry, self.runner, self.host, rest_port,
                                         context, is_shutting_down=self._stopped.is_set,
                                         workers=self._max_workers)
            except OSError as error:
                raise InputError(f"REST: {error.strerror}") from None
        # Both ports are taken before the model loads, so a busy one fails at once.
        self.registry.start()
        self._grpc.start()
        if self._rest:
            self._rest.start()
            self.rest_port = self._rest.port
        log.info("serving model %s from %s: gRPC %s%s%s", self.model_name, self.model_base_path,
                 host_port(self.host, self.port),
                 f", REST {host_port(self.host, self.rest_port)}" if self._rest else "",
                 " (TLS)" if cert else "")
        return self

    def stop(self, grace_s: Optional[float] = None) -> None:
        """Refuses new requests, lets in-flight ones finish (up to grace_s), then stops."""
        if self._stopped.is_set():
            return
        grace = self.grace_seconds if grace_s is None else grace_s
        self._stopped.set()
        self.health.set_shutting_down()
        log.info("stopping: finishing requests in flight (grace %.0fs)", grace)
        self._stop_parts(grace)
        self._finished.set()
        log.info("stopped")

    def _stop_parts(self, grace: float) -> None:
        done = self._grpc.stop(grace) if self._grpc else None
        if self._rest:
            self._rest.stop(grace)
        if done is not None:
            done.wait(grace + 1)
        if self.batcher is not None:
            self.batcher.stop()
        self.registry.stop()

    def wait(self) -> None:
        """Blocks until stop() has finished."""
        self._finished.wait()

    def __enter__(self) -> "RelevanceServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop(grace_s=1.0)


def _read_tls_files(cert: str, key: str):
    """(certificate chain, private key) PEM bytes; a missing file is an InputError."""
    pem = []
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        try:
            with open(path, "rb") as handle:
                pem.append(handle.read())
        except OSError as error:
            raise InputError(f"{flag} {path}: {error.strerror}") from None
    return pem


def _tls_context(cert: str, key: str) -> ssl.SSLContext:
    """The REST server's TLS context; it also checks the PEM files before gRPC reads them."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as error:
        raise InputError(f"--tls-cert {cert} / --tls-key {key}: not a matching PEM "
                         f"certificate and key ({error.reason or error})") from None
    return context
