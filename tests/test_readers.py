"""Readers: CSV / JSONL / TFRecord rows, list cells and every file-level InputError."""

import gzip
import json

import pytest

from relevance import contract
from relevance.errors import InputError
from relevance.readers import FORMATS, RawRow, read_rows, resolve_format
from relevance.record_parsing import parse_list_cell
from relevance.records import record_to_example, to_record
from support.examples import write_tfrecord

CSV_TEXT = (
    "query,item_id,title,description,engaged_queries,board_titles,grade\n"
    'red shoes,i1,Red shoes,"Line one,\nline two",'
    '"[""red shoes"", ""shoes""]",Shoes | Red things,5\n'
    "\n"  # a blank line is not a row
    "blue lamp,i2,Blue lamp,,,,\n"
)


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return str(path)


def _write_tfrecord(path, serialized, gzip_compressed=False):
    return write_tfrecord(path, serialized, "GZIP" if gzip_compressed else "")


def _example(query="red shoes", item_id="i1", grade=4):
    fields = {"query": query, "item_id": item_id, "title": "Red shoes", "grade": grade,
              "board_titles": ["a", "b"], "language": "en"}
    return record_to_example(to_record(fields)).SerializeToString()


@pytest.mark.parametrize(
    "path,expected",
    [("a.csv", "csv"), ("a.JSONL", "jsonl"), ("a.json", "jsonl"), ("a.ndjson", "jsonl"),
     ("a.tfrecord", "tfrecord"), ("a.tfrecords", "tfrecord"), ("gs://b/a.tfrecord.gz", "tfrecord")],
)
def test_resolve_format_from_extension(path, expected):
    assert resolve_format(path) == expected
    assert expected in FORMATS


def test_resolve_format_explicit_and_unknown():
    assert resolve_format("data.txt", "CSV") == "csv"
    with pytest.raises(InputError, match="data.txt"):
        resolve_format("data.txt")
    with pytest.raises(InputError, match="data.txt"):
        resolve_format("data.txt", "parquet")


def test_csv_multiline_field_lists_and_row_numbers(tmp_path):
    rows = list(read_rows(_write(tmp_path / "in.csv", CSV_TEXT)))
    assert [row.row_number for row in rows] == [1, 2]
    assert all(isinstance(row, RawRow) and row.error is None for row in rows)
    first, second = (row.fields for row in rows)
    assert first["description"] == "Line one,\nline two"
    assert first["engaged_queries"] == ["red shoes", "shoes"]
    assert first["board_titles"] == ["Shoes", "Red things"]
    assert first["grade"] == "5"
    assert second["engaged_queries"] == [] and second["grade"] == ""
    assert rows[0].source.endswith("in.csv")


def test_csv_with_bom_and_crlf(tmp_path):
    path = _write(tmp_path / "bom.csv", "\ufeffquery,item_id,title\r\nlamp,i1,Desk lamp\r\n")
    (row,) = read_rows(path)
    assert row.fields == {"query": "lamp", "item_id": "i1", "title": "Desk lamp"}


def test_csv_row_with_extra_cells_is_an_unparseable_row(tmp_path):
    path = _write(tmp_path / "x.csv", "query,item_id,title\nlamp,i1,Desk lamp,oops\n")
    (row,) = read_rows(path)
    assert row.fields is None and "cells" in row.error


def test_parse_list_cell_variants():
    assert parse_list_cell('["a", " b ", ""]') == ["a", "b"]
    assert parse_list_cell("a | b |  ") == ["a", "b"]
    assert parse_list_cell("[NEW] lamp | desk lamp") == ["[NEW] lamp", "desk lamp"]
    assert parse_list_cell("") == [] and parse_list_cell(None) == []
    assert parse_list_cell(["x", None, 3]) == ["x", "3"]


def test_jsonl_rows_blank_lines_and_bad_lines(tmp_path):
    lines = [
        json.dumps({"query": "lamp", "item_id": "i1", "engaged_queries": "desk lamp"}),
        "",
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"query": "ランプ", "item_id": "i2", "board_titles": ["照明"]}, ensure_ascii=False),
    ]
    rows = list(read_rows(_write(tmp_path / "in.jsonl", "\n".join(lines) + "\n")))
    assert [row.row_number for row in rows] == [1, 3, 4, 5]
    assert rows[0].fields["engaged_queries"] == ["desk lamp"]  # plain string: one entry
    assert rows[1].fields is None and "not valid JSON" in rows[1].error
    assert rows[2].fields is None and "not an object" in rows[2].error
    assert rows[3].fields["board_titles"] == ["照明"]


