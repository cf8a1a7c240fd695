"""PseudoLabeler: executor on real artifacts with a tiny real teacher SavedModel.

The teacher is controllable: it puts probability float(description) on one class and
spreads the rest, so each row's confidence is known in advance and a reference
selection written here (plain Python) says exactly which pairs must be kept.
"""

import glob
import json
import math
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils, channel_utils, standard_artifacts
from tfx.utils import path_utils

from components.pseudo_labeler import PseudoLabeler, ranking
from components.pseudo_labeler.executor import Executor
from components.pseudo_labeler.records import TEACHER_FEATURES, parse_candidate
from components.pseudo_labeler.teacher import ScoreWithTeacher
from relevance import contract
from models.export import RelevanceServingModule, save_serving_module
from support.examples import serialized_example, write_tfrecord

G = 5

# (query_id, item_id, language, confidence as text, grade)
HUMAN_TRAIN = [
    ("q1", "h1", "en", "0.9", 5), ("q1", "h3", "en", "0.8", 4), ("q2", "h4", "en", "0.7", 2),
    ("q3", "h5", "de", "0.9", 3), ("q4", "h6", "fr", "0.5", 1), ("q9", "h7", "en", "0.9", 5),
]
HUMAN_EVAL = [("q2", "h2", "en", "0.9", 4), ("q3", "h8", "de", "0.6", 2), ("q5", "h9", "en", "0.9", 3)]
GOOD_UNLABELED = [
    ("q1", "i1", "en", "0.95"), ("q1", "i2", "en", "0.9"), ("q1", "i3", "en", "0.7"),
    ("q1", "i4", "en", "0.7"), ("q1", "i5", "en", "0.5"), ("q1", "i6", "en", "0.3"),
    ("q2", "j1", "en", "0.85"), ("q2", "j2", "en", "0.6"), ("q2", "j3", "en", "0.6"),
    ("q2", "j4", "en", "0.25"),
    ("q3", "k1", "de", "0.99"), ("q3", "k2", "de", "0.8"), ("q3", "k3", "de", "0.55"),
    ("q3", "k4", "de", "0.4"),
    ("q4", "m1", "fr", "0.65"), ("q4", "m2", "fr", "0.65"), ("q4", "m3", "fr", "0.65"),
    ("q5", "n1", "", "0.75"),  # no language: counted as "und"
    ("q1", "h1", "en", "0.9"),  # graded in train
    ("q2", "h2", "en", "0.9"),  # graded in eval
]
HUMAN_PAIRS = {(q, i) for q, i, *_ in HUMAN_TRAIN + HUMAN_EVAL}
NUM_UNPARSEABLE = 2  # garbage bytes, missing item_id
NUM_TEACHER_ERRORS = 2  # NaN confidence, a description the teacher cannot parse


def _example(query_id, item_id, language, description, grade=None):
    return serialized_example({
        contract.QUERY: f"query {query_id}", contract.QUERY_ID: query_id,
        contract.ITEM_ID: item_id, contract.LANGUAGE: language or None,
        "title": f"title of {item_id}", "description": description,
        "image_caption": "", "link_title": "", "link_description": "",
        "engaged_queries": [b"a", b"b"], "num_engagement_rate": 0.25, contract.GRADE: grade,
    })


def _unlabeled_records():
    records = [_example(*row) for row in GOOD_UNLABELED]
    records.append(b"\xff\xff\xff")
    records.append(_example("q5", None, "en", "0.9"))
    records.append(_example("q5", "bad1", "en", "nan"))
    records.append(_example("q5", "bad2", "en", "not-a-number"))
    return records


def _write_split(uri, split, records, num_files=1):
    split_dir = os.path.join(uri, f"Split-{split}")
    os.makedirs(split_dir, exist_ok=True)
    for index in range(num_files):
        path = os.path.join(split_dir, f"data_tfrecord-{index:05d}-of-{num_files:05d}.gz")
        write_tfrecord(path, records[index::num_files])


