"""The relevance ExampleGen executor, run through `Do` with real artifacts and Beam."""

import csv
import glob
import json
import os

import pytest
import tensorflow as tf
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.example_gen.component import relevance_example_gen
from components.example_gen.executor import (
    Executor,
    choose_eval_queries,
    quarantine_files,
    read_ingest_counts,
)
from components.example_gen.options import ExampleGenOptions
from relevance import contract
from relevance.errors import InputError
from relevance.records import example_to_record
from support.example_gen_run import run_example_gen

LABELED = [
    {"query": "red shoes", "query_id": f"q{q}", "item_id": f"i{q}-{i}", "title": f"red shoe {i}",
     "board_titles": ["shoes", "red"], "grade": 1 + (i % 5)}
    for q in range(6)
    for i in range(4)
]
BAD_LABELED = [
    {"query": "", "item_id": "x1", "title": "t", "grade": 3},  # missing_query
    {"query": "q", "item_id": "x2", "title": "t", "grade": 7},  # grade_out_of_range
    {"query": "q", "item_id": "x3", "title": "t"},  # labeled row without a grade
]
UNLABELED = [
    {"query": "zapatos rojos", "item_id": f"u{i}", "title": "zapatos de cuero rojo",
     "description": "cómodos y elegantes", "grade": ""}
    for i in range(5)
] + [{"query": "лампа", "item_id": "u-ru", "title": "настольная лампа", "grade": ""},
     {"query": "no item text", "item_id": "u-bad", "grade": ""}]


def _write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_csv(path, rows):
    columns = sorted({k for row in rows for k in row})
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _run(tmp_path, options=ExampleGenOptions(), unlabeled=UNLABELED):
    base = tmp_path / "inputs"
    (base / "labeled").mkdir(parents=True)
    (base / "unlabeled").mkdir(parents=True)
    _write_jsonl(base / "labeled" / "labeled.jsonl", LABELED + BAD_LABELED)
    _write_csv(base / "unlabeled" / "unlabeled.csv", unlabeled)

    component = relevance_example_gen(str(base), options)
    exec_properties = dict(component.exec_properties)
    for key in (standard_component_specs.INPUT_CONFIG_KEY, standard_component_specs.OUTPUT_CONFIG_KEY,
                standard_component_specs.CUSTOM_CONFIG_KEY):
        if not isinstance(exec_properties[key], str):
            exec_properties[key] = proto_utils.proto_to_json(exec_properties[key])
    exec_properties[standard_component_specs.OUTPUT_FILE_FORMAT_KEY] = example_gen_pb2.FORMAT_TFRECORDS_GZIP
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "out")
    Executor().Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties)
    return examples


def _records(examples, split):
    uri = artifact_utils.get_split_uri([examples], split)
    files = sorted(glob.glob(os.path.join(uri, "*")))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [example_to_record(tf.train.Example.FromString(x.numpy())) for x in dataset]


def test_splits_counts_and_quarantine(tmp_path):
    examples = _run(tmp_path)
    assert artifact_utils.decode_split_names(examples.split_names) == ["train", "eval", "unlabeled"]
    train, held_out, unlabeled = (_records(examples, s) for s in ("train", "eval", "unlabeled"))

    # Whole queries are held out, never single rows.
    assert not {r["query_id"] for r in train} & {r["query_id"] for r in held_out}
    assert held_out and train
    assert all(r["grade"] in range(1, 6) for r in train + held_out)
    assert all(r["grade"] is None for r in unlabeled)
    assert {r["language"] for r in unlabeled} >= {"es", "ru"}

    counts = read_ingest_counts(examples.uri)
    assert counts["labeled_in"] == len(LABELED) + len(BAD_LABELED)
    assert counts["unlabeled_in"] == len(UNLABELED)
    assert counts["out"] == {"train": len(train), "eval": len(held_out), "unlabeled": len(unlabeled)}
    assert counts["labeled_in"] == len(train) + len(held_out) + counts["quarantined_by_input"]["labeled"]
    assert counts["unlabeled_in"] == len(unlabeled) + counts["quarantined_by_input"]["unlabeled"]
    assert counts["quarantined_by_reason"] == {
        "grade_out_of_range": 1, "missing_grade": 1, "missing_item_text": 1, "missing_query": 1,
    }
    assert examples.get_int_custom_property("quarantined") == 4

    quarantined = [json.loads(line) for path in quarantine_files(examples.uri) for line in open(path)]
    assert len(quarantined) == 4
    by_item = {q["fields"].get("item_id"): q for q in quarantined}
    assert by_item["x2"]["row"] == len(LABELED) + 2
    assert by_item["x2"]["source"].endswith("labeled.jsonl")
    assert "1..5" in by_item["x2"]["message"] or "5" in by_item["x2"]["message"]


