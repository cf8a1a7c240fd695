"""Canonical records: validation rules, tf.Example round trip and whole-file checks."""

import json
import pickle

import pytest

from relevance import contract
from relevance.errors import InputError, RecordError
from relevance.records import NUMERIC, derive_query_id, example_to_record, record_to_example, to_record
from relevance.row_validation import FileCheck, check_input_file

BASE = {"query": " Red Shoes ", "item_id": "i1", "title": "Red leather shoes", "language": "EN"}


def _with(**changes):
    fields = dict(BASE)
    fields.update(changes)
    return fields


def _reason(fields, **kwargs):
    with pytest.raises(RecordError) as caught:
        to_record(fields, **kwargs)
    return caught.value


def test_canonical_shape():
    record = to_record(_with(board_titles=["a", " ", "b"], engaged_queries="x | y"))
    for name in contract.SCALAR_STRING_FEATURES:
        assert isinstance(record[name], str)
    assert record[contract.QUERY] == "Red Shoes"
    assert record[contract.LANGUAGE] == "en"
    assert record["description"] == ""
    assert record["board_titles"] == ["a", "b"]
    assert record["engaged_queries"] == ["x", "y"]
    assert record[contract.GRADE] is None
    assert record[NUMERIC] == {}


@pytest.mark.parametrize(
    "changes,reason",
    [
        ({"query": "  "}, "missing_query"),
        ({"query": None}, "missing_query"),
        ({"item_id": ""}, "missing_item_id"),
        ({"title": "", "board_titles": [" "]}, "missing_item_text"),
        ({"grade": "4.5"}, "bad_grade"),
        ({"grade": "very"}, "bad_grade"),
        ({"grade": True}, "bad_grade"),
        ({"grade": 0}, "grade_out_of_range"),
        ({"grade": "6"}, "grade_out_of_range"),
        ({"num_engagement_rate": "high"}, "bad_numeric"),
        ({"num_engagement_rate": "inf"}, "bad_numeric"),
    ],
)
def test_reason_codes(changes, reason):
    error = _reason(_with(**changes))
    assert error.reason == reason
    assert str(error)  # a human sentence


def test_missing_query_field_entirely():
    fields = dict(BASE)
    del fields["query"]
    assert _reason(fields).reason == "missing_query"


def test_item_text_from_any_text_field_is_enough():
    record = to_record(_with(title="", image_caption="a photo of red shoes"))
    assert record["image_caption"] == "a photo of red shoes"
    record = to_record(_with(title="", engaged_queries=["red shoes"]))
    assert record["engaged_queries"] == ["red shoes"]


@pytest.mark.parametrize("value,expected", [("4", 4), (4.0, 4), (" 2 ", 2), ("3.0", 3), (1, 1),
                                            ("", None), (None, None), ("nan", None),
                                            (float("nan"), None), ([5], 5), ([], None)])
def test_grade_parsing(value, expected):
    assert to_record(_with(grade=value))[contract.GRADE] == expected


def test_grade_bounds_follow_num_grades():
    assert to_record(_with(grade=4), num_grades=4)[contract.GRADE] == 4
    error = _reason(_with(grade=5), num_grades=4)
    assert error.reason == "grade_out_of_range"
    assert "1..4" in str(error) and "--num-grades 5" in str(error)
    assert to_record(_with(grade=5), num_grades=5)[contract.GRADE] == 5
    assert "1..5" in str(_reason(_with(grade=6), num_grades=5))
    assert "shift" in str(_reason(_with(grade=0)))


def test_query_id_derivation():
    record = to_record(BASE)
    assert record[contract.QUERY_ID] == derive_query_id("red shoes")
    assert record[contract.QUERY_ID].startswith("q-") and len(record[contract.QUERY_ID]) == 18
    assert derive_query_id("RED   shoes") == derive_query_id(" red shoes")
    assert derive_query_id("red shoe") != derive_query_id("red shoes")
    assert to_record(_with(query_id="Q7"))[contract.QUERY_ID] == "Q7"


def test_language_detected_when_missing_and_optional():
    fields = _with(language="", query="zapatos rojos de cuero",
                   title="Zapatos de cuero rojo para mujer, cómodos y elegantes")
    assert to_record(fields)[contract.LANGUAGE] == "es"
    assert to_record(fields, detect_missing_language=False)[contract.LANGUAGE] == ""
    assert to_record(_with(language="zh-CN"))[contract.LANGUAGE] == "zh"


def test_numeric_features():
    record = to_record(_with(num_engagement_rate="0.25", num_clicks=3, num_empty="",
                             other="ignored"), numeric_features=["num_price"])
    assert record[NUMERIC] == {"num_engagement_rate": 0.25, "num_clicks": 3.0}
    assert "other" not in record
    with pytest.raises(ValueError):
        to_record(BASE, numeric_features=["price"])


def test_example_round_trip():
    record = to_record(_with(grade="5", description="Soft\nleather", board_titles=["Shoes"],
                             num_engagement_rate="0.5", query_id="q1"))
    example = record_to_example(record)
    features = example.features.feature
    for name in contract.SCALAR_STRING_FEATURES:
        assert len(features[name].bytes_list.value) == 1
    assert features["image_caption"].bytes_list.value == [b""]
    assert list(features["engaged_queries"].bytes_list.value) == []
    assert list(features[contract.GRADE].int64_list.value) == [5]
    assert list(features["num_engagement_rate"].float_list.value) == [0.5]
    assert example_to_record(example) == record

    unlabeled = to_record(BASE)
    example = record_to_example(unlabeled)
    assert contract.GRADE not in example.features.feature
    assert example_to_record(example) == unlabeled


