"""The teacher: vocabulary, default preset, training, export and the Trainer run_fn."""

import io
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sentencepiece
import tensorflow as tf
from tensorflow.python.saved_model import loader_impl
from tfx.components.trainer.fn_args_utils import FnArgs

from relevance import contract
from trainer.teacher import task, vocabulary
from trainer.teacher.config import TeacherConfig
from trainer.teacher.default_preset import write_default_preset
from trainer.teacher.model import TeacherModel
from support.examples import serialized_example

NUM_GRADES = 5
TINY = dict(preset="from-scratch", hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=32,
            sequence_length=32, batch_size=4, epochs=1, vocabulary_size=300)

ROWS = [
    ("red shoes", "Red running shoes", "Light shoes for road running", ["red shoes", "trainers"], 5),
    ("red shoes", "Blue winter coat", "Warm coat", [], 1),
    ("rote schuhe", "Rote Schuhe für Damen", "", ["schuhe", "rote schuhe"], 4),
    ("rote schuhe", "Gartenschlauch 20m", "Grüner Schlauch", [], 1),
    ("красные туфли", "Красные туфли на каблуке", "Кожаные туфли", ["туфли"], 5),
    ("красные туфли", "Синяя куртка", "", [], 2),
    ("garden hose", "Garden hose 20m", "Green hose with nozzle", ["hose", "garden"], 5),
    ("garden hose", "Red shoes", "", ["shoes"], 1),
]


def _example(query, title, description, boards, grade=None):
    features = {name: "" for name in contract.SCALAR_STRING_FEATURES}
    features.update(query=query, title=title, description=description, item_id=title.lower())
    features.update(board_titles=list(boards), engaged_queries=[], grade=grade)
    return serialized_example(features)


def _write_split(directory, rows, copies=1):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "data_tfrecord-00000-of-00001.gz")
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for _ in range(copies):
            for row in rows:
                writer.write(_example(*row))
    return os.path.join(directory, "*")


def _word_counts():
    counts = {}
    for query, title, description, boards, _ in ROWS:
        for word in " ".join([query, title, description] + boards).lower().split():
            counts[word] = counts.get(word, 0) + 1
    return sorted(counts.items(), key=lambda item: -item[1])


@pytest.fixture(scope="module")
def proto():
    return vocabulary.train_sentencepiece(_word_counts(), vocabulary_size=300)


FRESH_PROCESS_CHECK = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    import tensorflow_text  # registers the SentencePiece ops
    model = tf.saved_model.load(sys.argv[1])
    fields = ("query", "title", "description", "image_caption", "link_title",
              "link_description", "engaged_queries", "board_titles")
    raw = {name: tf.constant(["", ""]) for name in fields}
    raw.update(query=tf.constant(["red shoes"]),
               title=tf.constant(["Red running shoes", "Κόκκινα παπούτσια"]),
               board_titles=tf.constant(["shoes\\nrunning", ""]))
    out_raw = model.signatures["serving_default"](**raw)
    def example(title):
        feature = {"title": tf.train.Feature(bytes_list=tf.train.BytesList(value=[title]))}
        return tf.train.Example(
            features=tf.train.Features(feature=feature)).SerializeToString()
    out_examples = model.signatures["serving_examples"](
        examples=tf.constant([example(b"red shoes"), example(b"hose"), b""]))
    print(json.dumps({
        "raw": out_raw["probabilities"].numpy().tolist(),
        "raw_score": out_raw["score"].numpy().tolist(),
        "examples": out_examples["probabilities"].numpy().tolist()}))
