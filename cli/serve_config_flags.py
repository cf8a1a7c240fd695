"""`relevance serve-config`: the files real TF Serving reads beside a serving directory.

    relevance serve-config --serving-dir demo_run/serving --model-name relevance_student \
        --container-base-dir /models

writes SERVING_DIR/models.config and SERVING_DIR/batching_parameters.txt
(models/export_layout.py), ready for `docker run ... tensorflow/serving
--model_config_file=/models/models.config --enable_batching
--batching_parameters_file=/models/batching_parameters.txt`.
"""

import argparse
import os
import sys


def add_serve_config_parser(subparsers) -> argparse.ArgumentParser:
    """Adds `serve-config` to a subparsers object; cli.main dispatches to serve_config_main."""
    parser = subparsers.add_parser(
        "serve-config", help="write models.config and batching parameters for real TF Serving")
    parser.add_argument("--serving-dir", required=True, metavar="BASE",
                        help="the directory holding MODEL_NAME/VERSION/ (WORKDIR/serving)")
    parser.add_argument("--model-name", action="append", default=None, metavar="NAME",
                        help="model to serve, repeatable (default relevance_student)")
    parser.add_argument("--container-base-dir", default=None, metavar="DIR",
                        help="where BASE is mounted inside the TF Serving container, e.g. "
                             "/models (default: BASE's absolute path)")
    return parser


def serve_config_main(args) -> int:
    """Writes both files; a missing serving directory or model is a one-line error (exit 2)."""
    from serving.server_config import write_batching_parameters, write_model_server_config

    names = args.model_name or ["relevance_student"]
    missing = [name for name in names if not os.path.isdir(os.path.join(args.serving_dir, name))]
    if missing:
        print(f"error: --serving-dir {args.serving_dir} has no model directory for "
              f"{', '.join(missing)} (expected {args.serving_dir}/NAME/VERSION/)", file=sys.stderr)
        return 2
    config = write_model_server_config(args.serving_dir, names,
                                       container_base_dir=args.container_base_dir)
    batching = write_batching_parameters(
        os.path.join(args.serving_dir, "batching_parameters.txt"))
    print(f"wrote {config} and {batching}")
    return 0
