"""ImageCaptioner: a tiny random PaliGemma preset captions tiny images through the executor."""

import base64
import json
import logging
import os

import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from components.image_captioner import counts
from components.image_captioner.caption_cache import CaptionCache, cache_namespace
from components.image_captioner.component import ImageCaptioner
from components.image_captioner.executor import Executor
from components.image_captioner.quarantine import REASON, quarantine_pattern, read_quarantine
from components.image_captioner.tiny_preset import write_tiny_paligemma_preset
from relevance.progress import LOGGER_NAME, PROGRESS_FIELD
from relevance import contract
from relevance.records import example_to_record, record_to_example, to_record
from support.examples import SPLIT_FILE, write_tfrecord

MAX_LENGTH = 6


def _png(rgb, size=32):
    pixels = tf.broadcast_to(tf.constant(rgb, tf.uint8), [size, size, 3])
    return tf.io.encode_png(pixels).numpy()


def _record(item_id, **fields):
    row = {"query": "red mug", "item_id": item_id, "title": f"item {item_id}", "language": "en"}
    row.update(fields)
    # As ExampleGen validates when captioning is on: image-only items (title="") pass.
    return record_to_example(to_record(row, image_only_items=True)).SerializeToString()


# item id -> expected outcome of the first run.
EXPECTED = {
    "i1": counts.CAPTIONED, "i2": counts.CAPTIONED, "i3": counts.CAPTIONED,
    "i4": counts.ALREADY_CAPTIONED, "i5": counts.NO_IMAGE, "i6": counts.UNREADABLE_IMAGE,
    "u1": counts.UNREADABLE_IMAGE, "u2": counts.UNREADABLE_IMAGE, "u3": counts.CAPTIONED,
    "u4": counts.CAPTIONED,
}
# Image-only items: u4's caption becomes its only text; i6's image is unreadable, so it
# has no text at all and must not be written.
IMAGE_ONLY = {"i6", "u4"}
QUARANTINED = {"i6"}


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    return write_tiny_paligemma_preset(str(tmp_path_factory.mktemp("tiny_paligemma")))


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalog")
    images = root / "images"
    images.mkdir()
    (images / "red.png").write_bytes(_png((220, 20, 20)))
    (images / "copy_of_red.png").write_bytes(_png((220, 20, 20)))  # same bytes, other path
    (images / "blue.png").write_bytes(_png((20, 20, 220)))
    (images / "corrupt.png").write_bytes(b"this is not an image")
    green = base64.b64encode(_png((20, 200, 20))).decode("ascii")
    splits = {
        contract.SPLIT_TRAIN: [
            _record("i1", image="images/red.png"),
            _record("i2", image=str(images / "blue.png")),  # absolute path
            _record("i3", image="images/copy_of_red.png"),
            _record("i4", image="images/red.png", image_caption="a red mug"),
            _record("i5"),
            _record("i6", title="", image="images/also_missing.png"),
        ],
        contract.SPLIT_UNLABELED: [
            _record("u1", image="images/corrupt.png"),
            _record("u2", image="images/missing.png"),
            _record("u3", image_bytes=green),  # base64 in CSV / JSONL
            _record("u4", title="", image="images/blue.png"),
        ],
    }
    for split, records in splits.items():
        split_dir = root / "examples" / f"Split-{split}"
        split_dir.mkdir(parents=True)
        write_tfrecord(split_dir / SPLIT_FILE, records)
    artifact = standard_artifacts.Examples()
    artifact.uri = str(root / "examples")
    artifact.split_names = artifact_utils.encode_split_names(sorted(splits))
    return artifact, str(root)


def _run(examples, preset, out_dir, cache_dir, prompt="caption en\n"):
    artifact, image_root = examples
    output = standard_artifacts.Examples()
    output.uri = str(out_dir)
    Executor().Do(
        {"examples": [artifact]},
        {"captioned_examples": [output]},
        {"preset": preset, "prompt": prompt, "max_length": MAX_LENGTH, "batch_size": 2,
         "cache_dir": str(cache_dir), "image_root": image_root},
    )
    records = {}
    for split in artifact_utils.decode_split_names(output.split_names):
        pattern = os.path.join(artifact_utils.get_split_uri([output], split), "*.gz")
        for raw in tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), compression_type="GZIP"):
            record = example_to_record(tf.train.Example.FromString(raw.numpy()))
            records[record[contract.ITEM_ID]] = (split, record)
    with open(os.path.join(output.uri, counts.COUNTS_FILE_NAME)) as handle:
        return output, records, json.load(handle)


class _ProgressReports(logging.Handler):
    def __init__(self):
        super().__init__()
        self.reports = []

    def emit(self, record):
        report = getattr(record, PROGRESS_FIELD, None)
        if report is not None:
            self.reports.append(report)


@pytest.fixture(scope="module")
def progress_reports():
    """The progress reports logged while the module's runs caption."""
    handler, logger = _ProgressReports(), logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    saved_level = logger.level
    logger.setLevel(logging.INFO)
    yield handler.reports
    logger.setLevel(saved_level)
    logger.removeHandler(handler)