""")


def _serve_in_fresh_process(export_dir):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_USE_LEGACY_KERAS", None)
    result = subprocess.run([sys.executable, "-c", FRESH_PROCESS_CHECK, export_dir],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _assert_probabilities(probabilities, rows):
    probabilities = np.asarray(probabilities)
    assert probabilities.shape == (rows, NUM_GRADES)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_word_counts_file_and_deterministic_sentencepiece(tmp_path):
    path = tmp_path / "corpus_word_counts"
    path.write_text("".join(f"{count} {word}\n" for word, count in _word_counts())
                    + "3 \n1 schuhe\n", encoding="utf-8")
    counts = dict(vocabulary.read_word_counts(str(path)))
    expected = dict(_word_counts())
    # Repeated words add up; lines without a word are skipped.
    assert counts["shoes"] == expected["shoes"] and "" not in counts
    assert counts["schuhe"] == expected["schuhe"] + 1
    first = vocabulary.train_sentencepiece(counts.items(), vocabulary_size=300, seed=3)
    second = vocabulary.train_sentencepiece(counts.items(), vocabulary_size=300, seed=3)
    assert first == second


def test_corpus_words_and_item_text_punctuation_are_whole_pieces():
    # A unigram model trained on word counts split these into characters ("▁ t i t l e").
    proto = vocabulary.train_sentencepiece(_word_counts(), vocabulary_size=1000)
    model = sentencepiece.SentencePieceProcessor(model_proto=proto)
    pieces = model.encode("title: red running shoes⟧ | boards: schuhe;⟧ trainers", out_type=str)
    assert pieces == ["▁title", ":", "▁red", "▁running", "▁shoes", "⟧", "▁", "|", "▁boards",
                      ":", "▁schuhe", ";", "⟧", "▁trainers"]


def test_byte_fallback_leaves_no_unknown_tokens_on_unseen_scripts(proto):
    import keras_hub

    unseen = ["κόκκινα παπούτσια για τρέξιμο", "लाल जूते", "赤い靴"]
    tokenizer = keras_hub.models.XLMRobertaTokenizer(proto=proto)
    assert vocabulary.unknown_token_rate(tokenizer, unseen) == 0.0

    # The same corpus without byte fallback: the measure does see unknown tokens.
    buffer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter([w for w, _ in _word_counts()]), model_writer=buffer,
                vocab_size=60, hard_vocab_limit=False, unk_id=0, bos_id=1, eos_id=2,
                pad_id=-1, minloglevel=2)
    without_fallback = keras_hub.models.XLMRobertaTokenizer(proto=buffer.getvalue())
    assert vocabulary.unknown_token_rate(without_fallback, unseen) > 0.2


def test_word_counts_from_transform_output_or_from_the_examples(tmp_path):
    assets = tmp_path / "transform" / "transform_fn" / "assets"
    assets.mkdir(parents=True)
    (assets / "corpus_word_counts").write_text("7 shoes\n2 schuhe\n", encoding="utf-8")
    assert vocabulary.corpus_word_counts(str(tmp_path / "transform"), []) == [
        ("shoes", 7), ("schuhe", 2)]

    train = _write_split(str(tmp_path / "train"), ROWS)
    counts = dict(vocabulary.corpus_word_counts(None, [train]))
    assert counts["shoes"] >= 2 and counts["туфли"] >= 2 and counts["trainers"] == 1
    # A Transform output without the vocabulary falls back to counting too.
    assert dict(vocabulary.corpus_word_counts(str(tmp_path / "train"), [train])) == counts


def test_default_preset_trains_exports_and_serves_in_a_fresh_process(tmp_path, proto):
    config = TeacherConfig(**TINY)
    preset = write_default_preset(str(tmp_path / "preset"), proto, config, NUM_GRADES)
    teacher = TeacherModel.from_preset(preset, NUM_GRADES, config)
    teacher.compile(config, total_steps=1)
    train = task.labeled_dataset([_write_split(str(tmp_path / "train"), ROWS)], teacher,
                                 batch_size=4)
    features, labels = next(iter(train))
    # Tokenized once, for the preprocessor-free training model that shares the weights.
    assert set(features) == set(teacher.input_names)
    # Each batch is cut to its longest row.
    longest = int(tf.reduce_max(tf.reduce_sum(tf.cast(features["padding_mask"], tf.int32), 1)))
    assert features["token_ids"].shape == (4, longest) and longest <= config.sequence_length
    assert labels.numpy().tolist() == [row[-1] - 1 for row in ROWS[:4]]
    history = teacher.training_model.fit(train.take(1), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])

    export_dir = str(tmp_path / "export")
    from models.export import save_serving_module
    save_serving_module(teacher.serving_module(), export_dir)
    served = _serve_in_fresh_process(export_dir)
    _assert_probabilities(served["raw"], 2)
    _assert_probabilities(served["examples"], 3)
    assert all(1.0 <= score <= NUM_GRADES for score in served["raw_score"])

    # Same numbers as the in-process model: the graph holds all preprocessing.
    raw = {name: tf.constant(["", ""]) for name in contract.RAW_SIGNATURE_INPUTS}
    raw.update(query=tf.constant(["red shoes", "red shoes"]),
               title=tf.constant(["Red running shoes", "Κόκκινα παπούτσια"]),
               board_titles=tf.constant(["shoes\nrunning", ""]))
    np.testing.assert_allclose(teacher.predict_probabilities(raw).numpy(), served["raw"],
                               atol=1e-5)


def test_run_fn_end_to_end_with_the_default_preset(tmp_path):
    train = _write_split(str(tmp_path / "examples" / "Split-train"), ROWS, copies=2)
    unlabeled = [row[:4] + (None,) for row in ROWS[:2]]
    evaluation = _write_split(str(tmp_path / "examples" / "Split-eval"), ROWS[:4] + unlabeled)
    fn_args = FnArgs(
        train_files=[train],
        eval_files=[evaluation],
        transform_output=None,
        serving_model_dir=str(tmp_path / "serving"),
        model_run_dir=str(tmp_path / "run"),
        train_steps=2,
        eval_steps=None,
        custom_config={"num_grades": NUM_GRADES, "teacher": {**TINY, "epochs": 2}},
    )
    task.run_fn(fn_args)

    extra = tmp_path / "serving" / task.EXTRA_DIR
    record = json.loads((extra / task.CONFIG_FILE).read_text())
    assert record["num_grades"] == NUM_GRADES and record["teacher"]["hidden_dim"] == 16
    assert (extra / task.PRESET_DIR / "config.json").exists()
    assert any(name.startswith("events") for _, _, files in os.walk(tmp_path / "run")
               for name in files)
    # Loading and serving are covered above; here the exported signatures are checked
    # from the SavedModel proto, which is much cheaper than loading the graph again.
    saved_model = loader_impl.parse_saved_model(str(tmp_path / "serving"))
    signatures = saved_model.meta_graphs[0].signature_def
    assert set(signatures) >= {contract.SIGNATURE_RAW, contract.SIGNATURE_EXAMPLES}
    assert set(signatures[contract.SIGNATURE_RAW].inputs) == set(contract.RAW_SIGNATURE_INPUTS)
    probabilities = signatures[contract.SIGNATURE_EXAMPLES].outputs[
        contract.OUTPUT_PROBABILITIES]
    assert [d.size for d in probabilities.tensor_shape.dim] == [-1, NUM_GRADES]


def test_run_fn_trains_a_gguf_decoder_with_lora_for_a_wall_clock_budget(tmp_path):
    """The decoder teacher path smollm2-135m takes (a Llama converted from a GGUF file,
    LoRA, last-token pooling) inside the Trainer's run_fn, stopped by its time budget
    long before its epoch cap, exported with the same signatures."""
    from support.gguf_test_file import write_tiny_llama_gguf
    from trainer.teacher.presets.llama_converter import convert_llama_gguf

    preset = convert_llama_gguf(write_tiny_llama_gguf(str(tmp_path / "tiny.gguf")),
                                str(tmp_path / "preset"))
    train = _write_split(str(tmp_path / "examples" / "Split-train"), ROWS, copies=2)
    fn_args = FnArgs(
        train_files=[train], eval_files=[], transform_output=None,
        serving_model_dir=str(tmp_path / "serving"), model_run_dir=None,
        train_steps=None, eval_steps=None,
        custom_config={"num_grades": NUM_GRADES, "teacher": {
            "preset": preset, "lora_rank": 2, "sequence_length": 32, "batch_size": 4,
            "epochs": 10_000, "train_seconds": 2.0, "mixed_precision": "off"}},
    )
    summary = task.run_fn(fn_args)

    assert summary["budget_steps"] >= 1
    assert len(summary["epoch_seconds"]) < 10_000
    record = json.loads((tmp_path / "serving" / task.EXTRA_DIR / task.CONFIG_FILE).read_text())
    assert (record["teacher"]["lora_rank"], record["teacher"]["train_seconds"]) == (2, 2.0)
    assert record["training"]["steps"] == summary["budget_steps"]
    assert record["training"]["num_train"] == 2 * len(ROWS)
    signatures = loader_impl.parse_saved_model(
        str(tmp_path / "serving")).meta_graphs[0].signature_def
    assert set(signatures) >= {contract.SIGNATURE_RAW, contract.SIGNATURE_EXAMPLES}


def test_time_budget_sets_the_rate_and_stops_training():
    import keras

    from trainer.teacher.time_budget import TimeBudget

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=1.0), loss="mse")
    budget = TimeBudget(seconds=1e-3, peak_learning_rate=0.5)
    x = np.zeros((64, 2), "float32")
    history = model.fit(x, x[:, :1], batch_size=1, epochs=50, callbacks=[budget], verbose=0)
    # Spent before the second batch: the rest of the epoch and every later epoch skipped.
    assert len(history.history["loss"]) == 1 and budget.steps <= 2
    assert float(model.optimizer.learning_rate.numpy()) == 0.0  # the end of the schedule
    with pytest.raises(ValueError):
        TimeBudget(seconds=0, peak_learning_rate=1e-3)


def test_a_dropped_field_never_reaches_the_teacher(tmp_path, proto):
    # As `relevance run --teacher-drop-field description` configures it (tests/test_cli.py).
    config = TeacherConfig.from_dict(
        {**TINY, "fields": [f for f in contract.ITEM_TEXT_FIELDS if f != "description"]})
    preset = write_default_preset(str(tmp_path / "preset"), proto, config, NUM_GRADES)
    teacher = TeacherModel.from_preset(preset, NUM_GRADES, config)
    raw = {name: tf.constant(["", ""]) for name in contract.RAW_SIGNATURE_INPUTS}
    raw.update(query=tf.constant(["red shoes", "red shoes"]),
               title=tf.constant(["Red running shoes", "Blue winter coat"]))
    with_description = dict(raw, description=tf.constant(["Light shoes for road", "Warm"]))
    _, item = teacher.segments(with_description)
    # The default teacher also marks the title words found in the query.
    assert [text.decode() for text in item.numpy()] == ["title: red⟧ running shoes⟧",
                                                        "title: blue winter coat"]
    np.testing.assert_array_equal(teacher.predict_probabilities(raw).numpy(),
                                  teacher.predict_probabilities(with_description).numpy())


def test_shuffled_batches_are_sorted_in_pools_and_cut_to_their_longest_row():
    lengths = [1, 9, 2, 8, 3, 7, 4, 6, 5, 10, 1, 9]
    mask = tf.constant([[True] * n + [False] * (12 - n) for n in lengths])
    inputs = {"token_ids": tf.cast(mask, tf.int32) * tf.range(1, 13)[:, None],
              "padding_mask": mask}
    examples = tf.data.Dataset.from_tensor_slices((inputs, tf.range(12)))
    batches = list(task.batched(examples, batch_size=3, shuffle=True, seed=1, length_pool=4))
    seen = []
    for features, labels in batches:
        row_lengths = tf.reduce_sum(tf.cast(features["padding_mask"], tf.int32), 1).numpy()
        assert features["token_ids"].shape[1] == row_lengths.max()
        # One pool holds every row here, so a batch spans three neighbouring lengths.
        assert row_lengths.max() - row_lengths.min() <= 3
        # Labels travel with their rows.
        assert [lengths[label] for label in labels.numpy()] == row_lengths.tolist()
        seen += labels.numpy().tolist()
    assert sorted(seen) == list(range(12))
    # Without shuffling the rows keep their order.
    ordered = list(task.batched(examples, batch_size=5))
    assert [int(x) for _, labels in ordered for x in labels] == list(range(12))