def test_num_grades_is_respected(tmp_path):
    examples = _run(tmp_path, ExampleGenOptions(num_grades=4))
    counts = read_ingest_counts(examples.uri)
    graded_five = sum(1 for r in LABELED if r["grade"] == 5)
    assert counts["quarantined_by_reason"]["grade_out_of_range"] == 1 + graded_five


def test_options_round_trip_through_custom_config():
    options = ExampleGenOptions(input_format="csv", num_grades=4, eval_percent=10.0,
                                numeric_features=["num_clicks"], image_only_items=True)
    assert ExampleGenOptions.from_custom_config_json(options.to_custom_config_json()) == options
    assert ExampleGenOptions.from_custom_config_json("").image_only_items is False


def test_image_only_items_pass_when_captioning(tmp_path):
    image_only = {"query": "lamp", "item_id": "u-img", "image": "lamp.png", "grade": ""}
    examples = _run(tmp_path, ExampleGenOptions(image_only_items=True),
                    unlabeled=UNLABELED + [image_only])
    by_id = {r["item_id"]: r for r in _records(examples, "unlabeled")}
    assert by_id["u-img"]["image"] == "lamp.png" and by_id["u-img"]["title"] == ""
    # A row with neither text nor image is still quarantined.
    assert "u-bad" not in by_id
    assert read_ingest_counts(examples.uri)["quarantined_by_reason"]["missing_item_text"] == 1


def test_eval_queries_are_stable_and_never_all():
    queries = [f"q{i}" for i in range(10)]
    chosen = choose_eval_queries(queries, 20)
    assert len(chosen) == 2 and chosen == choose_eval_queries(reversed(queries), 20)
    assert len(choose_eval_queries(["a", "b"], 90)) == 1
    assert choose_eval_queries(["only"], 50) == frozenset()


def test_run_fails_clearly_when_no_labeled_row_is_valid(tmp_path):
    base = tmp_path / "inputs"
    (base / "labeled").mkdir(parents=True)
    (base / "unlabeled").mkdir(parents=True)
    _write_jsonl(base / "labeled" / "l.jsonl", BAD_LABELED)
    _write_csv(base / "unlabeled" / "u.csv", UNLABELED)
    with pytest.raises(InputError, match="no valid labeled row"):
        run_example_gen(base, ExampleGenOptions(), tmp_path / "out")


def _run_files(tmp_path, labeled_text, unlabeled_rows, options=ExampleGenOptions()):
    base = tmp_path / "inputs"
    (base / "labeled").mkdir(parents=True)
    (base / "unlabeled").mkdir(parents=True)
    (base / "labeled" / "labeled.jsonl").write_text(labeled_text, encoding="utf-8")
    _write_jsonl(base / "unlabeled" / "unlabeled.jsonl", unlabeled_rows)
    return base, run_example_gen(base, options, tmp_path / "out")


def test_unlabeled_grades_are_ignored_not_quarantined(tmp_path):
    # Issue 19.3: the unlabeled split ignores grades, whatever they hold.
    stray = [dict(UNLABELED[0], item_id="s1", grade="very good"),
             dict(UNLABELED[0], item_id="s2", grade=9)]
    labeled = "".join(json.dumps(row) + "\n" for row in LABELED)
    _, examples = _run_files(tmp_path, labeled, stray)
    counts = read_ingest_counts(examples.uri)
    assert counts["quarantined"] == 0 and counts["out"]["unlabeled"] == 2
    assert all(r["grade"] is None for r in _records(examples, "unlabeled"))


def test_the_input_check_forecasts_exactly_what_example_gen_quarantines(tmp_path):
    # Issue 19.4: null, empty and NaN grades of labeled rows, and stray unlabeled grades.
    from cli.staging import preflight

    lines = [json.dumps(row) for row in LABELED + BAD_LABELED]
    lines += ['{"query": "q", "item_id": "n1", "title": "t", "grade": null}',
              '{"query": "q", "item_id": "n2", "title": "t", "grade": ""}',
              '{"query": "q", "item_id": "n3", "title": "t", "grade": NaN}']
    unlabeled = UNLABELED + [dict(UNLABELED[0], item_id="s1", grade="x")]
    base, examples = _run_files(tmp_path, "\n".join(lines) + "\n", unlabeled)
    checks = preflight([str(base / "labeled")], [str(base / "unlabeled")], "auto",
                       contract.DEFAULT_NUM_GRADES)
    counts = read_ingest_counts(examples.uri)
    forecast = {}
    for check in checks:
        for reason, count in check.reason_counts.items():
            forecast[reason] = forecast.get(reason, 0) + count
    assert sum(check.rows - check.valid for check in checks) == counts["quarantined"] == 7
    assert forecast == counts["quarantined_by_reason"]
