"""The TF Serving directory layout and the files real TF Serving reads next to it.

    BASE/
      models.config                   ModelServerConfig (serving.server_config)
      batching_parameters.txt         BatchingParameters (serving.server_config)
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
"""

import os
from typing import List, Optional, Sequence, Tuple

import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from relevance import contract
from models.tensor_codec import string_vector_proto

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
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
