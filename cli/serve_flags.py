"""The `relevance serve` command line, kept apart from the server so that building the
`relevance` parser (e.g. for `--help`) does not import gRPC and TensorFlow."""

import argparse

from serving.limits import MIB, ServingLimits, parse_byte_size


def add_serve_parser(subparsers) -> argparse.ArgumentParser:
    """Adds `serve` to a subparsers object; cli.main dispatches to cli.serve.serve_main."""
    parser = subparsers.add_parser(
        "serve", help="serve a model directory over TF Serving's gRPC (and REST) API")
    parser.add_argument("--model-base-path", required=True, metavar="BASE/MODEL_NAME",
                        help="directory holding integer version subdirectories (the Pusher's output)")
    parser.add_argument("--model-name", default=None,
                        help="name clients use (default: the last component of --model-base-path)")
    parser.add_argument("--port", type=int, default=8500, help="gRPC port (default 8500; 0: any free)")
    parser.add_argument("--rest-port", type=int, default=None,
                        help="also serve REST on this port (TF Serving uses 8501; default: off)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default 127.0.0.1; 0.0.0.0 exposes the server)")
    parser.add_argument("--poll-seconds", type=float, default=2.0,
                        help="how often to look for a new version (default 2; 0: never)")
    parser.add_argument("--max-candidates", type=int, default=1000,
                        help="candidates per request (default 1000)")
    parser.add_argument("--max-string-bytes", type=parse_byte_size, default=64 * 1024,
                        help="bytes per string value (default 64KiB)")
    parser.add_argument("--max-message-bytes", type=parse_byte_size, default=16 * MIB,
                        help="bytes per gRPC message or REST body (default 16MiB)")
    defaults = ServingLimits
    parser.add_argument("--max-json-depth", type=int, default=defaults.max_json_depth,
                        help="nesting of arrays and objects in a REST body "
                             f"(default {defaults.max_json_depth})")
    parser.add_argument("--rest-header-timeout-seconds", type=float,
                        default=defaults.rest_header_timeout_s,
                        help="a REST connection that has not sent a request's headers this long "
                             "after connecting or after its last answer is closed "
                             f"(default {defaults.rest_header_timeout_s:g})")
    parser.add_argument("--rest-body-timeout-seconds", type=float,
                        default=defaults.rest_body_timeout_s,
                        help="a REST body not received this long after its headers gets 408 "
                             f"(default {defaults.rest_body_timeout_s:g})")
    parser.add_argument("--rest-max-connections", type=int,
                        default=defaults.rest_max_connections,
                        help="REST connections open at once; more are answered 503 "
                             f"(default {defaults.rest_max_connections})")
    parser.add_argument("--workers", type=int, default=16,
                        help="threads running requests, for gRPC and for REST each (default 16)")
    parser.add_argument("--max-concurrent-requests", type=int, default=256,
                        help="beyond this, requests get RESOURCE_EXHAUSTED (default 256)")
    parser.add_argument("--grace-seconds", type=float, default=10.0,
                        help="on SIGTERM, how long requests in flight may take (default 10)")
    parser.add_argument("--tls-cert", default=None, help="PEM certificate chain (enables TLS)")
    parser.add_argument("--tls-key", default=None, help="PEM private key for --tls-cert")
    parser.add_argument("--intra-op-threads", type=int, default=0, metavar="N",
                        help="threads one TF op may use (TF Serving's "
                             "--tensorflow_intra_op_parallelism; default 0: TF picks)")
    parser.add_argument("--inter-op-threads", type=int, default=0, metavar="N",
                        help="TF ops run at once (TF Serving's "
                             "--tensorflow_inter_op_parallelism; default 0: TF picks)")
    parser.add_argument("--enable-batching", action="store_true",
                        help="merge concurrent requests into one model call (TF Serving's "
                             "--enable_batching; default off)")
    parser.add_argument("--batching-parameters-file", default=None, metavar="FILE",
                        help="BatchingParameters text proto, the file TF Serving reads "
                             "(default with --enable-batching: max_batch_size 1024, "
                             "batch_timeout_micros 0, num_batch_threads 2)")
    return parser
