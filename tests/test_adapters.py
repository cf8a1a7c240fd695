"""Public data set adapters on tiny fixtures written in each release's own layout."""

import json

import pandas as pd
import pytest

from relevance import contract
from relevance.adapters import ADAPTERS, load_records, read_adapter_rows
from relevance.adapters._text import clean_text
from relevance.errors import InputError
from relevance.records import to_record


def _canonical(records, num_grades):
    return [to_record(fields, num_grades) for fields in records]


def test_registry_names():
    assert sorted(ADAPTERS) == ["crowdflower", "esci", "wands", "xquad-r"]
    with pytest.raises(InputError, match="unknown data set format"):
        load_records("msmarco", "x")


def test_an_entry_marked_pipeline_input_is_a_run_format_and_read_by_the_readers(tmp_path):
    from cli.main import RUN_FORMATS
    from relevance.adapters import PIPELINE_INPUT_FORMATS
    from relevance.readers import read_rows

    assert set(PIPELINE_INPUT_FORMATS) == {n for n, a in ADAPTERS.items() if a.pipeline_input}
    assert set(PIPELINE_INPUT_FORMATS) <= set(RUN_FORMATS)
    assert not {"esci", "wands"} & set(RUN_FORMATS)  # directories of several files
    path = tmp_path / "train.csv"
    path.write_text(CROWDFLOWER_CSV, encoding="utf-8")
    rows = list(read_rows(str(path), "crowdflower"))
    assert [row.fields["query"] for row in rows] == ["light bulb", "decorative pillows"]


def test_clean_text_strips_markup_but_not_plain_angle_brackets():
    assert clean_text("<ul><li>Soft</li><li>Warm &amp; dry</li></ul>") == "Soft Warm & dry"
    assert clean_text("size < 5 and > 2") == "size < 5 and > 2"
    assert clean_text(float("nan")) == ""


# ---------------------------------------------------------------- crowdflower

CROWDFLOWER_CSV = (
    '"id","query","product_title","product_description","median_relevance","relevance_variance"\n'
    '7,"light bulb","LED Light Bulb","<p>Nickel base<br>60,000 hours</p>\n'
    'Dimmable",2,0.471\n'
    '32,"decorative pillows","Surya Pillow 18""","",4,0\n'
)


