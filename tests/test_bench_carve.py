"""bench/carve.py: carving a graded data set by query for the scaling experiment."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))

import carve  # noqa: E402

FRACTIONS = [("labeled", 0.1), ("unlabeled", 0.6), ("test", 0.3)]


def _rows(num_queries=50, rows_per_query=4, languages=("en",)):
    rows = []
    for q in range(num_queries):
        for language in languages:
            for i in range(rows_per_query):
                rows.append({
                    "query": f"query {q} {language}", "query_id": f"Q{q:03d}-{language}",
                    "item_id": f"{q}-{language}-{i}", "title": f"item {i}",
                    "language": language, "grade": 1 + (q + i) % 4,
                })
    return rows


def _groups(rows, group_of=carve.query_group):
    return {group_of(row) for row in rows}


def test_queries_never_split_and_fractions_respected():
    rows = _rows()
    parts = carve.carve_by_query(rows, FRACTIONS, seed=7)
    assert sum(len(part) for part in parts.values()) == len(rows)
    names = list(parts)
    for a in names:
        for b in names:
            if a < b:
                assert not _groups(parts[a]) & _groups(parts[b]), (a, b)
    assert [len(_groups(parts[name])) for name, _ in FRACTIONS] == [5, 30, 15]


def test_same_seed_same_parts_other_seed_other_parts():
    rows = _rows()
    first = carve.carve_by_query(rows, FRACTIONS, seed=1)
    assert carve.carve_by_query(list(rows), FRACTIONS, seed=1) == first
    assert carve.carve_by_query(rows, FRACTIONS, seed=2)["test"] != first["test"]


def test_language_free_group_holds_a_question_out_in_every_language():
    rows = _rows(num_queries=20, languages=("en", "es", "zh"))
    parts = carve.carve_by_query(rows, [("test", 0.25), ("rest", 0.75)], seed=3,
                                 group_of=carve.language_free_group)
    test_questions = _groups(parts["test"], carve.language_free_group)
    assert len(test_questions) == 5
    assert {row["language"] for row in parts["test"]} == {"en", "es", "zh"}
    assert not test_questions & _groups(parts["rest"], carve.language_free_group)


def test_shares_below_one_subsample_and_bad_shares_raise():
    rows = _rows()
    parts = carve.carve_by_query(rows, [("labeled", 0.2)], seed=0)
    assert len(_groups(parts["labeled"])) == 10
    with pytest.raises(ValueError, match="sum to at most 1"):
        carve.carve_by_query(rows, [("a", 0.7), ("b", 0.5)], seed=0)
    with pytest.raises(ValueError, match="gets no query"):
        carve.carve_by_query(rows, [("a", 0.001), ("b", 0.5)], seed=0)


def test_unlabeled_part_written_without_grades(tmp_path):
    rows = _rows(num_queries=4)
    hidden = carve.hide_grades(rows)
    assert all("grade" not in row for row in hidden) and all("grade" in row for row in rows)
    path = str(tmp_path / "unlabeled.jsonl")
    assert carve.write_jsonl(path, hidden) == len(rows)
    back = carve.read_jsonl(path)
    assert back == hidden


def test_queries_without_id_are_grouped_by_text_and_seen_texts_dropped():
    rows = [{"query": "Red Shoes", "item_id": str(i), "title": "t", "grade": 2} for i in range(3)]
    rows += [{"query": "red  shoes", "item_id": "9", "title": "t", "grade": 1}]
    assert len(_groups(rows)) == 1  # ExampleGen's derived query id ignores case and spacing
    fresh = [{"query": "blue hat", "item_id": "1", "title": "t"}]
    assert carve.drop_seen_queries(rows + fresh, seen=rows[:1]) == fresh
