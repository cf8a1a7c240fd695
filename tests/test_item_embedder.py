"""ItemEmbedder: a tiny random encoder embeds a tiny Examples artifact through the executor,
the cache serves a re-run, and `relevance embed-items` puts catalog items in the same space."""

import json
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from components.item_embedder import counts
from components.item_embedder.component_spec import ItemEmbeddingSpace
from components.item_embedder.embedding_space import EmbeddingSpace
from components.item_embedder.executor import Executor
from components.item_embedder.text_encoder import TextEncoder
from components.item_embedder.texts import item_embedding_text
from relevance import contract
from relevance.progress import LOGGER_NAME, PROGRESS_FIELD
from relevance.records import record_to_example, to_record
from support.examples import SPLIT_FILE, make_example, write_tfrecord
from support.tiny_encoder import HIDDEN_DIM, write_tiny_encoder_preset

DIMS = 4


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    return write_tiny_encoder_preset(str(tmp_path_factory.mktemp("tiny_encoder")))


@pytest.fixture(scope="module")
def encoder(preset):
    return TextEncoder(preset, batch_size=2)


def test_encoder_returns_input_order_under_length_sorting(encoder):
    texts = ["a blue lamp on a desk in the office", "mug", "rojo " * 300, "", "red shoes",
             "taza"]
    calls = []
    together = encoder.encode_items(texts, on_batch=calls.append)
    alone = np.stack([encoder.encode_items([text])[0] for text in texts])
    assert together.shape == (len(texts), HIDDEN_DIM) and together.dtype == np.float32
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert calls == [2, 2, 2]
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    # "query: " and "passage: " are different inputs.
    assert not np.allclose(encoder.encode_queries(["mug"]), encoder.encode_items(["mug"]))


def test_embedding_space_fit_project_save_load(tmp_path):
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(40, HIDDEN_DIM)) + 2.0
    space = EmbeddingSpace.fit(vectors, DIMS, "tiny", query_length=16, item_length=64)
    assert (space.dims, space.hidden_dim, space.fitted_on) == (DIMS, HIDDEN_DIM, 40)
    np.testing.assert_allclose(space.axes.T @ space.axes, np.eye(DIMS), atol=1e-5)
    # Deterministic: the same texts in another order give the same space, signs included.
    again = EmbeddingSpace.fit(vectors[::-1], DIMS, "tiny")
    np.testing.assert_allclose(again.axes, space.axes, atol=1e-5)
    projected = space.project(vectors)
    assert projected.shape == (40, DIMS) and projected.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(projected, axis=1), 1.0, atol=1e-5)
    # The first axis carries the most variance.
    reduced = (vectors - space.mean) @ space.axes
    assert np.all(np.diff(reduced.var(axis=0)) <= 1e-9)

    space.save(str(tmp_path))
    loaded = EmbeddingSpace.load(str(tmp_path))
    assert loaded.info() == space.info() == {
        "preset": "tiny", "dims": DIMS, "hidden_dim": HIDDEN_DIM, "fitted_on": 40,
        "query_length": 16, "item_length": 64}
    np.testing.assert_array_equal(loaded.project(vectors), projected)
    with pytest.raises(ValueError, match="not an embedding space"):
        EmbeddingSpace.load(str(tmp_path / "missing"))

    # dims >= H: no reduction, still centred.
    full = EmbeddingSpace.fit(vectors, 100, "tiny")
    centred = vectors - vectors.mean(axis=0)
    assert full.dims == HIDDEN_DIM
    np.testing.assert_allclose(
        full.project(vectors), centred / np.linalg.norm(centred, axis=1, keepdims=True),
        atol=1e-5)


def _row(item_id, query="red mug", **fields):
    row = {"query": query, "item_id": item_id, "title": f"item {item_id}", "language": "en"}
    row.update(fields)
    return record_to_example(to_record(row)).SerializeToString()