def _make_examples(uri, unlabeled_records, num_files=1):
    _write_split(uri, contract.SPLIT_TRAIN, [_example(*row) for row in HUMAN_TRAIN])
    _write_split(uri, contract.SPLIT_EVAL, [_example(*row) for row in HUMAN_EVAL])
    _write_split(uri, contract.SPLIT_UNLABELED, unlabeled_records, num_files)
    examples = standard_artifacts.Examples()
    examples.uri = uri
    examples.split_names = artifact_utils.encode_split_names(
        [contract.SPLIT_TRAIN, contract.SPLIT_EVAL, contract.SPLIT_UNLABELED]
    )
    return examples


def _controllable_teacher(raw):
    confidence = tf.strings.to_number(raw["description"], tf.float32)[:, None]
    top = tf.one_hot(tf.strings.length(raw["title"]) % G, G)
    return top * confidence + (1.0 - top) * (1.0 - confidence) / (G - 1)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    model = standard_artifacts.Model()
    model.uri = str(root / "teacher")
    save_serving_module(
        RelevanceServingModule(_controllable_teacher, num_grades=G),
        path_utils.serving_model_dir(model.uri),
    )
    records = _unlabeled_records()
    return {
        "model": model,
        "examples": _make_examples(str(root / "examples"), records),
        # Same rows, other order and file layout: selection must not notice.
        "examples_reordered": _make_examples(
            str(root / "examples_reordered"), records[::-1], num_files=3
        ),
    }


def _run(inputs, out_dir, examples_key="examples", **params):
    output = standard_artifacts.Examples()
    output.uri = str(out_dir)
    Executor().Do(
        {"examples": [inputs[examples_key]], "model": [inputs["model"]]},
        {"pseudo_labeled": [output]},
        params,
    )
    return output


def _read_split(output, split):
    files = sorted(glob.glob(os.path.join(output.uri, f"Split-{split}", "*")))
    assert files and all(f.endswith(".gz") for f in files)
    return [
        tf.train.Example.FromString(r.numpy())
        for r in tf.data.TFRecordDataset(files, compression_type="GZIP")
    ]


def _text(example, name):
    return example.features.feature[name].bytes_list.value[0].decode()


def _pairs(examples, source):
    return {
        (_text(e, "query_id"), _text(e, "item_id"))
        for e in examples if _text(e, contract.LABEL_SOURCE) == source
    }


def _counts(output):
    with open(os.path.join(output.uri, "pseudo_label_counts.json")) as f:
        return json.load(f)


def _expected_kept(confidence_threshold=0.0, max_volume_multiple=100.0, max_per_query=0,
                   drop_human_labeled_pairs=1, balance_languages=0, batch_size=None,
                   score_all_unlabeled=0):
    """Reference selection in plain Python."""
    rows = [(q, i, lang or "und", float(np.float32(c))) for q, i, lang, c in GOOD_UNLABELED]
    if drop_human_labeled_pairs:
        rows = [r for r in rows if (r[0], r[1]) not in HUMAN_PAIRS]
    rows = [r for r in rows if r[3] >= confidence_threshold]

    def best_first(group):
        return sorted(group, key=lambda r: (-r[3], ranking.stable_hash(
            ranking.pair_key(r[0].encode(), r[1].encode()))))

    if max_per_query:
        rows = [r for q in {r[0] for r in rows}
                for r in best_first([r for r in rows if r[0] == q])[:max_per_query]]
    budget = math.floor(max_volume_multiple * len(HUMAN_TRAIN)) if max_volume_multiple else None
    if balance_languages:
        languages = {r[2] for r in rows}
        share = (budget // len(languages) if budget is not None
                 else min(sum(r[2] == lang for r in rows) for lang in languages))
        rows = [r for lang in languages
                for r in best_first([r for r in rows if r[2] == lang])[:share]]
    elif budget is not None:
        rows = best_first(rows)[:budget]
    return {(r[0], r[1]) for r in rows}


# Few settings, each exercising several rules: every executor run costs ~20 s of Beam
# graph construction on a small machine.
SETTINGS = [
    {},
    {"confidence_threshold": 0.6, "max_per_query": 2, "max_volume_multiple": 0.5},
    {"drop_human_labeled_pairs": 0, "balance_languages": 1, "max_volume_multiple": 0.0,
     "batch_size": 3, "score_all_unlabeled": 1},
]
_RUNS = {}