def test_crowdflower(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(CROWDFLOWER_CSV)
    records, num_grades = load_records("crowdflower", str(path))
    records = _canonical(records, num_grades)
    assert num_grades == 4
    assert [r["grade"] for r in records] == [2, 4]
    assert records[0]["item_id"] == "7" and records[0]["query"] == "light bulb"
    assert records[0]["description"] == "Nickel base 60,000 hours Dimmable"
    assert records[1]["title"] == 'Surya Pillow 18"'
    assert {r["language"] for r in records} == {"en"}


def test_crowdflower_test_file_is_unlabeled(tmp_path):
    path = tmp_path / "test.csv"
    path.write_text('"id","query","product_title","product_description"\n3,"rug","Wool rug",""\n')
    records, num_grades = load_records("crowdflower", str(path))
    assert [r["grade"] for r in _canonical(records, num_grades)] == [None]


def test_crowdflower_missing_column_names_file(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("id,q,title\n1,a,b\n")
    with pytest.raises(InputError, match="other.csv"):
        load_records("crowdflower", str(path))


# ---------------------------------------------------------------- xquad-r

def _xquad(question, sentences, answer_sentence):
    context, breaks, position = "", [], 0
    for sentence in sentences:
        breaks.append([position, position + len(sentence)])
        context += sentence + " "
        position += len(sentence) + 1
    answer_start = breaks[answer_sentence][0] + 2
    return {"version": "1.1", "data": [{"title": "T", "paragraphs": [{
        "context": context.strip(), "sentences": sentences, "sentence_breaks": breaks,
        "qas": [{"id": "q1", "question": question,
                 "answers": [{"answer_start": answer_start, "text": "x"}]}],
    }]}]}


def test_xquad_r_file_and_directory(tmp_path):
    (tmp_path / "en.json").write_text(json.dumps(
        _xquad("Who won?", ["It rained.", "The Broncos won.", "Fans cheered."], 1)))
    (tmp_path / "de.json").write_text(json.dumps(
        _xquad("Wer gewann?", ["Die Broncos gewannen.", "Es regnete."], 0)))
    records, num_grades = load_records("xquad-r", str(tmp_path / "en.json"))
    records = _canonical(records, num_grades)
    assert num_grades == 2
    assert [(r["title"], r["grade"]) for r in records] == [
        ("It rained.", 1), ("The Broncos won.", 2), ("Fans cheered.", 1)]
    assert {r["query_id"] for r in records} == {"q1-en"}
    assert {r["language"] for r in records} == {"en"}
    assert len({r["item_id"] for r in records}) == 3

    records, num_grades = load_records("xquad-r", str(tmp_path))
    records = _canonical(records, num_grades)
    assert {r["language"] for r in records} == {"en", "de"}
    assert {r["query_id"] for r in records} == {"q1-en", "q1-de"}


def test_xquad_r_options(tmp_path):
    path = tmp_path / "questions.json"
    path.write_text(json.dumps(_xquad("¿Quién?", ["Uno.", "Dos."], 0)))
    with pytest.raises(InputError, match="language"):
        load_records("xquad-r", str(path))
    records, num_grades = load_records("xquad-r", str(path), language="es", num_grades="5")
    records = _canonical(records, num_grades)
    assert num_grades == 5
    assert [r["grade"] for r in records] == [5, 1]
    assert records[0]["language"] == "es"
    bad = tmp_path / "zh.json"
    bad.write_text('{"not": "squad"}')
    with pytest.raises(InputError, match="zh.json"):
        load_records("xquad-r", str(bad))


# ---------------------------------------------------------------- esci

def test_esci(tmp_path):
    pd.DataFrame({
        "example_id": [0, 1, 2, 3, 4],
        "query": ["lamp", "lamp", "lamp", "lámpara", "ランプ"],
        "query_id": [10, 10, 10, 20, 30],
        "product_id": ["A1", "A2", "A3", "B1", "A1"],
        "product_locale": ["us", "us", "us", "es", "jp"],
        "esci_label": ["E", "S", "I", "C", "E"],
        "small_version": [1, 1, 0, 1, 1],
        "large_version": [1, 1, 1, 1, 1],
        "split": ["test", "test", "train", "test", "test"],
    }).to_parquet(tmp_path / "shopping_queries_dataset_examples.parquet")
    pd.DataFrame({
        "product_id": ["A1", "A2", "A3", "B1", "A1"],
        "product_title": ["Desk lamp", "Floor lamp", "Sofa", "Lámpara", "デスクランプ"],
        "product_description": ["<b>Bright</b>", None, "", "Roja", None],
        "product_bullet_point": ["LED", "", None, None, "明るい"],
        "product_brand": ["Acme", "Lux", None, "Luz", "アクメ"],
        "product_color": ["red", None, None, "rojo", None],
        "product_locale": ["us", "us", "us", "es", "jp"],
    }).to_parquet(tmp_path / "shopping_queries_dataset_products.parquet")

    records, num_grades = load_records("esci", str(tmp_path))
    records = _canonical(records, num_grades)
    assert num_grades == 4
    assert [r["grade"] for r in records] == [4, 3, 1, 2, 4]
    assert [r["language"] for r in records] == ["en", "en", "en", "es", "ja"]
    # Joined on (locale, product id): A1 differs between us and jp.
    assert records[0]["title"] == "Desk lamp" and records[4]["title"] == "デスクランプ"
    assert records[0]["description"] == "Bright LED Acme red"
    assert records[0]["query_id"] == "10" and records[0]["item_id"] == "A1"

    records, _ = load_records("esci", str(tmp_path), split="test", locales="us,es",
                              small_version="true")
    assert [r["grade"] for r in records] == [4, 3, 2]

    with pytest.raises(InputError, match="shopping_queries_dataset_products.parquet"):
        (tmp_path / "shopping_queries_dataset_products.parquet").unlink()
        load_records("esci", str(tmp_path))


# ---------------------------------------------------------------- wands

def test_wands_tab_separated(tmp_path):
    (tmp_path / "query.csv").write_text(
        "query_id\tquery\tquery_class\n0\tsalon chair\tMassage Chairs\n1\tsmart coffee table\tCoffee Tables\n")
    (tmp_path / "product.csv").write_text(
        "product_id\tproduct_name\tproduct_class\tcategory hierarchy\tproduct_description\t"
        "product_features\trating_count\taverage_rating\treview_count\n"
        "100\tsalon chair pro\tMassage Chairs\tFurniture / Chairs\tA chair.\t"
        "color:black|material:leather\t15\t4.5\t15\n"
        "101\toak coffee table\tCoffee Tables\tFurniture / Tables\t\t\t\t\t\n")
    (tmp_path / "label.csv").write_text(
        "id\tquery_id\tproduct_id\tlabel\n0\t0\t100\tExact\n1\t0\t101\tIrrelevant\n"
        "2\t1\t101\tPartial\n3\t1\t999\tExact\n")
    records, num_grades = load_records("wands", str(tmp_path))
    records = _canonical(records, num_grades)
    assert num_grades == 3
    assert [(r["query_id"], r["item_id"], r["grade"]) for r in records] == [
        ("0", "100", 3), ("0", "101", 1), ("1", "101", 2)]  # unknown product 999 skipped
    assert records[0]["description"] == "A chair. color: black; material: leather"
    assert records[0]["board_titles"] == ["Massage Chairs", "Furniture / Chairs"]
    assert {r["language"] for r in records} == {"en"}
    assert records[0][contract.QUERY] == "salon chair"


def test_wands_bad_label_and_missing_dir(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        load_records("wands", str(tmp_path / "nowhere"))
    (tmp_path / "query.csv").write_text("query_id,query\n0,chair\n")
    (tmp_path / "product.csv").write_text("product_id,product_name\n1,chair\n")
    (tmp_path / "label.csv").write_text("id,query_id,product_id,label\n0,0,1,Maybe\n")
    # A label the data set does not define is a quarantined row, not a stopped read.
    rows, _ = read_adapter_rows("wands", str(tmp_path))
    [row] = list(rows)
    assert row.fields is None and row.reason == "bad_grade" and "'Maybe'" in row.error
    records, _ = load_records("wands", str(tmp_path))
    assert list(records) == []
