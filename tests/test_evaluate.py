"""`relevance evaluate` end to end on two tiny SavedModels and a tiny JSONL file."""

import argparse
import json
import os
import re

import matplotlib.image
import numpy as np
import pytest
import tensorflow as tf

from cli import main as cli
from evaluation import metrics
from relevance.errors import InputError
from evaluation.evaluate import BASELINE_NAME, model_display_names, resolve_saved_model_dir
from cli.evaluate import evaluate_main, parse_adapter_options
from cli.evaluate_flags import add_evaluate_parser
from models.export import RelevanceServingModule, save_serving_module

NUM_GRADES = 3
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _word_overlap_model(raw):
    """Grade 3 when a title word equals the query's first word, else grade 1."""
    first_word = tf.strings.split(raw["query"]).to_tensor(default_value="")[:, :1]
    title_words = tf.strings.split(tf.strings.lower(raw["title"])).to_tensor(default_value="")
    hit = tf.reduce_any(tf.equal(title_words, first_word), axis=1)
    return tf.where(hit[:, None], [[0.1, 0.2, 0.7]], [[0.6, 0.3, 0.1]])


def _title_length_model(raw):
    """A weak model: longer titles look more relevant."""
    length = tf.cast(tf.strings.length(raw["title"]), tf.float32)
    logits = tf.stack([-length / 10.0, tf.zeros_like(length), length / 10.0 - 2.0], axis=1)
    return tf.nn.softmax(logits)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    teacher = str(root / "teacher")
    save_serving_module(RelevanceServingModule(_word_overlap_model, NUM_GRADES), teacher)
    # The student in a TF Serving layout: BASE/NAME/VERSION, the newest version wins.
    student_base = root / "serving" / "student"
    save_serving_module(RelevanceServingModule(_title_length_model, NUM_GRADES),
                        str(student_base / "7"))
    (student_base / "3").mkdir()  # older, and not even a SavedModel
    return teacher, str(student_base)


def _write_jsonl(path, rows):
    with open(path, "w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return str(path)


def _rows():
    # Within a query, items the teacher scores alike share a grade, so its ranking is
    # perfect whatever the tie-breaking.
    catalog = [
        ("red lamp", "en", [("red desk lamp", 3), ("red lamp shade", 3), ("oak table", 1),
                            ("sofa", 1)]),
        ("blue sofa", "en", [("blue corner sofa", 3), ("lamp", 2)]),
        ("lámpara roja", "es", [("lámpara de mesa roja", 3), ("silla", 1),
                                ("mesa de roble", 1)]),
    ]
    rows = []
    for q_index, (query, language, items) in enumerate(catalog):
        for i_index, (title, grade) in enumerate(items):
            rows.append({"query": query, "item_id": f"i{q_index}-{i_index}", "title": title,
                         "language": language, "grade": grade})
    rows.append({"query": "red lamp", "item_id": "u1", "title": "unlabeled lamp",
                 "language": "en"})  # unlabeled: skipped
    return rows


def _parse(argv):
    parser = argparse.ArgumentParser(prog="relevance")
    add_evaluate_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["evaluate"] + argv)


def test_evaluate_end_to_end(tmp_path, model_dirs, capsys):
    teacher, student = model_dirs
    data = _write_jsonl(tmp_path / "eval.jsonl", _rows())
    output = tmp_path / "report"
    args = _parse(["--model", teacher, "--model", student, "--data", data,
                   "--output", str(output), "--num-grades", str(NUM_GRADES),
                   "--baseline-train", data])
    assert evaluate_main(args) == 0

    document = json.loads((output / "metrics.json").read_text())
    assert list(document["models"]) == ["teacher", "student", BASELINE_NAME]
    expected_keys = metrics.metric_keys(NUM_GRADES)
    assert "auroc_ge_2" in expected_keys and "auroc_ge_3" in expected_keys
    for result in document["models"].values():
        assert set(expected_keys) <= set(result["overall"])
        assert result["overall"]["n"] == 9
        assert sorted(result["by_language"]) == ["en", "es"]
        for slice_metrics in result["by_language"].values():
            assert set(expected_keys) <= set(slice_metrics)
    # The word-overlap teacher ranks every query perfectly on this data.
    assert document["models"]["teacher"]["overall"]["ndcg@10"] == pytest.approx(1.0)
    assert len(document["agreement"]) == 3
    # Per-row predictions, in input order, for paired comparisons across runs.
    saved = np.load(output / "predictions.npz")
    assert sorted(saved.files) == sorted(["teacher", "student", BASELINE_NAME,
                                          f"{BASELINE_NAME}.scores"])
    assert saved["teacher"].shape == (9, NUM_GRADES) and saved[f"{BASELINE_NAME}.scores"].shape == (9,)

    report = (output / "report.md").read_text()
    images = sorted(name for name in os.listdir(output) if name.endswith(".png"))
    assert {"confusion_teacher.png", "confusion_student.png", "by_language.png",
            "calibration.png", "agreement_teacher_vs_student.png"} <= set(images)
    for name in images:
        assert name in report
        assert (output / name).read_bytes()[:8] == PNG_SIGNATURE
        assert matplotlib.image.imread(str(output / name)).ndim == 3
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["teacher", "student", BASELINE_NAME, "report:"]
    assert re.fullmatch(r"teacher +9 pairs · accuracy \d\.\d{3} · qwk (\d\.\d{3}|-) · "
                        r"ndcg@10 1\.000", lines[0]), lines[0]
    assert str(output / "report.md") in lines[3] and str(output / "metrics.json") in lines[3]