@pytest.fixture(scope="module")
def first_run(examples, preset, tmp_path_factory, progress_reports):
    cache_dir = tmp_path_factory.mktemp("cache")
    return _run(examples, preset, tmp_path_factory.mktemp("out1"), cache_dir), cache_dir


@pytest.fixture(scope="module")
def second_run(examples, preset, first_run, tmp_path_factory):
    _, cache_dir = first_run
    return _run(examples, preset, tmp_path_factory.mktemp("out2"), cache_dir)


def test_captions_written_for_items_with_images_only(first_run):
    (output, records, report), _ = first_run
    assert set(records) == set(EXPECTED) - QUARANTINED
    for item_id, (split, record) in records.items():
        assert split == (contract.SPLIT_TRAIN if item_id.startswith("i") else contract.SPLIT_UNLABELED)
        caption = record["image_caption"]
        if EXPECTED[item_id] == counts.CAPTIONED:
            assert caption, item_id
        elif EXPECTED[item_id] == counts.ALREADY_CAPTIONED:
            assert caption == "a red mug"
        else:
            assert caption == "", item_id
    # Same bytes under two paths: one image, one caption.
    assert records["i1"][1]["image_caption"] == records["i3"][1]["image_caption"]
    assert records["u3"][1][contract.IMAGE_BYTES].startswith(b"\x89PNG")
    assert artifact_utils.decode_split_names(output.split_names) == ["train", "unlabeled"]
    assert output.get_string_custom_property("file_format") == "tfrecords_gzip"


def test_counts_reconcile_and_name_every_outcome(first_run):
    (output, _, report), _ = first_run
    assert report["in"] == len(EXPECTED)
    assert (report["out"], report["quarantined"]) == (len(EXPECTED) - 1, 1)
    for outcome in counts.OUTCOMES:
        assert report[outcome] == sum(v == outcome for v in EXPECTED.values()), outcome
    assert report["by_split"] == {"train": {"in": 6, "out": 5, "quarantined": 1},
                                  "unlabeled": {"in": 4, "out": 4, "quarantined": 0}}
    assert report["distinct_images"] == {"generated": 3, "from_cache": 0}
    assert output.get_int_custom_property("caption_unreadable_image") == 3
    assert output.get_int_custom_property("caption_quarantined") == 1
    assert counts.CaptionCounts.from_events({
        "in/train": 2, "out/train": 2, "quarantined/train": 0, "outcome/no_image": 2,
    }).reconciles()
    # An example that is neither written nor quarantined breaks the books.
    assert not counts.CaptionCounts.from_events({
        "in/train": 2, "out/train": 1, "outcome/no_image": 2}).reconciles()
    assert "1 quarantined" in counts.CaptionCounts(report).summary()


def test_captioning_reports_progress_against_the_images_to_caption(first_run, progress_reports):
    (_, _, report), _ = first_run
    generated = report["distinct_images"]["generated"]
    final = [r for r in progress_reports if r.label == "ImageCaptioner" and r.final]
    assert final, progress_reports
    # Every worker's share adds up to the images the model captioned, out of that total.
    assert sum(r.done for r in final) == generated == final[0].total
    assert final[0].unit == "images"


def test_image_only_item_is_captioned_or_quarantined(first_run):
    (output, records, _), _ = first_run
    split, record = records["u4"]
    assert (split, record["title"]) == (contract.SPLIT_UNLABELED, "")
    assert record["image_caption"] and any(record[name] for name in contract.ITEM_TEXT_FIELDS)
    assert "i6" not in records  # never reaches the models

    [entry] = read_quarantine(output.uri)
    assert (entry["split"], entry["item_id"], entry["query"]) == ("train", "i6", "red mug")
    assert (entry["reason"], entry["caption_outcome"]) == (REASON, counts.UNREADABLE_IMAGE)
    assert entry["fields"]["image"] == "images/also_missing.png"
    # Items with text but a failed image are written as before (u1, u2).
    assert records["u1"][1]["title"] == "item u1" and records["u1"][1]["image_caption"] == ""


def test_rerun_is_byte_identical(first_run, second_run):
    def files(output):
        split_files = sorted(
            path for split in artifact_utils.decode_split_names(output.split_names)
            for path in tf.io.gfile.glob(
                os.path.join(artifact_utils.get_split_uri([output], split), "*")))
        paths = split_files + tf.io.gfile.glob(quarantine_pattern(output.uri))
        return {os.path.relpath(p, output.uri): open(p, "rb").read() for p in paths}

    (first, _, _), _ = first_run
    second = second_run[0]
    assert files(first) == files(second)
    quarantine = {name: data for name, data in files(first).items()
                  if name.startswith("quarantine" + os.sep)}
    assert list(quarantine) == [os.path.join("quarantine", "quarantine-00000-of-00001.jsonl")]
    assert list(quarantine.values())[0].count(b"\n") == 1