def _run_cached(inputs, tmp_path_factory, **params):
    key = json.dumps(params, sort_keys=True)
    if key not in _RUNS:
        _RUNS[key] = _run(inputs, tmp_path_factory.mktemp("out"), **params)
    return _RUNS[key]


@pytest.mark.parametrize("params", SETTINGS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
def test_selection_matches_reference_and_counts_reconcile(inputs, tmp_path_factory, params):
    output = _run_cached(inputs, tmp_path_factory, **params)
    train = _read_split(output, contract.SPLIT_TRAIN)
    counts = _counts(output)

    expected = _expected_kept(**params)
    assert _pairs(train, contract.LABEL_SOURCE_PSEUDO) == expected
    assert counts["unlabeled_in"] == len(_unlabeled_records())
    assert counts["pseudo_labeled_out"] == len(expected)
    assert counts["unlabeled_in"] == counts["pseudo_labeled_out"] + sum(counts["filtered"].values())
    assert counts["filtered"]["unparseable"] == NUM_UNPARSEABLE
    assert counts["filtered"]["teacher_error"] == NUM_TEACHER_ERRORS
    assert counts["filtered"]["already_labeled"] == (
        2 if params.get("drop_human_labeled_pairs", 1) else 0)
    by_language = counts["by_language"]
    assert sum(v["in"] for v in by_language.values()) == counts["unlabeled_in"]
    assert sum(v["out"] for v in by_language.values()) == counts["pseudo_labeled_out"]
    assert output.get_int_custom_property("pseudo_labeled_out") == len(expected)
    assert output.get_json_value_custom_property("pseudo_label_counts")["filtered"] == counts["filtered"]
    if params.get("confidence_threshold"):
        assert counts["filtered"]["low_confidence"] > 0
        assert counts["filtered"]["volume_cap"] > 0
        assert all(e.features.feature[contract.TEACHER_CONFIDENCE].float_list.value[0]
                   >= params["confidence_threshold"]
                   for e in train if _text(e, contract.LABEL_SOURCE) == "pseudo")
    if params.get("max_per_query"):
        assert counts["filtered"]["per_query_cap"] > 0
    if params.get("balance_languages"):
        assert counts["filtered"]["language_cap"] > 0
        assert counts["filtered"]["volume_cap"] == 0


def test_outputs_carry_teacher_features_and_human_rows_pass_through(inputs, tmp_path_factory):
    output = _run_cached(inputs, tmp_path_factory)
    train = _read_split(output, contract.SPLIT_TRAIN)
    eval_rows = _read_split(output, contract.SPLIT_EVAL)

    assert artifact_utils.decode_split_names(output.split_names) == ["train", "eval"]
    assert output.get_string_custom_property("payload_format") == "FORMAT_TF_EXAMPLE"
    assert output.get_string_custom_property("file_format") == "tfrecords_gzip"
    assert _pairs(train, "human") == {(q, i) for q, i, *_ in HUMAN_TRAIN}
    assert _pairs(eval_rows, "human") == {(q, i) for q, i, *_ in HUMAN_EVAL}
    assert _pairs(eval_rows, "pseudo") == set()
    assert not (_pairs(train, "pseudo") & HUMAN_PAIRS)

    originals = {(q, i): tf.train.Example.FromString(_example(q, i, lang, c, g))
                 for q, i, lang, c, g in HUMAN_TRAIN + HUMAN_EVAL}
    for example in train + eval_rows:
        features = example.features.feature
        soft_label = list(features[contract.SOFT_LABEL].float_list.value)
        assert len(soft_label) == G and sum(soft_label) == pytest.approx(1.0, abs=1e-5)
        assert features[contract.TEACHER_CONFIDENCE].float_list.value[0] == pytest.approx(max(soft_label))
        expected_score = sum(p * (k + 1) for k, p in enumerate(soft_label))
        assert features[contract.TEACHER_SCORE].float_list.value[0] == pytest.approx(expected_score, rel=1e-5)
        assert _text(example, contract.TEACHER_MODEL) == inputs["model"].uri
        if _text(example, contract.LABEL_SOURCE) == "human":
            # The input features are untouched, grade included.
            original = originals[(_text(example, "query_id"), _text(example, "item_id"))]
            for name, feature in original.features.feature.items():
                assert features[name] == feature, name
            assert len(features) == len(original.features.feature) + len(TEACHER_FEATURES)
        else:
            assert contract.GRADE not in features

    counts = _counts(output)
    assert counts["human_train"] == len(HUMAN_TRAIN)
    assert counts["human_eval"] == len(HUMAN_EVAL)
    assert counts["by_language"]["und"] == {"in": 1 + NUM_UNPARSEABLE, "out": 1}
    quarantined = glob.glob(os.path.join(output.uri, "quarantine", "unlabeled", "*.gz"))
    assert sum(1 for _ in tf.data.TFRecordDataset(quarantined, compression_type="GZIP")) == (
        NUM_UNPARSEABLE + NUM_TEACHER_ERRORS)


def _file_bytes(output):
    result = {}
    for split in (contract.SPLIT_TRAIN, contract.SPLIT_EVAL):
        for path in sorted(glob.glob(os.path.join(output.uri, f"Split-{split}", "*"))):
            with open(path, "rb") as f:
                result[f"{split}/{os.path.basename(path)}"] = f.read()
    return result


def test_rerun_and_reordered_input_give_identical_outputs(inputs, tmp_path, tmp_path_factory):
    params = SETTINGS[1]
    first = _run_cached(inputs, tmp_path_factory, **params)
    second = _run(inputs, tmp_path / "second", **params)
    reordered = _run(inputs, tmp_path / "reordered", examples_key="examples_reordered",
                     batch_size=2, **params)

    assert _counts(first) == _counts(second) == _counts(reordered)
    assert _file_bytes(first) == _file_bytes(second)
    # Other arrival order, file layout and batch size: still the same bytes.
    assert _file_bytes(first) == _file_bytes(reordered)

    # The same teacher at another path (another workdir): the rows name that path, but
    # come in the same order, so a trainer reads them in the same order.
    moved = standard_artifacts.Model()
    moved.uri = str(tmp_path / "elsewhere" / "teacher")
    shutil.copytree(inputs["model"].uri, moved.uri)
    elsewhere = _run({**inputs, "model": moved}, tmp_path / "elsewhere_out", **params)
    for split in (contract.SPLIT_TRAIN, contract.SPLIT_EVAL):
        here, there = _read_split(first, split), _read_split(elsewhere, split)
        assert {_text(e, contract.TEACHER_MODEL) for e in there} == {moved.uri}
        assert [(_text(e, "query_id"), _text(e, "item_id"), _text(e, contract.LABEL_SOURCE))
                for e in here] == [
            (_text(e, "query_id"), _text(e, "item_id"), _text(e, contract.LABEL_SOURCE))
            for e in there]


def test_teacher_with_other_number_of_grades_fails_loudly(inputs):
    # The DoFn directly: a whole pipeline run just to see it fail costs ~20 s.
    model_path = path_utils.serving_model_path(inputs["model"].uri)
    scorer = ScoreWithTeacher(model_path, num_grades=4)
    scorer.setup()
    candidate = parse_candidate(_example("q1", "i1", "en", "0.9"))
    with pytest.raises(ValueError, match="num_grades=4"):
        list(scorer.process([candidate]))


def test_component_wiring():
    examples = channel_utils.as_channel([standard_artifacts.Examples()])
    teacher = channel_utils.as_channel([standard_artifacts.Model()])
    labeler = PseudoLabeler(examples=examples, model=teacher, confidence_threshold=0.4,
                            max_per_query=10, balance_languages=True)
    assert set(labeler.inputs) == {"examples", "model"}
    assert labeler.outputs["pseudo_labeled"].type_name == "Examples"
    assert labeler.exec_properties == {
        "num_grades": 5, "confidence_threshold": 0.4, "max_volume_multiple": 100.0,
        "max_per_query": 10, "drop_human_labeled_pairs": 1, "balance_languages": 1,
        "batch_size": 64, "eval_holdout_percent": 0.0, "score_all_unlabeled": 0,
    }
    assert labeler.with_beam_pipeline_args(["--direct_num_workers=1"]) is labeler
    with pytest.raises(ValueError):
        PseudoLabeler(examples=examples, model=teacher, confidence_threshold=1.5)


def test_held_out_queries_go_to_eval_only(inputs, tmp_path_factory):
    output = _run_cached(inputs, tmp_path_factory, eval_holdout_percent=50.0)
    train = _read_split(output, contract.SPLIT_TRAIN)
    eval_rows = _read_split(output, contract.SPLIT_EVAL)
    held_out = _pairs(eval_rows, "pseudo")
    assert held_out and not (held_out & _pairs(train, "pseudo"))
    held_queries = {query for query, _ in held_out}
    assert not held_queries & {query for query, _ in _pairs(train, "pseudo")}
    counts = _counts(output)
    assert counts["pseudo_held_out"] == len(held_out)
    assert counts["pseudo_labeled_out"] == len(held_out) + len(_pairs(train, "pseudo"))


def test_a_zero_budget_sends_no_unlabeled_row_to_the_teacher(inputs, tmp_path_factory):
    # floor(1e-9 * #human train) = 0: the scaling experiment's human-only (0x) run.
    output = _run_cached(inputs, tmp_path_factory, max_volume_multiple=1e-9)
    counts = _counts(output)
    assert counts["pseudo_labeled_out"] == 0
    assert not _pairs(_read_split(output, contract.SPLIT_TRAIN), contract.LABEL_SOURCE_PSEUDO)
    # The rows whose teacher call fails elsewhere are never scored, so none fails here;
    # every parseable new row is counted under the volume cap.
    assert counts["filtered"]["teacher_error"] == 0
    assert counts["filtered"]["volume_cap"] == (
        counts["unlabeled_in"] - NUM_UNPARSEABLE - counts["filtered"]["already_labeled"])
    assert counts["unlabeled_in"] == sum(counts["filtered"].values())
    assert _pairs(_read_split(output, contract.SPLIT_TRAIN), contract.LABEL_SOURCE_HUMAN)


def _sampling_examples(root):
    """240 unlabeled rows: 4 languages x 6 queries x 10 items, confidences alternating
    0.9 and 0.3 (half pass a 0.5 threshold)."""
    rows = [_example(f"s{lang}{q}", f"it{q}_{i}", lang, "0.9" if i % 2 else "0.3")
            for lang in ("en", "de", "zh", "fr") for q in range(6) for i in range(10)]
    return _make_examples(str(root), rows)


@pytest.mark.parametrize("threshold", [0.0, 0.5], ids=["no-threshold", "pilot"])
def test_a_binding_cap_scores_a_stratified_sample_and_counts_the_rest(
        inputs, tmp_path, monkeypatch, threshold):
    from components.pseudo_labeler import sampling

    # A pool of 240 against a pilot of 48 rows: the pilot measures the keep rate (0.5).
    monkeypatch.setattr(sampling, "PILOT_ROWS", 48)
    examples = _sampling_examples(tmp_path / "examples")
    output = _run({"examples": examples, "model": inputs["model"]}, tmp_path / "out",
                  confidence_threshold=threshold, max_volume_multiple=5.0)  # budget 30
    counts = _counts(output)
    filtered = counts["filtered"]
    assert counts["unlabeled_in"] == 240
    assert counts["pseudo_labeled_out"] == 30
    assert counts["unlabeled_in"] == counts["pseudo_labeled_out"] + sum(filtered.values())
    # Scored: the sample the cap needs (MARGIN 1.25 over 30 at the keep rate), not 240.
    expected_scored = 1.25 * 30 / (1.0 if threshold == 0 else 0.5)
    scored = 240 - filtered["not_sampled"]
    assert abs(scored - expected_scored) <= 24, filtered  # one row of rounding per query
    assert filtered["volume_cap"] + filtered["low_confidence"] == scored - 30
    if threshold:
        assert filtered["low_confidence"] > 0
    # Stratified: every language is sampled and gets pseudo-labels.
    assert all(v["out"] > 0 for v in counts["by_language"].values()), counts["by_language"]


def test_a_query_sample_is_floor_or_ceil_of_its_share_and_nested():
    from components.pseudo_labeler import sampling

    for query in (b"q1", b"q2", b"q3"):
        pairs = [query + b"\x1f" + str(i).encode() for i in range(7)]
        positions = sampling.query_positions(query, pairs)
        assert sorted(positions) == sorted(pairs)
        for fraction in (0.1, 0.3, 0.5, 0.95):
            drawn = {p for p, x in positions.items() if x < fraction}
            assert len(drawn) in (math.floor(fraction * 7), math.ceil(fraction * 7))
            smaller = {p for p, x in positions.items() if x < fraction / 2}
            assert smaller <= drawn


# (query_id, item_id, language, description): four scripts, and one description long
# enough to land in another length bucket than the rest.
REAL_TEACHER_UNLABELED = [
    ("r1", "a1", "en", "Red running shoes for women, light mesh upper"),
    ("r1", "a2", "en", " ".join(["A hand-stitched leather boot for long winter walks."] * 12)),
    ("r2", "b1", "de", "Rote Laufschuhe für Damen mit leichtem Obermaterial"),
    ("r3", "c1", "zh", "红色女式跑鞋，轻质网面"),
    ("r3", "c2", "zh", "木制餐桌，适合六人使用"),
    ("r4", "d1", "ru", "Красные кроссовки для бега"),
]


def _assert_teacher_labels_every_pair_as_served(teacher, tmp_path):
    """The PseudoLabeler with `teacher` exported: every pair is labeled, each soft label
    equals the exported teacher's own prediction for that row alone (length buckets,
    batching and padding trim change nothing), and the counts reconcile."""
    from models.export import load_relevance_model

    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "teacher")
    export_dir = save_serving_module(teacher.serving_module(),
                                     path_utils.serving_model_dir(model.uri))
    unlabeled = {(q, i): _example(q, i, lang, text) for q, i, lang, text in REAL_TEACHER_UNLABELED}
    examples = _make_examples(str(tmp_path / "examples"), list(unlabeled.values()))

    output = _run({"examples": examples, "model": model}, tmp_path / "out",
                  confidence_threshold=0.0, max_volume_multiple=0.0, batch_size=4)

    counts = _counts(output)
    assert counts["pseudo_labeled_out"] == len(REAL_TEACHER_UNLABELED)
    assert counts["human_train"] == len(HUMAN_TRAIN)
    pseudo = [e for e in _read_split(output, contract.SPLIT_TRAIN)
              if _text(e, contract.LABEL_SOURCE) == "pseudo"]
    assert {(_text(e, "query_id"), _text(e, "item_id")) for e in pseudo} == set(unlabeled)
    serve = load_relevance_model(export_dir).signatures[contract.SIGNATURE_EXAMPLES]
    for example in pseudo:
        pair = (_text(example, "query_id"), _text(example, "item_id"))
        alone = serve(examples=tf.constant([unlabeled[pair]]))[contract.OUTPUT_PROBABILITIES]
        soft_label = list(example.features.feature[contract.SOFT_LABEL].float_list.value)
        np.testing.assert_allclose(soft_label, alone.numpy()[0], atol=1e-5, err_msg=str(pair))


