"""Student: distillation loss, config, and run_fn end to end on a tiny learnable corpus."""

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow.core.protobuf import saved_model_pb2
from tfx.components.trainer.fn_args_utils import FnArgs

from relevance import contract
from trainer.student import text_features as tx
from trainer.student.config import StudentConfig
from trainer.student.losses import DistillationLoss, pack_targets, soften
from trainer.student.model import QUERY_ENCODER, build_student_model
from trainer.student.task import run_fn, steps_per_epoch_of
from support.examples import float_feature, serialized_example, write_tfrecord
from support.transform_output import build_transform_output

G = 5
WORDS = (
    "red blue green shoes boots hat chair table lamp garden kitchen sofa wooden metal "
    "vintage modern summer winter dress jacket ring necklace cake bread coffee tea "
    "東京 京都 夜景 카페"
).split()
# A stand-in for the ItemEmbedder's output: each word a random unit vector, a text the
# normalised sum of its words' (the title for an item), D of them.
D = 8
WORD_EMBEDDINGS = dict(zip(WORDS, np.random.default_rng(3).normal(size=(len(WORDS), D))))


def _text_embedding(text):
    total = sum(WORD_EMBEDDINGS[word] for word in text.lower().split() if word in WORD_EMBEDDINGS)
    return (total / max(np.linalg.norm(total), 1e-9)).tolist()


# --------------------------------------------------------------------------- loss


def test_loss_matches_hand_computed_values():
    teacher = np.array([[0.7, 0.2, 0.1]], "float32")
    logits = np.array([[1.0, 0.0, -1.0]], "float32")
    q = np.exp(logits) / np.exp(logits).sum()
    kl = float(np.sum(teacher * np.log(teacher / q)))
    no_grade = pack_targets(teacher, [0], 3)
    assert float(DistillationLoss(3, 1.0)(no_grade, logits)) == pytest.approx(kl, rel=1e-4, abs=1e-6)

    graded = pack_targets(teacher, [2], 3)  # grade 2 -> class 1
    expected = 0.5 * kl + 2.0 * -np.log(q[0, 1])
    loss = DistillationLoss(3, 1.0, distill_weight=0.5, human_weight=2.0)
    assert float(loss(graded, logits)) == pytest.approx(expected, rel=1e-4)


def test_loss_temperature_softens_both_sides_and_scales_by_t_squared():
    teacher = np.array([[0.64, 0.36, 0.0]], "float32")
    logits = np.array([[2.0, 0.0, 0.0]], "float32")
    t = 2.0
    p_t = np.array([0.8, 0.6, 0.0]) / 1.4  # sqrt, renormalised
    np.testing.assert_allclose(soften(teacher, t).numpy()[0], p_t, rtol=1e-5)
    q_t = np.exp(logits[0] / t) / np.exp(logits[0] / t).sum()
    kl = sum(p * np.log(p / q) for p, q in zip(p_t, q_t) if p > 0)
    loss = DistillationLoss(3, t, human_weight=0.0)(pack_targets(teacher, [1], 3), logits)
    assert float(loss) == pytest.approx(t * t * kl, rel=1e-4, abs=1e-6)


def test_loss_averages_over_the_batch_with_the_human_mask():
    teacher = np.full((2, 2), 0.5, "float32")
    logits = np.zeros((2, 2), "float32")
    targets = pack_targets(teacher, [1, 0], 2)  # only row 0 has a human grade
    assert float(DistillationLoss(2)(targets, logits)) == pytest.approx(np.log(2) / 2, rel=1e-5)


def test_config_round_trip_refuses_unknown_keys():
    config = StudentConfig.from_dict({"hidden_units": [8], "epochs": 2})
    assert config.hidden_units == (8,) and config.epochs == 2
    assert StudentConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="'hiden_units' \\(did you mean 'hidden_units'\\?\\)"):
        StudentConfig.from_dict({"hiden_units": [8]})