@pytest.mark.parametrize("gzip_compressed,name", [(False, "in.tfrecord"), (True, "in.tfrecord.gz")])
def test_tfrecord_plain_and_gzip(tmp_path, gzip_compressed, name):
    path = _write_tfrecord(tmp_path / name, [_example(), b"\xff\xffnot a proto"], gzip_compressed)
    first, second = read_rows(path)
    assert first.fields["query"] == "red shoes"
    assert first.fields["grade"] == 4
    assert first.fields["board_titles"] == ["a", "b"]
    assert first.fields["description"] == ""
    assert first.fields["engaged_queries"] == []
    assert second.fields is None and "tf.Example" in second.error


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="nope.csv.*not found"):
        read_rows(str(tmp_path / "nope.csv"))


@pytest.mark.parametrize("name", ["empty.csv", "empty.jsonl", "empty.tfrecord"])
def test_zero_byte_file(tmp_path, name):
    with pytest.raises(InputError, match=f"{name}.*empty"):
        read_rows(_write(tmp_path / name, ""))


@pytest.mark.parametrize(
    "name,text,message",
    [
        ("header_only.csv", "query,item_id,title\n", "no data rows"),
        ("blank.jsonl", "\n\n  \n", "blank"),
    ],
)
def test_no_data_rows(tmp_path, name, text, message):
    with pytest.raises(InputError, match=f"{name}.*{message}"):
        read_rows(_write(tmp_path / name, text))


def test_empty_tfrecord_without_records(tmp_path):
    path = tmp_path / "none.tfrecord.gz"
    path.write_bytes(gzip.compress(b""))
    with pytest.raises(InputError, match="none.tfrecord.gz.*no records"):
        read_rows(str(path))


def test_csv_without_query_column(tmp_path):
    path = _write(tmp_path / "wrong.csv", "search,item_id\nlamp,i1\n")
    with pytest.raises(InputError, match="wrong.csv.*no 'query' column.*'search'"):
        read_rows(path)


def test_jsonl_that_is_a_json_array(tmp_path):
    path = _write(tmp_path / "array.jsonl", json.dumps([{"query": "lamp"}], indent=1))
    with pytest.raises(InputError, match="array.jsonl.*not a JSON object"):
        read_rows(path)


def test_csv_that_is_really_jsonl(tmp_path):
    path = _write(tmp_path / "actually.csv", json.dumps({"query": "lamp", "item_id": "i"}) + "\n")
    with pytest.raises(InputError, match="actually.csv"):
        read_rows(path)


def test_tfrecord_that_is_not_tfrecord(tmp_path):
    path = _write(tmp_path / "fake.tfrecord", "query,item_id\nlamp,i1\n")
    with pytest.raises(InputError, match="fake.tfrecord.*not a readable TFRecord"):
        read_rows(path)


def test_binary_file_named_csv(tmp_path):
    path = _write_tfrecord(tmp_path / "binary.csv", [_example()], gzip_compressed=True)
    with pytest.raises(InputError, match="binary.csv"):
        read_rows(path)


def test_list_field_constants_are_used():
    # Guards the reader against contract drift: list parsing keys off the contract.
    assert set(contract.LIST_STRING_FEATURES) == {"engaged_queries", "board_titles"}


def test_public_data_set_files_read_through_their_adapter(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(
        "id,query,product_title,product_description,median_relevance,relevance_variance\n"
        '1,red shoes,Red leather shoes,"<p>Soft</p>",4,0.0\n'
        "2,red shoes,Blue lamp,,1,0.5\n",
        encoding="utf-8",
    )
    rows = list(read_rows(str(path), "crowdflower"))
    assert [r.row_number for r in rows] == [1, 2]
    assert rows[0].fields["title"] == "Red leather shoes" and rows[0].fields["grade"] == 4
    assert rows[1].fields["grade"] == 1 and all(r.error is None for r in rows)