def test_cli_evaluate_shows_the_models_and_logs_the_rest(tmp_path, model_dirs, capfd):
    teacher, student = model_dirs
    data = _write_jsonl(tmp_path / "eval.jsonl", _rows())
    output = tmp_path / "report"
    assert cli.main(["evaluate", "--model", teacher, "--model", student, "--data", data,
                     "--output", str(output), "--num-grades", str(NUM_GRADES)]) == 0
    captured = capfd.readouterr()
    lines = captured.out.splitlines()
    log_path = output / "logs" / "evaluate.log"
    assert [line.split()[0] for line in lines] == ["teacher", "student", "report:", "full"]
    assert lines[-1] == f"full log: {log_path}"
    assert captured.err == ""
    # The scoring progress and the frameworks' output are in the log, not on the terminal.
    assert "scored 9 / 9 pairs" in log_path.read_text()


def test_resolve_serving_base_dir_takes_newest_version(model_dirs):
    _, student = model_dirs
    assert resolve_saved_model_dir(student) == os.path.join(student, "7")


def test_model_names_default_and_dedupe():
    assert model_display_names(["a/teacher", "b/teacher", "srv/student/4"], []) == [
        "teacher", "teacher_2", "student"]
    with pytest.raises(InputError, match="--model-name"):
        model_display_names(["a", "b"], ["only_one"])


def test_bad_inputs_name_the_file(tmp_path, model_dirs):
    teacher, _ = model_dirs
    data = _write_jsonl(tmp_path / "eval.jsonl", _rows())
    empty_dir = tmp_path / "not_a_model"
    empty_dir.mkdir()
    with pytest.raises(InputError, match="not_a_model"):
        evaluate_main(_parse(["--model", str(empty_dir), "--data", data,
                              "--output", str(tmp_path / "o"), "--num-grades", "3"]))
    # A 3-grade model on 5-grade data: the mismatch is reported, naming the model.
    with pytest.raises(InputError, match="teacher"):
        evaluate_main(_parse(["--model", teacher, "--data", data, "--output", str(tmp_path / "o")]))
    unlabeled = _write_jsonl(tmp_path / "unlabeled.jsonl",
                             [{"query": "q", "item_id": "i", "title": "t", "language": "en"}])
    with pytest.raises(InputError, match="unlabeled.jsonl"):
        evaluate_main(_parse(["--model", teacher, "--data", unlabeled,
                              "--output", str(tmp_path / "o"), "--num-grades", "3"]))
    with pytest.raises(InputError, match="missing.jsonl"):
        evaluate_main(_parse(["--model", teacher, "--data", str(tmp_path / "missing.jsonl"),
                              "--output", str(tmp_path / "o"), "--num-grades", "3"]))


def test_adapter_format_with_options(tmp_path):
    # A two-query crowdflower file evaluated with the baseline only.
    csv_path = tmp_path / "train.csv"
    csv_path.write_text(
        '"id","query","product_title","product_description","median_relevance","relevance_variance"\n'
        '1,"red lamp","Red desk lamp","<b>bright</b>",4,0\n'
        '2,"red lamp","Oak table","",1,0\n'
        '3,"blue sofa","Blue sofa","",4,0\n'
        '4,"blue sofa","Red lamp","",2,0\n'
    )
    output = tmp_path / "out"
    args = _parse(["--data", str(csv_path), "--format", "crowdflower", "--output", str(output),
                   "--baseline-train", str(csv_path)])
    assert evaluate_main(args) == 0
    document = json.loads((output / "metrics.json").read_text())
    assert document["data"]["num_grades"] == 4
    assert "auroc_ge_4" in document["models"][BASELINE_NAME]["overall"]
    with pytest.raises(InputError, match="has 4 grades"):
        evaluate_main(_parse(["--data", str(csv_path), "--format", "crowdflower",
                              "--output", str(output), "--baseline-train", str(csv_path),
                              "--num-grades", "5"]))
    assert np.isfinite(document["models"][BASELINE_NAME]["overall"]["ndcg@10"])


def test_parse_adapter_options():
    assert parse_adapter_options(["split=test", "locales=us,es"]) == {
        "split": "test", "locales": "us,es"}
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_adapter_options(["split"])


def test_rows_scored_by_length_come_back_in_input_order(model_dirs):
    from evaluation.evaluate import score_with_saved_model
    from support.examples import serialized_example

    titles = ["a much longer title than the others here", "short", "mid length title", "x"]
    serialized = [serialized_example({"query": "q", "query_id": "q", "item_id": str(i),
                                      "title": title}) for i, title in enumerate(titles)]
    probabilities = score_with_saved_model(resolve_saved_model_dir(model_dirs[1]), serialized,
                                           NUM_GRADES, batch_size=2)
    alone = [_title_length_model({"title": tf.constant([title])}).numpy()[0] for title in titles]
    np.testing.assert_allclose(probabilities, np.stack(alone), atol=1e-6)
