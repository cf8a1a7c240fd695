"""TF Serving layout files: warmup requests, models.config, batching parameters, versions."""

import os

import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from relevance import contract
from models import export_layout
from serving import server_config


def _touch_version(base, version):
    path = os.path.join(base, str(version))
    os.makedirs(path)
    open(os.path.join(path, "saved_model.pb"), "wb").close()
    return path


def test_latest_version_ignores_non_numeric_and_incomplete_directories(tmp_path):
    base = str(tmp_path / "relevance_student")
    assert export_layout.latest_version(base) is None  # missing directory
    _touch_version(base, 2)
    newest = _touch_version(base, 10)  # numeric order, not string order
    os.makedirs(os.path.join(base, "11"))  # no saved_model.pb: still being written
    os.makedirs(os.path.join(base, "tmp-12"))
    assert export_layout.latest_version(base) == (10, newest)
    assert [v for v, _ in export_layout.list_versions(base)] == [2, 10]


def test_warmup_requests_are_prediction_logs_tf_serving_can_replay(tmp_path):
    version_dir = _touch_version(str(tmp_path / "m"), 1)
    path = export_layout.write_warmup_requests(version_dir, "m", num_candidates=(1, 7))
    assert path == os.path.join(version_dir, "assets.extra", "tf_serving_warmup_requests")
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(path)]
    assert [log.WhichOneof("log_type") for log in logs] == ["predict_log", "predict_log"]
    request = logs[1].predict_log.request
    assert request.model_spec.name == "m"
    assert request.model_spec.signature_name == contract.SIGNATURE_RAW
    assert sorted(request.inputs) == sorted(contract.RAW_SIGNATURE_INPUTS)
    assert all(len(t.string_val) == 7 for t in request.inputs.values())
    assert len(export_layout.read_warmup_requests(version_dir)) == 2


def test_model_server_config_is_a_valid_text_proto(tmp_path):
    path = server_config.write_model_server_config(
        str(tmp_path), ["relevance_student", "relevance_teacher"], container_base_dir="/models")
    config = text_format.Parse(open(path).read(), model_server_config_pb2.ModelServerConfig())
    models = config.model_config_list.config
    assert [m.name for m in models] == ["relevance_student", "relevance_teacher"]
    assert models[0].base_path == "/models/relevance_student"
    assert models[0].model_platform == "tensorflow"
    assert models[0].model_version_policy.latest.num_versions == 1
    local = server_config.write_model_server_config(str(tmp_path), ["m"])
    assert f"base_path: \"{tmp_path}/m\"" in open(local).read()


def test_batching_parameters_file(tmp_path):
    path = server_config.write_batching_parameters(
        str(tmp_path / "batching.txt"), max_batch_size=512, batch_timeout_micros=1000,
        num_batch_threads=4, allowed_batch_sizes=(128, 512))
    text = open(path).read()
    for line in ("max_batch_size { value: 512 }", "batch_timeout_micros { value: 1000 }",
                 "num_batch_threads { value: 4 }", "allowed_batch_sizes: 128",
                 "enable_large_batch_splitting { value: true }"):
        assert line in text
