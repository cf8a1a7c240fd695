"""`relevance serve-config`: models.config and batching parameters for real TF Serving."""

import os

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from cli import main as cli


def test_writes_the_model_config_and_batching_parameters(tmp_path, capsys):
    serving = tmp_path / "serving"
    (serving / "relevance_student" / "7").mkdir(parents=True)
    code = cli.main(["serve-config", "--serving-dir", str(serving),
                     "--container-base-dir", "/models"])
    assert code == 0
    config = text_format.Parse((serving / "models.config").read_text(),
                               model_server_config_pb2.ModelServerConfig())
    [model] = config.model_config_list.config
    assert (model.name, model.base_path) == ("relevance_student", "/models/relevance_student")
    batching = (serving / "batching_parameters.txt").read_text()
    assert "max_batch_size" in batching
    assert "models.config" in capsys.readouterr().out


def test_a_missing_model_is_a_one_line_error(tmp_path, capsys):
    code = cli.main(["serve-config", "--serving-dir", str(tmp_path), "--model-name", "nope"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USER_ERROR
    assert err.startswith("error: ") and "nope" in err and "Traceback" not in err
    assert not os.path.exists(tmp_path / "models.config")