def test_a_step_budget_fixes_the_steps_whatever_the_rows():
    # Config first, then the Trainer's TrainArgs.num_steps; none: one pass per epoch.
    assert steps_per_epoch_of(StudentConfig(epochs=3, train_steps=100), 40) == 34
    assert steps_per_epoch_of(StudentConfig(epochs=2), 40) == 20
    assert steps_per_epoch_of(StudentConfig(epochs=2), None) is None
    assert steps_per_epoch_of(StudentConfig(epochs=5, train_steps=2), None) == 1


# ------------------------------------------------------------ serving fast paths

_TRICKY_TEXTS = [
    "Red SHOES, size 42!", "a...b,,,c;;;d e", "tabs\tand\vform\ffeeds\rhere\nnewline",
    "", "   ", "!!!", "$100 + 50% off | <b>bold</b> [x]{y}~`^", "hello-world_foo.bar",
    "Ünïcödé — café «crème» 42€", "東京タワー,tokyo; tower", "ΣΊΣΥΦΟΣ naïve:résumé/2",
    "\u00a0nbsp\u3000ideographic 👍🏽", "x" * 300 + " tail",
]


def test_splitting_case_folded_text_gives_the_normalised_whitespace_tokens():
    # The serving graph splits `fold_case` text on whitespace + ASCII punctuation with
    # StringSplit instead of regex-replacing punctuation and then splitting on
    # whitespace: the tokens must be the same, ASCII-only batches and mixed ones alike.
    for texts in (_TRICKY_TEXTS, [t for t in _TRICKY_TEXTS if t.isascii()]):
        texts = tf.constant(texts)
        reference = tf.strings.split(tx.normalize_text(texts))
        fast = tx.split_tokens(tx.fold_case(texts))
        assert fast.to_list() == reference.to_list()
        assert tx.tokenize(texts).to_list() == reference.to_list()


def test_char_ngrams_of_ascii_text_match_the_unicode_path():
    # An all-ASCII batch takes the raw-byte path; adding one non-ASCII text sends the
    # whole batch through UnicodeDecode. Both must give the same ids, wherever a
    # non-ASCII byte sits in the bytes the ASCII test reads.
    ascii_texts = [t for t in _TRICKY_TEXTS if t.isascii()]
    fast = tx.char_ngram_ids(tx.normalize_text(tf.constant(ascii_texts)), 64).numpy()
    # Every byte lane of the 8-byte words, early enough to reach the 64 trigram slots.
    for position in range(0, 60, 3):
        odd = "a" * position + "é" + " word"
        mixed = tx.char_ngram_ids(tx.normalize_text(tf.constant(ascii_texts + [odd])), 64)
        np.testing.assert_array_equal(mixed.numpy()[:-1], fast)
        # Alone, the text is detected as non-ASCII too: same ids as beside an "é" at
        # byte 0, which surely sends the batch through UnicodeDecode.
        alone = tx.char_ngram_ids(tx.normalize_text(tf.constant([odd])), 64).numpy()
        unicode_path = tx.char_ngram_ids(tx.normalize_text(tf.constant([odd, "é"])), 64)
        np.testing.assert_array_equal(alone[0], unicode_path.numpy()[0])
        np.testing.assert_array_equal(mixed.numpy()[-1], unicode_path.numpy()[0])


# ------------------------------------------------------------------- end to end


def _make_row(rng: random.Random, query_words=None):
    """A row whose grade follows lexical overlap: 5 both query words, 3 one, 1 none.
    Two random query words unless `query_words` (candidates of one query) are given."""
    query_words = query_words or rng.sample(WORDS, 2)
    others = [w for w in WORDS if w not in query_words]
    grade = rng.choices([1, 3, 5], weights=[0.4, 0.3, 0.3])[0]
    shown = {1: [], 3: query_words[:1], 5: query_words}[grade]
    title = shown + rng.sample(others, 2)
    rng.shuffle(title)
    row = {name: "" for name in contract.SCALAR_STRING_FEATURES}
    row.update(
        query=" ".join(query_words),
        item_id=str(rng.random()),
        title=" ".join(title).title(),
        description=" ".join(rng.sample(others, 4)),
        engaged_queries=[" ".join(rng.sample(others, 2))],
        board_titles=[],
    )
    return row, grade


