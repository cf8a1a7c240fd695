"""The files real TF Serving reads next to the model directories (models/export_layout.py).

    BASE/
      models.config                   ModelServerConfig text proto (write_model_server_config)
      batching_parameters.txt         BatchingParameters text proto (write_batching_parameters)
      MODEL_NAME/VERSION/             a SavedModel (models.export_layout)

Example:

>>> import tempfile, os
>>> base = tempfile.mkdtemp()
>>> os.path.basename(write_model_server_config(base, ["relevance_student"]))
'models.config'
"""

import os
from typing import Iterable, Optional

import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving.batching_parameters import BatchingParameters

MODEL_SERVER_CONFIG_FILE = "models.config"
BATCHING_PARAMETERS_FILE = "batching_parameters.txt"


def write_model_server_config(
    base_dir: str,
    model_names: Iterable[str],
    container_base_dir: Optional[str] = None,
    num_versions: int = 1,
) -> str:
    """Writes BASE/models.config for `tensorflow_model_server --model_config_file=...`.

    Each model is served from BASE/NAME (or CONTAINER_BASE_DIR/NAME when the directory
    is mounted elsewhere in a container, e.g. "/models"), keeping the newest
    `num_versions` versions loaded.
    """
    names = list(model_names)
    if not names:
        raise ValueError("model_names is empty: name at least one model")
    root = container_base_dir or os.path.abspath(base_dir)
    config = model_server_config_pb2.ModelServerConfig()
    for name in names:
        model = config.model_config_list.config.add()
        model.name = name
        model.base_path = f"{root.rstrip('/')}/{name}"
        model.model_platform = "tensorflow"
        model.model_version_policy.latest.num_versions = num_versions
    tf.io.gfile.makedirs(base_dir)
    path = os.path.join(base_dir, MODEL_SERVER_CONFIG_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(text_format.MessageToString(config))
    return path


def write_batching_parameters(path: str, parameters: Optional[BatchingParameters] = None,
                              **fields) -> str:
    """Writes a BatchingParameters text proto for `--enable_batching --batching_parameters_file`
    (`fields` are BatchingParameters attributes, used when `parameters` is not given).

    TF Serving concatenates queued requests along dimension 0, so with batching on every
    request must send the query once per candidate (`RelevanceClient` does); a 1-entry
    query merged with another request would no longer match its candidates. Here
    `max_batch_size` counts candidates, not requests. Large-batch splitting lets one
    request with more candidates than `max_execution_batch_size` run in pieces.
    `relevance serve --enable-batching --batching-parameters-file` reads the same file.
    """
    text = (parameters or BatchingParameters(**fields)).to_text()
    parent = os.path.dirname(path)
    if parent:
        tf.io.gfile.makedirs(parent)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(text)
    return path