@pytest.mark.slow
def test_real_pretrained_teacher_labels_a_handful_of_rows(e5_preset, tmp_path):
    """The multilingual-e5-small teacher (head untrained) through the PseudoLabeler."""
    from trainer.teacher.config import TeacherConfig
    from trainer.teacher.model import TeacherModel

    teacher = TeacherModel.from_preset(
        e5_preset, num_grades=G, config=TeacherConfig(preset=e5_preset, sequence_length=128))
    _assert_teacher_labels_every_pair_as_served(teacher, tmp_path)


def test_decoder_teacher_with_lora_labels_through_the_same_component(tmp_path):
    """A Llama decoder converted from a GGUF file (as smollm2-135m is), LoRA on, pooled at
    its last token, through the same PseudoLabeler."""
    from trainer.teacher.config import TeacherConfig
    from trainer.teacher.model import TeacherModel
    from support.gguf_test_file import write_tiny_llama_gguf
    from trainer.teacher.presets.llama_converter import convert_llama_gguf

    preset = convert_llama_gguf(write_tiny_llama_gguf(str(tmp_path / "tiny.gguf")),
                                str(tmp_path / "preset"))
    config = TeacherConfig(preset=preset, sequence_length=64, lora_rank=2,
                           mixed_precision="off")
    teacher = TeacherModel.from_preset(preset, num_grades=G, config=config)
    assert teacher.pooling == "last"
    _assert_teacher_labels_every_pair_as_served(teacher, tmp_path)

