"""Demo data: deterministic, multilingual, valid against the contract and learnable."""

import collections
import json

import pytest

from relevance import contract
from demo.data import LEXICON, NUM_ENGAGEMENT_RATE, write_demo_data
from relevance.language import detect_language
from relevance.readers import read_rows
from relevance.records import to_record
from relevance.row_validation import check_input_file

NUM_LABELED = 400
NUM_UNLABELED = 420


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("demo")
    paths = write_demo_data(str(out_dir), NUM_LABELED, NUM_UNLABELED, seed=3)
    labeled = [to_record(row.fields, detect_missing_language=False)
               for row in read_rows(paths["labeled"])]
    unlabeled = [to_record(row.fields, detect_missing_language=False)
                 for row in read_rows(paths["unlabeled"])]
    return paths, labeled, unlabeled


def _by_query(records):
    groups = collections.defaultdict(list)
    for record in records:
        groups[record[contract.QUERY_ID]].append(record)
    return groups


def test_same_seed_gives_byte_identical_files(tmp_path):
    first = write_demo_data(str(tmp_path / "a"), 60, 80, seed=5)
    second = write_demo_data(str(tmp_path / "b"), 60, 80, seed=5)
    other = write_demo_data(str(tmp_path / "c"), 60, 80, seed=6)
    for key in ("labeled", "unlabeled"):
        with open(first[key], "rb") as a, open(second[key], "rb") as b, open(other[key], "rb") as c:
            content = a.read()
            assert content == b.read()
            assert content != c.read()
    assert first["labeled"].endswith("labeled.jsonl")
    assert first["unlabeled"].endswith("unlabeled.csv")


def test_files_pass_the_input_check(demo):
    paths, _, _ = demo
    labeled = check_input_file(paths["labeled"], require_grades=True)
    unlabeled = check_input_file(paths["unlabeled"], require_grades=False)
    assert (labeled.rows, labeled.valid, labeled.labeled) == (NUM_LABELED,) * 3
    assert (unlabeled.rows, unlabeled.valid, unlabeled.labeled) == (NUM_UNLABELED, NUM_UNLABELED, 0)


def test_labeled_queries_are_english_only(demo):
    _, labeled, _ = demo
    english_words = {word for key in ("category", "colour", "material")
                     for phrase in LEXICON["en"][key] for word in phrase.split()}
    for record in labeled:
        assert set(record[contract.QUERY].split()) <= english_words
        assert record[contract.LANGUAGE] in ("", "en")


def test_unlabeled_covers_languages_and_scripts(demo):
    _, _, unlabeled = demo
    detected = collections.Counter()
    for rows in _by_query(unlabeled).values():
        row = next((r for r in rows if r["description"]), rows[0])
        detected[detect_language(" ".join((row["query"], row["title"], row["description"])))] += 1
    assert set(detected) >= {"en", "es", "de", "fr", "ru", "ja", "zh"}
    text = "".join(record["title"] + record[contract.QUERY] for record in unlabeled)
    assert any("\u0400" <= char <= "\u04ff" for char in text)  # Cyrillic
    assert any("\u4e00" <= char <= "\u9fff" for char in text)  # CJK
    assert any(record[contract.LANGUAGE] for record in unlabeled)  # a few explicit languages
    assert sum(not record[contract.LANGUAGE] for record in unlabeled) > NUM_UNLABELED / 2


def test_every_field_is_exercised(demo):
    paths, labeled, unlabeled = demo
    for records in (labeled, unlabeled):
        for name in contract.ITEM_TEXT_FIELDS:
            assert any(record[name] for record in records), name
            assert any(not record[name] for record in records), name  # some rows leave it empty
        assert any(NUM_ENGAGEMENT_RATE in record["numeric"] for record in records)
    with open(paths["unlabeled"], encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
        body = handle.read()
    assert contract.GRADE not in header
    assert '"[' in body and " | " in body  # both list encodings appear
    assert any("\n" in record["description"] for record in unlabeled)
    with open(paths["labeled"], encoding="utf-8") as handle:
        assert any(contract.LANGUAGE not in json.loads(line) for line in handle)


def test_grade_spread_per_query(demo):
    _, labeled, _ = demo
    groups = _by_query(labeled)
    assert len(groups) >= 30
    complete = list(groups.values())[:-1]  # the last query may be cut short
    assert all(8 <= len(rows) <= 12 for rows in complete)
    assert all(len({row[contract.GRADE] for row in rows}) >= 3 for rows in complete)
    counts = collections.Counter(record[contract.GRADE] for record in labeled)
    assert set(counts) == {1, 2, 3, 4, 5}


def test_grades_are_learnable_from_text(demo):
    """Word overlap between query and title predicts the grade far better than a constant."""
    _, labeled, _ = demo
    buckets = collections.defaultdict(list)
    pairs = []
    for record in labeled:
        if not record["title"]:
            continue
        overlap = len(set(record[contract.QUERY].split()) & set(record["title"].split()))
        buckets[overlap].append(record[contract.GRADE])
        pairs.append((overlap, record[contract.GRADE]))
    means = {key: sum(values) / len(values) for key, values in buckets.items()}
    overall = sum(grade for _, grade in pairs) / len(pairs)
    constant_error = sum(abs(grade - overall) for _, grade in pairs)
    overlap_error = sum(abs(grade - means[overlap]) for overlap, grade in pairs)
    assert overlap_error < 0.6 * constant_error


def test_other_grade_scales(tmp_path):
    paths = write_demo_data(str(tmp_path), 120, 10, seed=1, num_grades=3)
    grades = {row.fields[contract.GRADE] for row in read_rows(paths["labeled"])}
    assert grades == {1, 2, 3}
    with pytest.raises(ValueError):
        write_demo_data(str(tmp_path), 10, 10, num_grades=1)