def test_cache_prevents_recomputation(first_run, second_run, preset):
    (_, first_records, _), _ = first_run
    _, records, report = second_run
    assert report["distinct_images"] == {"generated": 0, "from_cache": 3}
    assert (report["captioned"], report["cached"]) == (0, 5)
    assert report["quarantined"] == 1
    assert {k: r["image_caption"] for k, (_, r) in records.items()} == {
        k: r["image_caption"] for k, (_, r) in first_records.items()}

    # The cache is keyed by model setting too: another prompt or length starts afresh.
    namespace = cache_namespace(preset, "caption en\n", MAX_LENGTH)
    assert namespace != cache_namespace(preset, "describe en\n", MAX_LENGTH)
    assert namespace != cache_namespace(preset, "caption en\n", MAX_LENGTH + 1)


def test_cache_entries_are_keyed_by_image_content(first_run, preset):
    (_, records, _), cache_dir = first_run
    import hashlib

    cache = CaptionCache(str(cache_dir), cache_namespace(preset, "caption en\n", MAX_LENGTH))
    red = hashlib.sha256(_png((220, 20, 20))).hexdigest()
    assert cache.get(red) == records["i1"][1]["image_caption"]


def test_component_rejects_missing_preset():
    from tfx.types import channel_utils

    examples = channel_utils.as_channel([standard_artifacts.Examples()])
    with pytest.raises(ValueError):
        ImageCaptioner(examples=examples, preset="")
    captioner = ImageCaptioner(examples=examples, preset="pali_gemma_3b_mix_224", max_length=8)
    assert captioner.outputs["captioned_examples"].type_name == "Examples"


def test_pipeline_has_the_captioner_only_when_enabled(tmp_path):
    from pipeline.config import PipelineConfig
    from pipeline.pipeline import EXAMPLE_GEN, IMAGE_CAPTIONER, create_components

    config = PipelineConfig.for_workdir(str(tmp_path))
    ids = [component.id for component in create_components(config)]
    assert IMAGE_CAPTIONER not in ids

    config.caption_images, config.caption_preset = True, "pali_gemma_3b_mix_224"
    components = {component.id: component for component in create_components(config)}
    assert list(components)[:2] == [EXAMPLE_GEN, IMAGE_CAPTIONER]
    captioned = components[IMAGE_CAPTIONER].outputs["captioned_examples"]
    # Everything downstream reads the captioned examples, nothing reads ExampleGen's.
    readers = [c for c in components.values() if captioned in c.inputs.values()]
    assert {"StatisticsGen", "Transform", "TeacherTrainer", "PseudoLabeler"} <= {
        c.id for c in readers}
    example_gen_output = components[EXAMPLE_GEN].outputs["examples"]
    assert [c.id for c in components.values() if example_gen_output in c.inputs.values()] == [
        IMAGE_CAPTIONER]


def test_demo_items_name_generated_images(tmp_path):
    from demo.data import write_demo_data
    from demo.images import DAMAGED_IMAGE
    from relevance.readers import read_rows

    paths = write_demo_data(str(tmp_path), num_labeled=200, num_unlabeled=200, seed=1)
    images = [row.fields.get(contract.IMAGE) or "" for key in ("labeled", "unlabeled")
              for row in read_rows(paths[key])]
    named = [name for name in images if name]
    assert 0 < len(named) < len(images)
    assert DAMAGED_IMAGE in named
    for name in set(named) - {DAMAGED_IMAGE}:
        pixels = tf.io.decode_png(open(tmp_path / name, "rb").read())
        assert pixels.shape == (32, 32, 3)


def test_cli_caption_flags_reach_the_config():
    from cli import main as cli
    from relevance.errors import InputError

    def overrides(*flags):
        args = cli.build_parser().parse_args(
            ["compile", "--runner", "kubeflow", "--output", "x.json", *flags])
        return cli._config_overrides(args)

    assert overrides()["caption_images"] is False
    chosen = overrides("--caption-images", "--caption-preset", "/presets/pg",
                       "--caption-prompt", "caption es", "--caption-max-length", "12")
    assert (chosen["caption_preset"], chosen["caption_prompt"], chosen["caption_max_length"]) == (
        "/presets/pg", "caption es\n", 12)
    # A compiled pipeline runs elsewhere: cache and image root default to the pipeline's.
    assert (chosen["caption_cache_dir"], chosen["caption_image_root"]) == ("", "")
    with pytest.raises(InputError, match="--caption-preset"):
        overrides("--caption-images")


def test_image_fields_are_carried_but_never_item_text():
    for name in contract.IMAGE_FIELDS:
        assert name not in contract.ITEM_TEXT_FIELDS + contract.RAW_SIGNATURE_INPUTS
    record = to_record({"query": "mug", "item_id": "i1", "title": "Mug", "language": "en",
                        "image": " gs://bucket/mug.png ", "image_bytes": "not base64!"})
    assert record[contract.IMAGE] == "gs://bucket/mug.png"
    assert record[contract.IMAGE_BYTES] == b"not base64!"  # kept: counted unreadable later
    assert example_to_record(record_to_example(record)) == record
    plain = to_record({"query": "mug", "item_id": "i2", "title": "Mug", "language": "en"})
    assert contract.IMAGE not in record_to_example(plain).features.feature