@pytest.mark.parametrize("image", [{"image": "mug.png"}, {"image_bytes": "iVBORw0KGgo="}])
def test_image_only_items_are_accepted_only_when_captioning(image):
    fields = _with(title="", **image)
    error = _reason(fields)
    assert error.reason == "missing_item_text" and "--caption-images" in str(error)
    record = to_record(fields, image_only_items=True)
    assert not any(record[name] for name in contract.ITEM_TEXT_FIELDS)
    assert record[contract.IMAGE] or record[contract.IMAGE_BYTES]
    # No image, no text: rejected either way, and captioning would not help.
    error = _reason(_with(title=""), image_only_items=True)
    assert error.reason == "missing_item_text" and "--caption-images" not in str(error)


def test_preflight_passes_image_only_rows_when_captioning(tmp_path):
    from cli.staging import preflight

    from cli.main import _warn_if_teacher_misses_captions

    rows = [_with(item_id=f"i{n}", title="", image=f"img/{n}.png", grade=1 + n % 5)
            for n in range(3)]
    rows.append(_with(item_id="with-text", image="img/t.png", grade=2))
    path = _jsonl(tmp_path, "image_only.jsonl", rows)
    [without] = preflight([path], [], "auto", contract.DEFAULT_NUM_GRADES)
    assert (without.valid, without.reason_counts) == (1, {"missing_item_text": 3})
    with pytest.raises(InputError, match="--caption-images"):
        preflight([_jsonl(tmp_path, "only_images.jsonl", rows[:3])], [], "auto",
                  contract.DEFAULT_NUM_GRADES)
    checks = preflight([path], [], "auto", contract.DEFAULT_NUM_GRADES, caption_images=True)
    [check] = checks
    assert (check.rows, check.valid, check.labeled, check.image_only) == (4, 4, 4, 3)
    # A teacher that never sees the caption would score those 3 on their query alone.
    assert _warn_if_teacher_misses_captions(checks, ["title", "description"]) == 3
    assert _warn_if_teacher_misses_captions(checks, ["title", "image_caption"]) == 0
    assert _warn_if_teacher_misses_captions(checks, None) == 0  # default: every field


def test_record_error_pickles():
    error = pickle.loads(pickle.dumps(RecordError("bad_grade", "grade 'x' is not an integer")))
    assert error.reason == "bad_grade" and str(error) == "grade 'x' is not an integer"


def _jsonl(tmp_path, name, rows):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return str(path)


def test_check_input_file_counts_and_lists_bad_rows(tmp_path):
    rows = [_with(item_id=f"i{n}", grade=1 + n % 5) for n in range(6)]
    rows += [_with(query=""), _with(grade=9), _with(grade="")]
    check = check_input_file(_jsonl(tmp_path, "mixed.jsonl", rows), require_grades=True)
    assert isinstance(check, FileCheck)
    # As labeled input the ungraded row 9 is quarantined too (ExampleGen: missing_grade).
    assert (check.rows, check.valid, check.labeled) == (9, 6, 6)
    assert [(row, reason) for row, reason, _ in check.errors] == [
        (7, "missing_query"), (8, "grade_out_of_range"), (9, "missing_grade")]
    assert check.reason_counts == {"missing_query": 1, "grade_out_of_range": 1,
                                   "missing_grade": 1}
    assert check_input_file(check.path, max_errors_listed=1).errors == check.errors[:1]
    assert check_input_file(check.path).valid == 7  # grades optional: row 9 is fine


def test_check_input_file_no_valid_rows(tmp_path):
    rows = [_with(query="", item_id=f"i{n}") for n in range(8)]
    with pytest.raises(InputError) as caught:
        check_input_file(_jsonl(tmp_path, "allbad.jsonl", rows))
    message = str(caught.value)
    assert "allbad.jsonl" in message and "none of the 8 rows" in message
    assert message.count("  row ") == 5 and "row 1: the 'query' field" in message


def test_check_input_file_labeled_without_grades(tmp_path):
    rows = [_with(item_id=f"i{n}", label=3) for n in range(3)]
    path = _jsonl(tmp_path, "nogrades.jsonl", rows)
    with pytest.raises(InputError, match="nogrades.jsonl.*no grades.*'label' column"):
        check_input_file(path, require_grades=True)
    assert check_input_file(path, require_grades=False).labeled == 0
    assert check_input_file(path).valid == 3


@pytest.mark.parametrize("name,content", [("missing.csv", None), ("empty.csv", ""),
                                          ("wrong.csv", "a,b\n1,2\n")])
def test_check_input_file_file_level_errors(tmp_path, name, content):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=name):
        check_input_file(str(path))


def test_precomputed_embeddings_round_trip_and_bad_ones_are_rejected():
    row = {"query": "lamp", "item_id": "i1", "title": "Desk lamp", "language": "en",
           "item_embedding": [0.5, -0.25], "query_embedding": "[1, 0]"}
    record = to_record(row)
    assert record["item_embedding"] == [0.5, -0.25] and record["query_embedding"] == [1.0, 0.0]
    assert example_to_record(record_to_example(record)) == record
    assert to_record({**row, "item_embedding": None})["item_embedding"] == []
    for bad in (["a", 1.0], [float("nan")], "0.1 x"):
        with pytest.raises(RecordError) as raised:
            to_record({**row, "item_embedding": bad})
        assert raised.value.reason == "bad_embedding"