def _soft_label(grade, rng):
    # A plausible, slightly noisy teacher that mostly agrees with the true grade.
    probabilities = np.full(G, 0.04) + np.array([rng.random() * 0.02 for _ in range(G)])
    probabilities[grade - 1] = 0.8
    return (probabilities / probabilities.sum()).tolist()


def _to_example(row, grade=None, soft_label=None, source=None, embeddings=True):
    features = dict(row)
    features[contract.GRADE] = grade or None
    if embeddings:
        features[contract.ITEM_EMBEDDING] = float_feature(_text_embedding(row["title"]))
        features[contract.QUERY_EMBEDDING] = float_feature(_text_embedding(row["query"]))
    if soft_label:
        features[contract.SOFT_LABEL] = float_feature(soft_label)
        features[contract.LABEL_SOURCE] = source
    return serialized_example(features)


def _write(path, serialized):
    write_tfrecord(path, serialized)


def _tiny_encoder_preset(directory):
    from trainer.teacher.config import TeacherConfig
    from trainer.teacher.default_preset import write_default_preset
    from trainer.teacher.vocabulary import train_sentencepiece

    config = TeacherConfig(preset="from-scratch", hidden_dim=16, num_layers=1, num_heads=2,
                           intermediate_dim=32, sequence_length=16)
    proto = train_sentencepiece([(word, 3) for word in WORDS], vocabulary_size=400)
    return write_default_preset(directory, proto, config, num_grades=G)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("student")
    rng = random.Random(7)
    train = [_make_row(rng) for _ in range(800)]
    evaluation = [_make_row(rng) for _ in range(150)]
    held_out = [_make_row(rng) for _ in range(300)]

    transform_dir = build_transform_output([row for row, _ in train], str(root / "transform"))
    # First quarter human-graded, the rest pseudo-labeled (no grade).
    train_examples = [
        _to_example(row, grade if i < 200 else None, _soft_label(grade, rng),
                    contract.LABEL_SOURCE_HUMAN if i < 200 else contract.LABEL_SOURCE_PSEUDO)
        for i, (row, grade) in enumerate(train)
    ]
    eval_examples = [
        _to_example(row, grade, _soft_label(grade, rng), contract.LABEL_SOURCE_HUMAN)
        for row, grade in evaluation
    ]
    (root / "train").mkdir()
    (root / "eval").mkdir()
    _write(str(root / "train" / "data-00000-of-00002.gz"), train_examples[:400])
    _write(str(root / "train" / "data-00001-of-00002.gz"), train_examples[400:])
    _write(str(root / "eval" / "data-00000-of-00001.gz"), eval_examples)

    # Word vectors from a tiny random encoder preset: the export must carry the table
    # with core ops only, like the rest (the pretrained preset is measured in bench/).
    preset = _tiny_encoder_preset(str(root / "preset"))
    fn_args = FnArgs(
        train_files=[str(root / "train" / "*")],
        eval_files=[str(root / "eval" / "*")],
        transform_output=transform_dir,
        serving_model_dir=str(root / "serving"),
        model_run_dir=str(root / "run"),
        train_steps=40,
        eval_steps=2,
        custom_config={
            "num_grades": G,
            "student": {"embedding_dim": 16, "epochs": 2, "batch_size": 64,
                        "learning_rate": 0.01, "temperature": 2.0,
                        "word_vectors_preset": preset, "word_vector_dims": 8,
                        "preset_cache_dir": str(root / "cache")},
        },
    )
    run_fn(fn_args)
    return fn_args, tf.saved_model.load(fn_args.serving_model_dir), held_out


