"""bench/volume_ladder.py: nested pseudo-label volumes cut from one scored pool."""

import doctest
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))

import volume_ladder  # noqa: E402


def _corpus(num_human=10, num_pseudo=100):
    grade = np.array([2] * num_human + [0] * num_pseudo)
    rows = np.arange(len(grade))
    features = {"row": rows, "query_text": [f"q{i % 7}" for i in rows]}
    return features, np.full((len(grade), 4), 0.25), grade, [f"k{i % 7}" for i in rows]


def test_volumes_keep_every_human_row_and_nest():
    ladder = volume_ladder.nested_volumes(_corpus(), [1, 3.5, 10, 50])
    rows = {name: set(corpus[0]["row"]) for name, corpus in ladder.items()}
    assert [len(corpus[2]) for corpus in ladder.values()] == [20, 45, 110, 110]
    for name, corpus in ladder.items():
        assert set(range(10)) <= rows[name]  # every human row
        assert corpus[0]["query_text"] == [f"q{i % 7}" for i in corpus[0]["row"]]
        assert corpus[3] == [f"k{i % 7}" for i in corpus[0]["row"]]
    assert rows["pseudo@1"] < rows["pseudo@3.5"] < rows["pseudo@10"] == rows["pseudo@50"]


def test_differences_by_language_pair_the_same_queries():
    split = {"query_id": ["a", "b", "c", "d"], "language": ["de", "de", "zh", "zh"]}
    better = {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}
    worse = {"a": 0.8, "b": 0.7, "c": 0.7, "d": 0.6}
    out = volume_ladder.by_language_differences(better, worse, split, resamples=200)
    assert out["de"]["difference"] == 0.1 and out["de"]["queries"] == 2
    assert out["zh"]["difference"] == 0.0 and out["zh"]["se"] == 0.0
    assert out["all"]["difference"] == 0.05 and out["all"]["queries"] == 4


def test_docstring_example_runs():
    assert doctest.testmod(volume_ladder).failed == 0
