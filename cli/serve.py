"""`relevance serve`: runs `serving.server.RelevanceServer` from the parsed serve flags
(`cli.serve_flags`) until SIGTERM or SIGINT.

Each flag is checked before anything loads: a value out of range is an InputError
naming the flag.

>>> import argparse
>>> from cli.serve_flags import add_serve_parser
>>> parser = argparse.ArgumentParser(prog="relevance")
>>> _ = add_serve_parser(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["serve", "--model-base-path", "/m/x", "--max-candidates", "50"])
>>> limits_from_args(args).max_candidates
50
>>> batching_from_args(args) is None
True
"""

import logging
import os
import signal
import threading
from typing import Optional

from relevance.errors import InputError
from serving.batching_parameters import BatchingParameters
from serving.limits import ServingLimits
from serving.server import RelevanceServer, host_port

log = logging.getLogger(__name__)


def limits_from_args(args) -> ServingLimits:
    """ServingLimits from the serve flags, each checked first (InputError naming the flag)."""
    positive = {
        "--max-candidates": args.max_candidates, "--max-string-bytes": args.max_string_bytes,
        "--max-message-bytes": args.max_message_bytes, "--max-json-depth": args.max_json_depth,
        "--rest-header-timeout-seconds": args.rest_header_timeout_seconds,
        "--rest-body-timeout-seconds": args.rest_body_timeout_seconds,
        "--rest-max-connections": args.rest_max_connections, "--workers": args.workers,
        "--max-concurrent-requests": args.max_concurrent_requests,
    }
    for flag, value in positive.items():
        if not value > 0:
            raise InputError(f"{flag} must be > 0, got {value}")
    for flag, value in (("--poll-seconds", args.poll_seconds),
                        ("--grace-seconds", args.grace_seconds)):
        if not value >= 0:
            raise InputError(f"{flag} must be >= 0, got {value}")
    for flag, value in (("--port", args.port), ("--rest-port", args.rest_port)):
        if value is not None and not 0 <= value <= 65535:
            raise InputError(f"{flag} must be a port number from 0 to 65535, got {value}")
    return ServingLimits(
        max_candidates=args.max_candidates, max_string_bytes=args.max_string_bytes,
        max_message_bytes=args.max_message_bytes, max_json_depth=args.max_json_depth,
        rest_header_timeout_s=args.rest_header_timeout_seconds,
        rest_body_timeout_s=args.rest_body_timeout_seconds,
        rest_max_connections=args.rest_max_connections)


def batching_from_args(args) -> Optional[BatchingParameters]:
    """The server's BatchingParameters from --enable-batching / --batching-parameters-file."""
    if args.batching_parameters_file and not args.enable_batching:
        raise InputError("--batching-parameters-file needs --enable-batching (as in TF Serving)")
    if not args.enable_batching:
        return None
    if not args.batching_parameters_file:
        return BatchingParameters(batch_timeout_micros=0)
    try:
        return BatchingParameters.from_file(args.batching_parameters_file)
    except (OSError, ValueError) as error:
        raise InputError(f"--batching-parameters-file: {error}") from error


def configure_tf_threads(intra_op: int, inter_op: int) -> None:
    """Sets TF's thread pools (0 keeps TF's choice); must run before any model loads."""
    if intra_op < 0 or inter_op < 0:
        raise InputError("--intra-op-threads and --inter-op-threads must be >= 0")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(intra_op)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op)


def serve_main(args) -> int:
    """Runs the server until SIGTERM or SIGINT; returns the exit code."""
    limits = limits_from_args(args)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise InputError("TLS needs both --tls-cert and --tls-key")
    batching = batching_from_args(args)
    configure_tf_threads(args.intra_op_threads, args.inter_op_threads)
    if not os.path.isdir(args.model_base_path):
        log.warning("%s does not exist yet; serving starts when a version appears there",
                    args.model_base_path)
    server = RelevanceServer(
        args.model_base_path, args.model_name, port=args.port, rest_port=args.rest_port,
        host=args.host, poll_seconds=args.poll_seconds, limits=limits,
        tls_cert=args.tls_cert, tls_key=args.tls_key, max_workers=args.workers,
        max_concurrent_requests=args.max_concurrent_requests, grace_seconds=args.grace_seconds,
        batching=batching,
    )
    server.start()
    print(f"serving {server.model_name} on {host_port(args.host, server.port)}"
          + (f", REST on {host_port(args.host, server.rest_port)}" if server.rest_port else ""),
          flush=True)

    def on_signal(signum, _frame):
        # Signal handlers must return quickly; the drain runs in its own thread.
        log.info("received %s", signal.Signals(signum).name)
        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.wait()
    return 0
