"""Issue 38, cases 1-4 and 12: bad values in the public data-set files go through the one
row validation (quarantined with a reason, counted the same in `run`'s forecast, in
ExampleGen and in `evaluate`), whole-file problems stop with one line (exit 2), and a
labeled input with a single query stops before any work."""

import json
import os
import random

import pytest

from cli import main as cli
from cli.staging import preflight, require_two_labeled_queries
from evaluation.evaluate import load_labeled_records
from relevance.errors import InputError
from relevance.readers import read_rows
from relevance.row_validation import LABELED, validate_row

HEADER = '"id","query","product_title","product_description","median_relevance","relevance_variance"\n'


def _crowdflower(path, grades=None, rows=12, body=None):
    """A CrowdFlower train.csv with `rows` rows; `grades` overrides row n's grade."""
    grades = grades or {}
    lines = [HEADER]
    for n in range(1, rows + 1):
        grade = grades.get(n, str(1 + n % 4))
        lines.append(f'{n},"lamp {n % 3}","Desk lamp {n}","<p>Oak</p>",{grade},0.5\n')
    path.write_text(body if body is not None else "".join(lines), encoding="utf-8")
    return str(path)


def _run(argv, capsys):
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line(code, err, name):
    assert code == cli.EXIT_USER_ERROR, err
    assert err.startswith("error: ") and name in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


# ---------------------------------------------------------------- 1 and 3: bad values


@pytest.mark.parametrize("grade, reason", [
    ("abc", "bad_grade"), ("NaN", "missing_grade"), ("2.5", "bad_grade"), ("7", "grade_out_of_range"),
])
def test_crowdflower_bad_grades_are_quarantined_with_a_reason(tmp_path, grade, reason):
    path = _crowdflower(tmp_path / "train.csv", {3: grade})
    [check] = preflight([path], [], "crowdflower", 4)
    assert (check.rows, check.valid, check.reason_counts) == (12, 11, {reason: 1})
    # evaluate reads the same rows through the same validation: 11 pairs scored.
    records, num_grades = load_labeled_records(path, "crowdflower", None)
    assert num_grades == 4 and len(records) == 11
    assert all(isinstance(record["grade"], int) for record in records)


def test_a_crowdflower_grade_of_2_5_is_not_truncated(tmp_path):
    path = _crowdflower(tmp_path / "train.csv", {1: "2.5"})
    rows = list(read_rows(path, "crowdflower"))
    with pytest.raises(Exception, match="2.5"):
        validate_row(rows[0], LABELED, 4)


@pytest.mark.parametrize("content", [
    pytest.param(HEADER.encode("utf-8") + '1,"lámpara","Lámpara","",2,0\n'.encode("latin-1"),
                 id="latin-1"),
    pytest.param(random.Random(38).randbytes(4096), id="random-bytes"),
])
def test_crowdflower_files_that_are_not_utf8_csv_stop_with_one_line(tmp_path, capsys, content):
    path = tmp_path / "train.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match="train.csv"):
        preflight([str(path)], [], "crowdflower", 4)
    code, _, err = _run(["evaluate", "--data", str(path), "--format", "crowdflower",
                         "--baseline-train", str(path), "--output", str(tmp_path / "out")],
                        capsys)
    _one_line(code, err, "train.csv")


# ---------------------------------------------------------------- 2: unclosed quote


def test_crowdflower_unclosed_quote_stops_run_and_evaluate(tmp_path, capsys):
    lines = [HEADER]
    for n in range(1, 41):  # the probe's file: "10 rows, 9 valid" before the fix
        title = '"Lamp 10, oak' if n == 10 else f"Lamp {n}"
        lines.append(f"{n},lamp {n % 3},{title},,{1 + n % 4},0\n")
    path = _crowdflower(tmp_path / "train.csv", body="".join(lines))
    with pytest.raises(InputError, match="line 11"):
        preflight([path], [], "crowdflower", 4)
    code, _, err = _run(["run", "--format", "crowdflower", "--labeled", path,
                         "--unlabeled", path, "--workdir", str(tmp_path / "run"),
                         "--teacher-preset", "from-scratch"], capsys)
    _one_line(code, err, "line 11")
    code, _, err = _run(["evaluate", "--data", path, "--format", "crowdflower",
                         "--baseline-train", path, "--output", str(tmp_path / "out")], capsys)
    _one_line(code, err, "line 11")


def test_crowdflower_rows_merged_by_a_stray_quote_are_quarantined(tmp_path):
    # Row 3's quote is closed by row 30's: 28 rows merged into one title.
    lines = [HEADER]
    for n in range(1, 41):
        title = f'"Lamp {n}' if n == 3 else (f'Lamp {n}"' if n == 30 else f"Lamp {n}")
        lines.append(f'{n},lamp,{title} {"x" * 40},"",2,0\n')
    path = _crowdflower(tmp_path / "train.csv", body="".join(lines))
    [check] = preflight([path], [], "crowdflower", 4)
    assert check.reason_counts == {"implausible_field": 1}
    assert check.rows == check.valid + 1 == 13