# Rows written unchanged, and why.
PASSED = {"bad-bytes": counts.UNPARSEABLE, "no-query": counts.NO_QUERY,
          "no-text": counts.NO_ITEM_TEXT}


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    root = tmp_path_factory.mktemp("examples")
    splits = {
        contract.SPLIT_TRAIN: [
            _row("t1"), _row("t2", title="Blue lamp", board_titles=["Office"]),
            _row("t3", query="lámpara"), _row("t1"),  # the same pair twice
            b"bad-bytes: not a tf.Example",
            make_example({"query": "", "item_id": "no-query", "title": "Mug"})
            .SerializeToString(),
        ],
        contract.SPLIT_EVAL: [
            _row("e1", query="lamp"),
            _row("t2", query="lamp", title="Blue lamp", board_titles=["Office"])],
        contract.SPLIT_UNLABELED: [
            _row("u1", query="schuhe"),
            make_example({"query": "mug", "item_id": "no-text", "title": ""})
            .SerializeToString(),
        ],
    }
    for split, records in splits.items():
        split_dir = root / f"Split-{split}"
        split_dir.mkdir()
        write_tfrecord(split_dir / SPLIT_FILE, records)
    artifact = standard_artifacts.Examples()
    artifact.uri = str(root)
    artifact.split_names = artifact_utils.encode_split_names(sorted(splits))
    return artifact


def _run(examples, preset, out_dir, cache_dir):
    output, space = standard_artifacts.Examples(), ItemEmbeddingSpace()
    output.uri, space.uri = str(out_dir / "examples"), str(out_dir / "space")
    Executor().Do({"examples": [examples]},
                  {"embedded_examples": [output], "embedding_space": [space]},
                  {"preset": preset, "dims": DIMS, "batch_size": 2,
                   "cache_dir": str(cache_dir)})
    rows = []
    for split in artifact_utils.decode_split_names(output.split_names):
        pattern = os.path.join(artifact_utils.get_split_uri([output], split), "*.gz")
        for raw in tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), compression_type="GZIP"):
            rows.append((split, raw.numpy()))
    with open(os.path.join(output.uri, counts.COUNTS_FILE_NAME)) as handle:
        return output, space, sorted(rows), json.load(handle)


class _ProgressReports(logging.Handler):
    def __init__(self):
        super().__init__()
        self.reports = []

    def emit(self, record):
        report = getattr(record, PROGRESS_FIELD, None)
        if report is not None:
            self.reports.append(report)


@pytest.fixture(scope="module")
def first_run(examples, preset, tmp_path_factory):
    handler, logger = _ProgressReports(), logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    saved_level = logger.level
    logger.setLevel(logging.INFO)
    cache_dir = tmp_path_factory.mktemp("cache")
    try:
        result = _run(examples, preset, tmp_path_factory.mktemp("out1"), cache_dir)
    finally:
        logger.setLevel(saved_level)
        logger.removeHandler(handler)
    return result, cache_dir, handler.reports


def _item_id(serialized):
    try:
        example = tf.train.Example.FromString(serialized)
    except Exception:  # noqa: BLE001 - the unparseable row
        return serialized.split(b":")[0].decode()
    return example.features.feature["item_id"].bytes_list.value[0].decode(), example


def test_every_good_row_gets_both_embeddings(first_run):
    (_, space, rows, _), _, _ = first_run
    assert len(rows) == 10
    vectors = {}
    for split, serialized in rows:
        parsed = _item_id(serialized)
        if isinstance(parsed, str) or parsed[0] in PASSED:
            item_id = parsed if isinstance(parsed, str) else parsed[0]
            assert item_id in PASSED
            if not isinstance(parsed, str):
                assert contract.ITEM_EMBEDDING not in parsed[1].features.feature
            continue
        item_id, example = parsed
        feature = example.features.feature
        item = np.array(feature[contract.ITEM_EMBEDDING].float_list.value)
        query = np.array(feature[contract.QUERY_EMBEDDING].float_list.value)
        assert item.shape == query.shape == (DIMS,), item_id
        np.testing.assert_allclose([np.linalg.norm(item), np.linalg.norm(query)], 1.0,
                                   atol=1e-5)
        vectors.setdefault(item_id, []).append((split, item, query))
    # The same item text gives the same item vector in every split and under every query.
    t2 = vectors["t2"]
    assert {split for split, _, _ in t2} == {"train", "eval"}
    np.testing.assert_allclose(t2[0][1], t2[1][1], atol=1e-6)
    assert not np.allclose(t2[0][2], t2[1][2])  # "red mug" vs "lamp"
    loaded = EmbeddingSpace.load(space.uri)
    assert loaded.dims == DIMS
    # Fitted on the distinct texts of train + unlabeled: queries red mug, lámpara,
    # schuhe and items t1, t2, t3, u1.
    assert loaded.fitted_on == 7
    assert space.get_json_value_custom_property("embedding_space")["fitted_on"] == 7


