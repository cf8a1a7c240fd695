"""The TF Serving directory layout and the files real TF Serving reads next to it.

    BASE/
      models.config                   ModelServerConfig text proto (write_model_server_config)
      batching_parameters.txt         BatchingParameters text proto (write_batching_parameters)
      MODEL_NAME/
        VERSION/                      a SavedModel, VERSION an integer (newest is served)
          saved_model.pb
          variables/
          assets.extra/tf_serving_warmup_requests   (write_warmup_requests)

Example:

>>> import tempfile, os
>>> base = tempfile.mkdtemp()
>>> os.makedirs(os.path.join(base, "relevance_student", "3"))
>>> open(os.path.join(base, "relevance_student", "3", "saved_model.pb"), "wb").close()
>>> latest_version(os.path.join(base, "relevance_student"))[0]
3
>>> os.path.basename(write_model_server_config(base, ["relevance_student"]))
'models.config'
"""

import os
from typing import Iterable, List, Optional, Sequence, Tuple

import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from relevance import contract
from serving.batching_parameters import BatchingParameters
from serving.tensor_codec import string_vector_proto

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
MODEL_SERVER_CONFIG_FILE = "models.config"
BATCHING_PARAMETERS_FILE = "batching_parameters.txt"
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")

# Plausible, multilingual text so warmup exercises tokenizers on more than ASCII.
_WARMUP_QUERY = "red running shoes"
_WARMUP_ITEM = {
    "title": "Red trail running shoe",
    "description": "Lightweight shoe for long runs / Chaussure legere pour la course",
    "image_caption": "a red sneaker on a white background",
    "link_title": "Running shoes | Shop",
    "link_description": "Free delivery on running shoes",
    "engaged_queries": contract.LIST_SEPARATOR.join(["running shoes", "zapatillas rojas"]),
    "board_titles": contract.LIST_SEPARATOR.join(["Sport", "Laufschuhe"]),
}


def list_versions(model_base_path: str) -> List[Tuple[int, str]]:
    """(version, path) of every complete-looking version directory, oldest first.

    A version is a directory named by a non-negative integer that holds a saved_model
    file; other entries (a Pusher's temporary directories, stray files) are ignored, as
    TF Serving does.
    """
    try:
        names = tf.io.gfile.listdir(model_base_path)
    except tf.errors.NotFoundError:
        return []
    versions = []
    for name in names:
        name = name.rstrip("/")
        if not name.isdigit():
            continue
        path = os.path.join(model_base_path, name)
        if any(tf.io.gfile.exists(os.path.join(path, f)) for f in SAVED_MODEL_FILES):
            versions.append((int(name), path))
    return sorted(versions)


def latest_version(model_base_path: str) -> Optional[Tuple[int, str]]:
    """(version, path) of the newest version under BASE/MODEL_NAME, or None if there is none."""
    versions = list_versions(model_base_path)
    return versions[-1] if versions else None


def warmup_predict_request(
    model_name: str, num_candidates: int = 200, signature_name: str = contract.SIGNATURE_RAW
) -> predict_pb2.PredictRequest:
    """A PredictRequest shaped like real traffic: one query, `num_candidates` candidates."""
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
    )
    request.inputs[contract.QUERY].CopyFrom(string_vector_proto([_WARMUP_QUERY] * num_candidates))
    for field in contract.ITEM_TEXT_FIELDS:
        values = [f"{_WARMUP_ITEM[field]} {i}" for i in range(num_candidates)]
        request.inputs[field].CopyFrom(string_vector_proto(values))
    return request


def write_warmup_requests(
    version_dir: str,
    model_name: str,
    num_candidates: Sequence[int] = (1, 200),
    signature_name: str = contract.SIGNATURE_RAW,
) -> str:
    """Writes VERSION_DIR/assets.extra/tf_serving_warmup_requests; returns its path.

    One `PredictionLog` record per entry of `num_candidates` (an int is one record): TF
    Serving (and `serving.server`) replays them after loading the version and before
    sending it traffic, so the first real request does not pay for graph warm-up. Call
    it after the Pusher pushed the version, before the server's next poll picks it up.
    """
    sizes = [num_candidates] if isinstance(num_candidates, int) else list(num_candidates)
    if not sizes or any(n < 1 for n in sizes):
        raise ValueError(f"num_candidates must be positive, got {num_candidates!r}")
    warmup_dir = os.path.join(version_dir, WARMUP_DIR)
    tf.io.gfile.makedirs(warmup_dir)
    path = os.path.join(warmup_dir, WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for n in sizes:
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(
                    request=warmup_predict_request(model_name, n, signature_name)
                )
            )
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(version_dir: str) -> List[predict_pb2.PredictRequest]:
    """The PredictRequests recorded in a version's warmup file ([] when there is none)."""
    path = os.path.join(version_dir, WARMUP_DIR, WARMUP_FILE)
    if not tf.io.gfile.exists(path):
        return []
    requests = []
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        if log.HasField("predict_log"):
            requests.append(log.predict_log.request)
    return requests


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
