"""The teacher's head reading the student's BM25 signals through the Transform graph."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow.python.saved_model import loader_impl
from tfx.components.trainer.fn_args_utils import FnArgs

from relevance import contract
from models.export import save_serving_module
from trainer.student import text_features as tx
from trainer.teacher import lexical_signals as signals
from trainer.teacher import task
from trainer.teacher.config import TeacherConfig
from trainer.teacher.default_preset import write_default_preset
from trainer.teacher.lexical_signals import LexicalSignals
from trainer.teacher.model import TeacherModel
from trainer.teacher.vocabulary import train_sentencepiece
from support.transform_output import build_transform_output
from test_teacher import NUM_GRADES, ROWS, TINY, _write_split


def _raw_row(query, title, description, boards, _grade=None):
    row = {name: "" for name in contract.SCALAR_STRING_FEATURES}
    row.update(query=query, title=title, description=description)
    row.update(board_titles=list(boards), engaged_queries=[])
    return row


def _raw(rows):
    raw = {name: tf.constant([""] * len(rows)) for name in contract.RAW_SIGNATURE_INPUTS}
    raw.update(query=tf.constant([r[0] for r in rows]), title=tf.constant([r[1] for r in rows]),
               description=tf.constant([r[2] for r in rows]),
               board_titles=tf.constant([contract.LIST_SEPARATOR.join(r[3]) for r in rows]))
    return raw


@pytest.fixture(scope="module")
def transform_dir(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("transform"))
    return build_transform_output([_raw_row(*row) for row in ROWS], directory)


def test_signals_rank_the_matching_item_first_and_share_is_a_share(transform_dir):
    lexical = LexicalSignals(tft.TFTransformOutput(transform_dir))
    values = lexical(_raw(ROWS)).numpy()
    assert values.shape == (len(ROWS), 3 * tx.NUM_LEXICAL_FIELDS + 1) == (len(ROWS), lexical.width)
    fields = tx.NUM_LEXICAL_FIELDS
    everything = tx.LEXICAL_FIELDS.index(tx.ALL_ITEM_TEXT)
    bm25, coverage, share = (values[:, k * fields + everything] for k in range(3))
    # Each query's first row holds its words, the second does not.
    assert np.all(bm25[0::2] > bm25[1::2]) and np.all(coverage[0::2] > coverage[1::2])
    assert np.all((share >= 0) & (share <= 1)) and np.all(share[0::2] > 0)
    # log1p of the query's token count: two words each.
    np.testing.assert_allclose(values[:, -1], np.log1p(2.0), rtol=1e-6)


def test_a_teacher_with_signals_exports_the_transform_graph_and_serves_the_same(
        tmp_path, transform_dir):
    config = TeacherConfig(**TINY)
    proto = train_sentencepiece([("red", 3), ("shoes", 2), ("hose", 2)], vocabulary_size=300)
    preset = write_default_preset(str(tmp_path / "preset"), proto, config, NUM_GRADES)
    lexical = LexicalSignals(tft.TFTransformOutput(transform_dir))
    teacher = TeacherModel.from_preset(preset, NUM_GRADES, config, lexical_signals=lexical)
    assert signals.INPUT_NAME in teacher.input_names
    inputs = teacher.tokenize(_raw(ROWS))
    assert inputs[signals.INPUT_NAME].shape == (len(ROWS), lexical.width)
    # The head reads them: different signals, different logits.
    changed = dict(inputs, **{signals.INPUT_NAME: inputs[signals.INPUT_NAME] + 1.0})
    assert not np.allclose(teacher.network(inputs).numpy(), teacher.network(changed).numpy())

    export_dir = save_serving_module(teacher.serving_module(), str(tmp_path / "export"))
    served = tf.saved_model.load(export_dir).signatures[contract.SIGNATURE_RAW](**_raw(ROWS))
    np.testing.assert_allclose(served[contract.OUTPUT_PROBABILITIES].numpy(),
                               teacher.predict_probabilities(_raw(ROWS)).numpy(), atol=1e-5)

    with pytest.raises(ValueError, match="Transform graph"):
        TeacherModel(teacher.network, teacher.preprocessor, teacher.text_builder, NUM_GRADES)


def test_run_fn_reads_the_transform_graph_and_refuses_to_run_without_it(
        tmp_path, transform_dir):
    train = _write_split(str(tmp_path / "examples" / "Split-train"), ROWS, copies=2)
    evaluation = _write_split(str(tmp_path / "examples" / "Split-eval"), ROWS[:4])
    fn_args = FnArgs(
        train_files=[train], eval_files=[evaluation], transform_output=None,
        serving_model_dir=str(tmp_path / "serving"), model_run_dir=str(tmp_path / "run"),
        train_steps=2, eval_steps=None,
        custom_config={"num_grades": NUM_GRADES,
                       "teacher": {**TINY, "lexical_signals": True}})
    with pytest.raises(ValueError, match="transform_graph"):
        task.run_fn(fn_args)

    fn_args.transform_output = transform_dir
    task.run_fn(fn_args)
    saved_model = loader_impl.parse_saved_model(str(tmp_path / "serving"))
    assert set(saved_model.meta_graphs[0].signature_def) >= {
        contract.SIGNATURE_RAW, contract.SIGNATURE_EXAMPLES}
    # The Transform graph's vocabulary assets travel with the teacher.
    assert (tmp_path / "serving" / "assets").exists()