def test_counts_name_every_passed_row(first_run):
    (output, _, _, report), _, progress = first_run
    assert (report["in"], report["out"], report["embedded"]) == (10, 10, 7)
    assert {name: report[name] for name in PASSED.values()} == {
        counts.UNPARSEABLE: 1, counts.NO_QUERY: 1, counts.NO_ITEM_TEXT: 1}
    assert report[counts.ENCODE_ERROR] == 0
    assert report["by_split"]["train"] == {
        "in": 6, "out": 6, "embedded": 4, "unparseable": 1, "no_query": 1, "no_item_text": 0,
        "encode_error": 0}
    assert report["by_split"]["unlabeled"]["no_item_text"] == 1
    # Distinct texts: queries red mug, lámpara, lamp, schuhe; items t1, t2, t3, e1, u1.
    assert report["distinct_texts"] == {
        "query": {"encoded": 4, "from_cache": 0, "failed": 0},
        "item": {"encoded": 5, "from_cache": 0, "failed": 0}}
    assert output.get_int_custom_property("embedding_no_query") == 1
    final = [r for r in progress if r.label == "ItemEmbedder" and r.final]
    assert final and sum(r.done for r in final) == 9 == final[0].total
    assert final[0].unit == "texts"


def test_second_run_encodes_nothing_and_writes_the_same_rows(examples, preset, first_run,
                                                              tmp_path_factory):
    (_, _, rows, _), cache_dir, _ = first_run
    _, _, again, report = _run(examples, preset, tmp_path_factory.mktemp("out2"), cache_dir)
    assert report["distinct_texts"] == {
        "query": {"encoded": 0, "from_cache": 4, "failed": 0},
        "item": {"encoded": 0, "from_cache": 5, "failed": 0}}
    assert again == rows


def test_embed_items_cli_puts_items_in_the_components_space(first_run, preset, tmp_path,
                                                            capsys):
    from cli import main as cli

    (_, space, rows, _), _, _ = first_run
    catalog = tmp_path / "catalog.jsonl"
    lines = [
        {"item_id": "t2", "title": " Blue lamp ", "board_titles": ["Office"]},
        {"item_id": "new", "description": "a green chair"},
        {"title": "no id"},
        {"item_id": "empty", "title": "  "},
        {"item_id": "t2", "title": "again"},
    ]
    catalog.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n",
                       encoding="utf-8")
    output = tmp_path / "embeddings.jsonl"
    code = cli.main(["embed-items", "--catalog", str(catalog), "--space", space.uri,
                     "--output", str(output)])
    out = capsys.readouterr().out
    assert code == 0, out
    written = [json.loads(line) for line in output.read_text().splitlines()]
    # Each row back with its embedding: a catalog for `relevance score --candidates`.
    assert [row["item_id"] for row in written] == ["t2", "new", "t2"]
    assert written[0]["board_titles"] == ["Office"] and written[2]["title"] == "again"
    assert all(len(row["item_embedding"]) == DIMS for row in written)
    assert "6 rows in, 3 items written, 3 quarantined" in out
    reasons = [json.loads(line)["reason"]
               for line in (tmp_path / "embeddings.quarantine.jsonl").read_text().splitlines()]
    assert sorted(reasons) == ["missing_item_id", "missing_item_text", "unparseable_row"]
    # The component's item_embedding of t2's rows, to float32 precision.
    component = next(np.array(parsed[1].features.feature[contract.ITEM_EMBEDDING]
                              .float_list.value)
                     for parsed in (_item_id(s) for _, s in rows)
                     if not isinstance(parsed, str) and parsed[0] == "t2")
    np.testing.assert_allclose(written[0]["item_embedding"], component, atol=1e-5)

    csv_catalog = tmp_path / "catalog.csv"
    csv_catalog.write_text('item_id,title,board_titles\nt2,Blue lamp,Office\n,,\n',
                           encoding="utf-8")
    code = cli.main(["embed-items", "--catalog", str(csv_catalog), "--space", space.uri,
                     "--output", str(tmp_path / "from_csv.jsonl")])
    assert code == 0
    from_csv = json.loads((tmp_path / "from_csv.jsonl").read_text().splitlines()[0])
    np.testing.assert_allclose(from_csv["item_embedding"], component, atol=1e-5)
    assert "2 rows in, 1 items written, 1 quarantined" in capsys.readouterr().out
    code = cli.main(["embed-items", "--catalog", str(csv_catalog), "--space", str(tmp_path),
                     "--output", str(tmp_path / "x.jsonl")])
    assert code == 2 and "not an embedding space" in capsys.readouterr().err


