"""Issue 19, problems 1-6: bad flags and bad input files get a one-line error (exit 2)
before any work, or are quarantined and counted; nothing is merged or lost silently."""

import json

import pytest

from cli import main as cli
from relevance.errors import InputError
from relevance.readers import read_rows
from cli.staging import preflight

ROW = {"query": "red lamp", "item_id": "i1", "title": "Red desk lamp", "language": "en"}


def _run(argv, capsys):
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(code, err, flag):
    assert code == cli.EXIT_USER_ERROR, err
    assert err.startswith("error: ") and flag in err.splitlines()[0], err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def _labeled_rows(count=12):
    return [dict(ROW, query=f"lamp {n % 4}", item_id=f"i{n}", grade=1 + n % 5)
            for n in range(count)]


def _csv_with_unclosed_quote(path, rows=40, bad_row=10):
    lines = ["query,item_id,title,grade"]
    for n in range(1, rows + 1):
        title = '"Lamp 10, oak' if n == bad_row else f"Lamp {n}"
        lines.append(f"lamp {n % 3},i{n},{title},{1 + n % 5}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------- 1: CSV quoting


def test_unclosed_quote_stops_the_csv_with_its_line(tmp_path):
    path = _csv_with_unclosed_quote(tmp_path / "labeled.csv")
    with pytest.raises(InputError) as caught:
        list(read_rows(path))
    # Data row 10 is line 11 (the header is line 1); rows 10-40 are not one title.
    assert "labeled.csv" in str(caught.value) and "line 11" in str(caught.value)
    with pytest.raises(InputError, match="line 11"):
        preflight([path], [], "auto", 5)


def test_merged_rows_mid_file_are_quarantined_with_their_lines(tmp_path):
    # A stray quote in row 3 is closed by the quote of row 60: 58 rows merged into one.
    lines = ["query,item_id,title,grade"]
    lines += [f"lamp,i{n},Lamp {n},3" for n in range(1, 3)]
    lines.append('lamp,i3,"Lamp 3 oak,3')
    lines += [f"lamp,i{n},Lamp {n},3" for n in range(4, 60)]
    lines.append('lamp,i60,Lamp 60",3')
    lines += [f"lamp,i{n},Lamp {n},3" for n in range(61, 64)]
    path = tmp_path / "merged.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = list(read_rows(str(path)))
    bad = [row for row in rows if row.error]
    assert len(bad) == 1 and bad[0].reason == "implausible_field"
    assert "lines 4-" in bad[0].error and "'title'" in bad[0].error
    [check] = preflight([str(path)], [], "auto", 5)
    assert check.reason_counts == {"implausible_field": 1}


def test_evaluate_stops_on_an_unclosed_quote(tmp_path, capsys):
    data = _csv_with_unclosed_quote(tmp_path / "eval.csv")
    train = _jsonl(tmp_path / "train.jsonl", _labeled_rows())
    code, _, err = _run(["evaluate", "--data", data, "--baseline-train", train,
                         "--output", str(tmp_path / "out")], capsys)
    assert code == cli.EXIT_USER_ERROR and "eval.csv" in err and "line 11" in err
    # Only the log (its path is in the error) may be there: no report, no metrics.
    written = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")}
    assert written <= {"logs", "logs/evaluate.log"}


# ---------------------------------------------------------------- 2: flags up front


@pytest.mark.parametrize("flags, flag", [
    (["--num-grades", "1"], "--num-grades"),
    (["--num-grades", "1000"], "--num-grades"),
    (["--confidence-threshold", "1.5"], "--confidence-threshold"),
    (["--pseudo-eval-percent", "-5"], "--pseudo-eval-percent"),
    (["--eval-percent", "150"], "--eval-percent"),
    (["--eval-percent", "nan"], "--eval-percent"),
    (["--teacher-epochs", "-1"], "--teacher-epochs"),
    (["--student-epochs", "0"], "--student-epochs"),
    (["--teacher-batch-size", "0"], "--teacher-batch-size"),
    (["--caption-batch-size", "0"], "--caption-batch-size"),
])
def test_model_flags_out_of_range_stop_before_any_work(tmp_path, capsys, flags, flag):
    output = tmp_path / "pipeline.json"
    code, _, err = _run(["compile", "--runner", "kubeflow", "--output", str(output), *flags],
                        capsys)
    _assert_one_line_error(code, err, flag)
    assert not output.exists()


def test_a_workdir_that_is_a_file_stops_the_run(tmp_path, capsys):
    labeled = _jsonl(tmp_path / "labeled.jsonl", _labeled_rows())
    workdir = tmp_path / "workdir"
    workdir.write_text("not a directory")
    code, _, err = _run(["run", "--labeled", labeled, "--unlabeled", labeled,
                         "--workdir", str(workdir), "--teacher-preset", "from-scratch"], capsys)
    _assert_one_line_error(code, err, "--workdir")


# ---------------------------------------------------------------- 3 and 4: grades


def test_unlabeled_grades_are_ignored_by_the_input_check(tmp_path):
    labeled = _jsonl(tmp_path / "labeled.jsonl", _labeled_rows())
    unlabeled = _jsonl(tmp_path / "unlabeled.jsonl",
                       [dict(ROW, item_id="u1", grade="very good"), dict(ROW, item_id="u2", grade=9),
                        dict(ROW, item_id="u3", grade=0)])
    _, check = preflight([labeled], [unlabeled], "auto", 5)
    assert (check.rows, check.valid, check.labeled, check.reason_counts) == (3, 3, 0, {})


def test_the_forecast_counts_labeled_rows_without_a_grade(tmp_path):
    path = tmp_path / "labeled.jsonl"
    rows = [json.dumps(row) for row in _labeled_rows()]
    rows += ['{"query": "q", "item_id": "n1", "title": "t", "grade": null}',
             '{"query": "q", "item_id": "n2", "title": "t", "grade": ""}',
             '{"query": "q", "item_id": "n3", "title": "t", "grade": NaN}']
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    [check] = preflight([str(path)], [], "auto", 5)
    assert check.rows - check.valid == 3 and check.reason_counts == {"missing_grade": 3}


# ---------------------------------------------------------------- 5: evaluate


def test_evaluate_checks_output_and_batch_size_before_scoring(tmp_path, capsys):
    data = _jsonl(tmp_path / "eval.jsonl", _labeled_rows())
    taken = tmp_path / "report.md"
    taken.write_text("an existing file")
    code, _, err = _run(["evaluate", "--data", data, "--baseline-train", data,
                         "--output", str(taken)], capsys)
    _assert_one_line_error(code, err, "--output")
    assert taken.read_text() == "an existing file"
    for size in ("0", "-3"):
        code, _, err = _run(["evaluate", "--data", data, "--baseline-train", data,
                             "--output", str(tmp_path / "out"), "--batch-size", size], capsys)
        _assert_one_line_error(code, err, "--batch-size")


def test_evaluate_an_empty_data_directory_says_so(tmp_path, capsys):
    empty = tmp_path / "eval_data"
    empty.mkdir()
    train = _jsonl(tmp_path / "train.jsonl", _labeled_rows())
    code, _, err = _run(["evaluate", "--data", str(empty), "--baseline-train", train,
                         "--output", str(tmp_path / "out")], capsys)
    assert code == cli.EXIT_USER_ERROR and "no input files" in err and "eval_data" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------- 6: score


@pytest.mark.parametrize("flags, flag", [
    (["--query", "  "], "--query"),
    (["--batch-size", "0"], "--batch-size"),
    (["--tls-ca", "missing-ca.pem"], "--tls-ca"),
    (["--server", "localhost"], "--server"),
])
def test_score_flags_are_checked_before_connecting(tmp_path, capsys, flags, flag):
    candidates = _jsonl(tmp_path / "items.jsonl", [{"title": "Red desk lamp"}])
    argv = {"--server": "127.0.0.1:9", "--model-name": "m", "--query": "lamp",
            "--candidates": candidates}
    argv.update(dict(zip(flags[::2], flags[1::2])))
    if flag == "--tls-ca":
        argv[flag] = str(tmp_path / flags[1])
    code, _, err = _run(["score", *[part for pair in argv.items() for part in pair]], capsys)
    _assert_one_line_error(code, err, flag)