# ---------------------------------------------------------------- 1 and 4: XQuAD-R


def _paragraph(sentences=3, breaks=None, answer_start=2):
    texts = [f"Sentence {n} here." for n in range(sentences)]
    spans, position = [], 0
    for text in texts:
        spans.append([position, position + len(text)])
        position += len(text) + 1
    return {"context": " ".join(texts), "sentences": texts,
            "sentence_breaks": spans[:breaks] if breaks is not None else spans,
            "qas": [{"id": "q1", "question": "Which sentence?",
                     "answers": [{"answer_start": answer_start, "text": "x"}]}]}


def _xquad(path, *paragraphs):
    path.write_text(json.dumps({"data": [{"title": "T", "paragraphs": list(paragraphs)}]}))
    return str(path)


def test_xquad_r_paragraph_without_sentences_is_quarantined(tmp_path):
    broken = _paragraph()
    del broken["sentences"]
    path = _xquad(tmp_path / "en.json", _paragraph(), broken)
    [check] = preflight([path], [], "xquad-r", 2)
    assert (check.rows, check.valid, check.reason_counts) == (4, 3, {"unparseable_row": 1})
    assert "'sentences'" in check.errors[0][2]


def test_xquad_r_string_answer_start_is_quarantined(tmp_path):
    path = _xquad(tmp_path / "en.json", _paragraph(), _paragraph(answer_start="2"))
    [check] = preflight([path], [], "xquad-r", 2)
    assert (check.rows, check.valid, check.reason_counts) == (6, 3, {"unparseable_row": 3})
    assert "answer_start '2'" in check.errors[0][2]
    records, _ = load_labeled_records(path, "xquad-r", None)
    assert len(records) == 3


def test_xquad_r_sentences_without_breaks_are_counted(tmp_path):
    path = _xquad(tmp_path / "en.json", _paragraph(sentences=64, breaks=60))
    [check] = preflight([path], [], "xquad-r", 2)
    assert (check.rows, check.valid, check.reason_counts) == (64, 60, {"unparseable_row": 4})
    assert "64 sentences, 60 breaks" in check.errors[0][2]


def test_xquad_r_that_is_not_squad_stops_with_one_line(tmp_path, capsys):
    path = tmp_path / "en.json"
    path.write_text(json.dumps({"data": [{"title": "T", "paragraphs": 3}]}))
    code, _, err = _run(["evaluate", "--data", str(path), "--format", "xquad-r",
                         "--baseline-train", str(path), "--output", str(tmp_path / "out")],
                        capsys)
    _one_line(code, err, "en.json")


# ---------------------------------------------------------------- 12: one query


def test_labels_with_a_single_query_stop_before_any_work(tmp_path, capsys):
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text("".join(json.dumps({
        "query": "red lamp", "item_id": f"i{n}", "title": f"Lamp {n}", "language": "en",
        "grade": 1 + n % 5}) + "\n" for n in range(30)))
    with pytest.raises(InputError, match="2 queries"):
        require_two_labeled_queries(preflight([str(labeled)], [str(labeled)], "auto", 5))
    workdir = tmp_path / "run"
    code, _, err = _run(["run", "--labeled", str(labeled), "--unlabeled", str(labeled),
                         "--workdir", str(workdir), "--teacher-preset", "from-scratch"], capsys)
    _one_line(code, err, "labeled.jsonl")
    assert not os.path.exists(workdir / "pipeline")


# ---------------------------------------------------------------- forecast = ExampleGen = evaluate


def test_forecast_example_gen_and_evaluate_count_crowdflower_rows_alike(tmp_path):
    from components.example_gen.executor import read_ingest_counts
    from components.example_gen.options import ExampleGenOptions
    from support.example_gen_run import run_example_gen

    base = tmp_path / "inputs"
    (base / "labeled").mkdir(parents=True)
    (base / "unlabeled").mkdir()
    bad = {2: "abc", 5: "2.5", 7: "NaN", 9: "9"}
    labeled = _crowdflower(base / "labeled" / "train.csv", bad, rows=20)
    unlabeled = _crowdflower(base / "unlabeled" / "test.csv", {1: "abc"}, rows=6)
    checks = preflight([labeled], [unlabeled], "crowdflower", 4)

    examples = run_example_gen(base, ExampleGenOptions(input_format="crowdflower", num_grades=4),
                               tmp_path / "out")
    counts = read_ingest_counts(examples.uri)

    forecast = {"bad_grade": 2, "missing_grade": 1, "grade_out_of_range": 1}
    assert checks[0].reason_counts == forecast and checks[1].reason_counts == {}
    assert counts["quarantined_by_reason"] == forecast
    assert (counts["labeled_in"], counts["unlabeled_in"]) == (20, 6)
    assert counts["labeled_in"] + counts["unlabeled_in"] == (
        sum(counts["out"].values()) + counts["quarantined"])
    records, _ = load_labeled_records(labeled, "crowdflower", None)
    assert len(records) == counts["out"]["train"] + counts["out"]["eval"] == 16
