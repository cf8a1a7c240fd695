"""bench/paper_backbones.py on shrunken architectures: every paper backbone builds, runs
and reports a cost (the published sizes are only run by the benchmark itself)."""

import pytest

from bench.paper_backbones import PAPER_BACKBONES, backbone_cpu_us_per_pair

TINY = dict(vocabulary_size=500, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32)


@pytest.mark.parametrize("name", sorted(PAPER_BACKBONES))
def test_each_paper_backbone_reports_a_cost(name):
    cost = backbone_cpu_us_per_pair(name, pairs=3, sequence_length=8, calls=2,
                                    architecture_overrides=TINY)
    assert cost["backbone"] == name and cost["pairs_per_call"] == 3
    assert cost["architecture"]["num_layers"] == 1
    assert cost["cpu_us_per_pair"] > 0 and cost["wall_us_per_pair"] > 0
    assert cost["parameters"] > TINY["vocabulary_size"] * TINY["hidden_dim"]


def test_published_sizes_are_base_models():
    for _, architecture in PAPER_BACKBONES.values():
        assert (architecture["num_layers"], architecture["hidden_dim"]) == (12, 768)
