"""The REST gateway: TF Serving's REST API (`serving/rest_api.py`) on aiohttp.

One event-loop thread reads and writes every connection; model calls run in a bounded
thread pool, so a slow or silent client costs a socket, never a thread. From
`ServingLimits` (flags in serve_flags.py):

* a connection must send a request's headers within `rest_header_timeout_s` of
  connecting or of its previous answer, else it is closed;
* a body must arrive within `rest_body_timeout_s`, else 408;
* a Content-Length above `max_message_bytes` is answered 413 before any body is read;
  a malformed or negative one gets 400 from aiohttp's parser (logged on one line);
* at most `rest_max_connections` connections are open: more are answered 503 and closed;
* a body nested deeper than `max_json_depth` is 400.

A client that disconnects mid-request is dropped quietly (no traceback).
"""

import asyncio
import json
import logging
import os
import socket
import ssl
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

from aiohttp import web

from serving.model_registry import ModelRegistry
from serving.rest_api import RestApi
from serving.signature_runner import SignatureRunner

log = logging.getLogger(__name__)


class _OneLineLog(logging.LoggerAdapter):
    """aiohttp's server log, with the errors it logs itself (malformed requests: the
    client's mistake) on one line instead of a traceback."""

    def exception(self, msg, *args, exc_info=True, **kwargs):
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        self.warning("%s: %s", msg % args if args else msg, " ".join(str(error).split()))


_AIOHTTP_LOG = _OneLineLog(logging.getLogger("aiohttp.server"), {})


def _response(status: int, payload: bytes, close: bool = False) -> web.Response:
    response = web.Response(status=status, body=payload, content_type="application/json")
    if close:  # an unread or half-read body makes the connection unusable
        response.force_close()
    return response


def _error(status: int, message: str, close: bool = False) -> web.Response:
    return _response(status, json.dumps({"error": message}).encode("utf-8"), close)