def test_item_embedding_text_is_the_same_for_a_record_and_its_example():
    record = to_record({"query": "q", "item_id": "i", "title": "Mug", "description": "oak",
                        "engaged_queries": ["mugs", "cups"], "language": "en"})
    assert item_embedding_text(record) == "Mug oak mugs cups"
    assert item_embedding_text(record_to_example(record)) == "Mug oak mugs cups"


def test_pipeline_has_the_embedder_only_when_enabled(tmp_path):
    from pipeline.config import PipelineConfig
    from pipeline.pipeline import (
        EXAMPLE_GEN, IMAGE_CAPTIONER, ITEM_EMBEDDER, create_components)

    config = PipelineConfig.for_workdir(str(tmp_path))
    assert ITEM_EMBEDDER not in [component.id for component in create_components(config)]

    config.item_embeddings, config.item_embedding_dims = True, 16
    config.caption_images, config.caption_preset = True, "pali_gemma_3b_mix_224"
    components = {component.id: component for component in create_components(config)}
    assert list(components)[:3] == [EXAMPLE_GEN, IMAGE_CAPTIONER, ITEM_EMBEDDER]
    embedder = components[ITEM_EMBEDDER]
    assert embedder.exec_properties["dims"] == 16
    assert embedder.exec_properties["preset"] == "multilingual-e5-small"
    assert embedder.exec_properties["cache_dir"].endswith("embedding_cache")
    assert components[IMAGE_CAPTIONER].outputs["captioned_examples"] in (
        embedder.inputs.values())
    embedded = embedder.outputs["embedded_examples"]
    readers = {c.id for c in components.values() if embedded in c.inputs.values()}
    assert {"StatisticsGen", "Transform", "TeacherTrainer", "PseudoLabeler"} <= readers


def test_cli_item_embedding_flags_reach_the_config():
    from cli import main as cli
    from trainer.teacher.presets.registry import DEFAULT_TEACHER_PRESET

    def overrides(*flags):
        args = cli.build_parser().parse_args(
            ["compile", "--runner", "kubeflow", "--output", "x.json", *flags])
        return cli._config_overrides(args)

    # On by default with the (pretrained) default teacher, off with a from-scratch one.
    assert overrides()["item_embeddings"] is True
    assert overrides("--teacher-preset", "from-scratch")["item_embeddings"] is False
    assert overrides("--no-item-embeddings")["item_embeddings"] is False
    chosen = overrides("--item-embeddings", "--item-embedding-dims", "64",
                       "--item-embedding-cache-dir", "gs://bucket/cache")
    assert (chosen["item_embedding_preset"], chosen["item_embedding_dims"],
            chosen["item_embedding_cache_dir"]) == (DEFAULT_TEACHER_PRESET, 64,
                                                    "gs://bucket/cache")


def test_the_space_artifact_type_compiles_for_kubeflow():
    from tfx.orchestration.kubeflow.v2 import compiler_utils

    # Kubeflow Pipelines v2 takes a custom artifact type only as "namespace.Name".
    assert "title: relevance.ItemEmbeddingSpace" in compiler_utils.get_artifact_schema(
        ItemEmbeddingSpace)
