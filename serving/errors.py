"""Errors of the serving package, each carrying a gRPC status code.

* `RequestRejected` is raised inside the server when a request cannot be answered; the
  gRPC and REST front ends turn it into a status (TF Serving's codes) and a message.
* `ServingError` is raised by `RelevanceClient` when the server answers with an error or
  cannot be reached; it says which server, which status and why.
"""

from typing import Optional

import grpc

# A client value quoted in an error is cut to this many characters: the answer's
# message travels in gRPC metadata, which clients cap (8 KiB by default), so a long
# echo would turn NOT_FOUND into RESOURCE_EXHAUSTED on the client's side.
ECHO_CHARS = 64
MAX_MESSAGE_CHARS = 1000


def shown(value) -> str:
    """A value the client sent, as an error message quotes it: cut, with its length.

    Example:
        >>> shown("serving_default"), shown("s" * 100)[-19:]
        ("'serving_default'", "…' (100 characters)")
    """
    text = str(value)
    if len(text) <= ECHO_CHARS:
        return f"'{text}'"
    return f"'{text[:ECHO_CHARS]}…' ({len(text)} characters)"


class RequestRejected(Exception):
    """A request the server refuses, with the gRPC status code to answer.

    Client values in the message go through `shown`; the message as a whole is cut to
    `MAX_MESSAGE_CHARS` as well, in case one is quoted some other way.

    Example:
        >>> import grpc
        >>> err = RequestRejected(grpc.StatusCode.NOT_FOUND, "no model named 'x'")
        >>> err.code.name, err.message
        ('NOT_FOUND', "no model named 'x'")
    """

    def __init__(self, code: grpc.StatusCode, message: str):
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + "… (message cut)"
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class ServingError(Exception):
    """A failed call from `RelevanceClient`: status code, server message and address.

    Example:
        >>> import grpc
        >>> err = ServingError(grpc.StatusCode.UNAVAILABLE, "connection refused",
        ...                    "localhost:8500", "relevance_student")
        >>> str(err)
        'relevance_student at localhost:8500: UNAVAILABLE: connection refused'
    """

    def __init__(self, code: Optional[grpc.StatusCode], details: str, target: str,
                 model_name: str = ""):
        self.code = code
        self.details = details
        self.target = target
        self.model_name = model_name
        where = f"{model_name} at {target}" if model_name else target
        code_name = code.name if code is not None else "ERROR"
        super().__init__(f"{where}: {code_name}: {details}")