def bind_socket(host: str, port: int, flag: str) -> socket.socket:
    """A listening TCP socket; a port in use is an OSError naming it and `flag`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise OSError(error.errno, f"cannot listen on {host}:{port} ({reason}); "
                                   f"choose another {flag}") from None


class _Refused(asyncio.Protocol):
    """Answers a connection beyond the cap with a canned 503 and closes it."""

    def __init__(self, payload: bytes):
        self._payload = payload

    def connection_made(self, transport):
        transport.write(self._payload)
        transport.close()


class _Connection(web.RequestHandler):
    """aiohttp's per-connection protocol, in the gateway's count while it is open."""

    def __init__(self, gateway: "RestGateway", **kwargs):
        super().__init__(gateway._server, loop=gateway._loop, **kwargs)
        self.gateway = gateway
        self.created = time.monotonic()
        self.made = False

    def connection_made(self, transport):
        self.made = True
        super().connection_made(transport)

    def connection_lost(self, exc):
        self.gateway._connections.discard(self)
        super().connection_lost(exc)

    def handle_error(self, request, status=500, exc=None, message=None):
        """aiohttp's own answers (a malformed request line or header, a bad Content-Length):
        JSON like every other answer, and one line of log instead of a traceback."""
        detail = " ".join(str(message or exc or "").split())
        log.warning("REST: bad request from %s: %d %s", request.remote, status, detail)
        if request.writer.output_size > 0:  # as aiohttp: a started answer cannot be replaced
            raise ConnectionError("the answer was already being sent")
        return _error(status, f"bad request: {detail}" if status < 500 else detail, close=True)


class RestGateway:
    """Serves the REST API for one model's registry on host:port.

    Args:
        ssl_context: serves HTTPS when given.
        is_shutting_down: while true, requests are answered 503.
        workers: threads running model calls (requests beyond them wait their turn).

    Example:

    >>> from serving.limits import ServingLimits
    >>> registry = ModelRegistry("m", "/nonexistent", poll_seconds=0)
    >>> gateway = RestGateway(registry, SignatureRunner(ServingLimits()), "127.0.0.1", 0)
    >>> gateway.start(); gateway.port > 0
    True
    >>> gateway.stop(grace_s=1)
    """

    def __init__(self, registry: ModelRegistry, runner: SignatureRunner, host: str, port: int,
                 ssl_context: Optional[ssl.SSLContext] = None,
                 is_shutting_down: Callable[[], bool] = lambda: False, workers: int = 16):
        self.api = RestApi(registry, runner)
        self.limits = runner.limits
        self._is_shutting_down = is_shutting_down
        self._ssl = ssl_context
        self._socket = bind_socket(host, port, "--rest-port")
        self.port = self._socket.getsockname()[1]
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="rest")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="rest-loop")
        self._connections = set()
        self._refusing = False
        self._in_flight = 0
        self._server: Optional[web.Server] = None
        self._listener: Optional[asyncio.AbstractServer] = None
        cap = self.limits.rest_max_connections
        body = json.dumps({"error": f"the server has {cap} connections open, its limit "
                                    "(--rest-max-connections); retry later"}).encode("utf-8")
        self._refusal = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                         b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    @property
    def open_connections(self) -> int:
        """REST connections open now (at most `rest_max_connections`)."""
        return len(self._connections)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=60)

    def stop(self, grace_s: float) -> None:
        """Stops accepting, waits up to `grace_s` for requests in flight, closes."""
        if not self._thread.is_alive():
            self._socket.close()
            return
        try:
            asyncio.run_coroutine_threadsafe(self._drain(grace_s), self._loop).result(grace_s + 10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._socket.close()
            if not self._thread.is_alive():
                self._loop.close()

    # -- the event loop's side ---------------------------------------------------------

    async def _listen(self) -> None:
        limits = self.limits
        self._server = web.Server(self._handle, request_factory=self._request)
        # keepalive_timeout runs from the connection's start and from each answer until
        # the next request's headers are in: it is the header timeout.
        self._handler_args = dict(keepalive_timeout=limits.rest_header_timeout_s,
                                  logger=_AIOHTTP_LOG, access_log=None,
                                  lingering_time=min(2.0, limits.rest_body_timeout_s))
        self._listener = await self._loop.create_server(
            self._protocol, sock=self._socket, ssl=self._ssl,
            ssl_handshake_timeout=limits.rest_header_timeout_s if self._ssl else None)

    def _request(self, message, payload, protocol, writer, task) -> web.BaseRequest:
        return web.BaseRequest(message, payload, protocol, writer, task, self._loop,
                               client_max_size=self.limits.max_message_bytes)

    def _protocol(self) -> asyncio.Protocol:
        # A failed TLS handshake never reaches connection_lost: forget it after its timeout.
        expired = time.monotonic() - self.limits.rest_header_timeout_s - 1
        self._connections.difference_update(
            [c for c in self._connections if not c.made and c.created < expired])
        cap = self.limits.rest_max_connections
        if len(self._connections) >= cap:
            if not self._refusing:
                log.warning("REST: %d connections open (--rest-max-connections); refusing "
                            "new ones until some close", cap)
            self._refusing = True
            return _Refused(self._refusal)
        self._refusing = False
        connection = _Connection(self, **self._handler_args)
        self._connections.add(connection)
        return connection

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if self._is_shutting_down():
            return _error(503, "the server is shutting down", close=True)
        # In flight from its headers on: a body still uploading when the server is told
        # to stop is read and answered within the grace period, like a running request.
        self._in_flight += 1
        try:
            return await self._answer(request)
        finally:
            self._in_flight -= 1

    async def _answer(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            return _error(501, f"method {request.method} is not supported; use GET or POST")
        limit = self.limits.max_message_bytes
        length = request.content_length
        if length is not None and length > limit:
            return _error(413, f"the body is {length} bytes; the limit is {limit} bytes "
                               "(--max-message-bytes)", close=True)
        timeout = self.limits.rest_body_timeout_s
        try:
            body = await asyncio.wait_for(request.read(), timeout)
        except asyncio.TimeoutError:
            return _error(408, f"the body did not arrive within {timeout:g} s "
                               "(--rest-body-timeout-seconds)", close=True)
        except web.HTTPRequestEntityTooLarge:  # a chunked body, which has no Content-Length
            return _error(413, f"the body is over the limit of {limit} bytes "
                               "(--max-message-bytes)", close=True)
        except Exception as error:  # the client broke off, or sent a malformed body
            log.info("REST %s %s: the body could not be read: %s", request.method,
                     request.raw_path, " ".join(str(error).split()))
            return _error(400, f"the body could not be read: {error}", close=True)
        status, payload = await self._loop.run_in_executor(
            self._pool, self.api.answer, request.method, request.raw_path, body)
        return _response(status, payload)

    async def _drain(self, grace_s: float) -> None:
        if self._listener is None:
            return
        self._listener.close()
        deadline = self._loop.time() + grace_s
        while self._in_flight and self._loop.time() < deadline:
            await asyncio.sleep(0.02)
        await self._server.shutdown(timeout=0.5)
        for connection in list(self._connections):
            connection.force_close()
        await asyncio.sleep(0)  # lets the closed connections' tasks end before the loop stops