def test_serving_default_scores_one_query_against_candidates(trained):
    fn_args, loaded, _ = trained
    n = 4
    inputs = {name: tf.constant(["red garden chair", "blue hat", "", "東京 夜景"][:n])
              for name in contract.ITEM_TEXT_FIELDS}
    inputs["engaged_queries"] = tf.constant(["a\nb", "", "red chair", ""])
    out = loaded.signatures[contract.SIGNATURE_RAW](query=tf.constant(["red chair"]), **inputs)
    probabilities = out[contract.OUTPUT_PROBABILITIES].numpy()
    assert probabilities.shape == (n, G)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    score = out[contract.OUTPUT_SCORE].numpy()
    assert ((score >= 1) & (score <= G)).all()
    assert os.listdir(fn_args.model_run_dir)  # TensorBoard logs and config


def test_word_vectors_are_distilled_once_and_exported_in_int8(trained):
    fn_args, _, _ = trained
    cache = os.path.join(os.path.dirname(fn_args.serving_model_dir), "cache")
    entries = [name for name in os.listdir(cache) if name.startswith("word-vectors-")]
    assert len(entries) == 1, entries
    vectors = np.load(os.path.join(cache, entries[0], "vectors.npy"))
    assert vectors.shape[1] == 8 and vectors.shape[0] >= len(WORDS)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)
    variables = os.path.join(fn_args.serving_model_dir, "variables", "variables")
    checkpoint = tf.train.load_checkpoint(variables)
    names = [name for name, shape in tf.train.list_variables(variables)
             if tuple(shape) == (vectors.shape[0] + 1, 8)]
    assert len(names) == 1, names  # one table, and no optimizer slots beside it
    table = checkpoint.get_tensor(names[0])
    scale = checkpoint.get_tensor(names[0].replace("/vectors/", "/scale/"))
    assert table.dtype == np.int8
    np.testing.assert_allclose(table[1:] * scale, vectors, atol=scale)
    assert not table[0].any()  # row 0: padding and unknown words

    # A second student on the same vocabulary reads the cache instead of the encoder.
    from trainer.student.config import StudentConfig
    from trainer.student.task import load_word_vectors

    config = StudentConfig.from_dict({**fn_args.custom_config["student"],
                                      "word_vectors_preset": "/no/such/preset"})
    with pytest.raises(Exception):  # another preset is another cache entry: not found
        load_word_vectors(config, tft.TFTransformOutput(fn_args.transform_output))
    again = load_word_vectors(StudentConfig.from_dict(fn_args.custom_config["student"]),
                              tft.TFTransformOutput(fn_args.transform_output))
    np.testing.assert_array_equal(again, vectors)


@pytest.mark.parametrize("with_embeddings", [True, False])
def test_serving_examples_signature_and_beats_majority(trained, with_embeddings):
    _, loaded, held_out = trained
    examples = tf.constant([_to_example(row, embeddings=with_embeddings) for row, _ in held_out])
    out = loaded.signatures[contract.SIGNATURE_EXAMPLES](examples=examples)
    probabilities = out[contract.OUTPUT_PROBABILITIES].numpy()
    assert probabilities.shape == (len(held_out), G)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # A row without an item embedding is answered from the other features, and says so.
    assert (out[contract.OUTPUT_EMBEDDING_USED].numpy() == float(with_embeddings)).all()
    grades = np.array([grade for _, grade in held_out])
    accuracy = float(np.mean(probabilities.argmax(axis=1) + 1 == grades))
    majority = max(np.mean(grades == g) for g in range(1, G + 1))
    assert accuracy > majority + 0.15, (accuracy, majority)


def test_embedded_signature_takes_item_embeddings_and_flags_a_wrong_width(trained):
    _, loaded, held_out = trained
    rows = [row for row, _ in held_out[:3]]
    inputs = {name: tf.constant([row[name] if isinstance(row[name], str)
                                 else "\n".join(row[name]) for row in rows])
              for name in contract.ITEM_TEXT_FIELDS}
    embeddings = np.array([_text_embedding(row["title"]) for row in rows], "float32")
    signature = loaded.signatures[contract.SIGNATURE_EMBEDDED]
    out = signature(query=tf.constant([row["query"] for row in rows]),
                    item_embedding=tf.constant(embeddings), **inputs)
    assert out[contract.OUTPUT_EMBEDDING_USED].numpy().tolist() == [1.0, 1.0, 1.0]
    examples = loaded.signatures[contract.SIGNATURE_EXAMPLES](
        examples=tf.constant([_to_example(row) for row in rows]))
    np.testing.assert_allclose(out[contract.OUTPUT_PROBABILITIES],
                               examples[contract.OUTPUT_PROBABILITIES], atol=1e-5)
    narrow = signature(query=tf.constant([row["query"] for row in rows]),
                       item_embedding=tf.constant(embeddings[:, :D - 1]), **inputs)
    assert narrow[contract.OUTPUT_EMBEDDING_USED].numpy().tolist() == [0.0, 0.0, 0.0]


def test_query_tower_agrees_with_the_encoder_and_the_cache_holds_training_queries(trained):
    fn_args, _, _ = trained
    with open(os.path.join(fn_args.model_run_dir, "student_config.json")) as handle:
        written = json.load(handle)
    assert written["item_embedding_dims"] == D
    report = written["query_side"]
    # Queries are two of 30 words: the tower sees most pairs and can learn the sum.
    assert report["tower_cosine_training"] > 0.8, report
    assert 1 <= report["tower_epochs"] <= fn_args.custom_config["student"].get(
        "query_tower_epochs", StudentConfig().query_tower_epochs)
    assert report["tower_cosine_unseen"] > 0.6, report
    assert 0 < report["cache_size"] <= report["training_queries"]
    assert 0 < report["cache_hit_rate_evaluation_rows"] < 1


@pytest.mark.parametrize("trainable", [False, True])
def test_the_fitted_query_tower_is_frozen_unless_configured_trainable(trained, trainable):
    from trainer.student.query_side import prepare_query_side
    from trainer.student.task import load_word_vectors
    from models.transform_inputs import TransformInputAdapter

    fn_args, _, _ = trained
    config = StudentConfig.from_dict({**fn_args.custom_config["student"],
                                      "query_tower_epochs": 1,
                                      "query_tower_trainable": trainable})
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    model = build_student_model(config, G, load_word_vectors(config, tft_output), D)
    train_files = tf.io.gfile.glob(fn_args.train_files[0])
    eval_files = tf.io.gfile.glob(fn_args.eval_files[0])
    prepare_query_side(model, config, tft_output.transform_features_layer(),
                       TransformInputAdapter(tft_output.raw_feature_spec()), train_files,
                       eval_files, D, progress=lambda line: None)
    tower = model.get_layer(QUERY_ENCODER).get_layer("query_tower")
    assert tower.trainable is trainable
    assert bool(tower.trainable_weights) is trainable


_CHECK_OPS = """
import json, sys
import tensorflow as tf
from tensorflow.python.framework import op_def_registry
ops = json.load(sys.stdin)
print(json.dumps(sorted(op for op in ops if op_def_registry.get(op) is None)))
"""


def test_serving_graph_uses_only_core_tensorflow_ops(trained):
    fn_args, _, _ = trained
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(fn_args.serving_model_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    op_types = set()
    for meta_graph in saved_model.meta_graphs:
        op_types.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            op_types.update(node.op for node in function.node_def)
    # Function calls name library functions, not ops.
    library = {f.signature.name for mg in saved_model.meta_graphs
               for f in mg.graph_def.library.function}
    op_types -= library
    assert "StaticRegexReplace" in op_types or "RegexReplace" in op_types
    # A fresh interpreter that imports only TensorFlow knows exactly the core ops.
    result = subprocess.run(
        [sys.executable, "-c", _CHECK_OPS], input=json.dumps(sorted(op_types)),
        capture_output=True, text=True, check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_vocabulary_tables_are_initialised_once_not_per_call(trained):
    fn_args, _, _ = trained
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(fn_args.serving_model_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    initialising = {
        function.signature.name
        for meta_graph in saved_model.meta_graphs
        for function in meta_graph.graph_def.library.function
        if any(node.op.startswith("InitializeTable") for node in function.node_def)
    }
    assert initialising  # the Transform's vocabulary tables exist...
    # ...and only table initialisers (run once at load) fill them, never a serving call.
    assert all("initializer" in name for name in initialising), initialising
