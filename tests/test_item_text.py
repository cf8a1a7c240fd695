"""The teacher's item text: field order and markers, budgets, lists, missing fields."""

import pytest
import tensorflow as tf

from relevance import contract
from trainer.teacher.config import TeacherConfig
from trainer.teacher.item_text import MATCH_MARKER, ItemTextBuilder, truncate_words


def _raw(**fields):
    """One candidate per entry; every raw field present, empty unless given."""
    size = len(next(iter(fields.values())))
    raw = {name: tf.constant([""] * size) for name in contract.RAW_SIGNATURE_INPUTS}
    raw.update({name: tf.constant(values) for name, values in fields.items()})
    return raw


def _decode(tensor):
    return [value.decode("utf-8") for value in tensor.numpy().tolist()]


def test_fields_in_contract_order_with_markers_and_empty_fields_skipped():
    builder = ItemTextBuilder()
    query, item = builder(
        _raw(query=["  Red   Shoes "], board_titles=["Outfits"], title=["Nike Air"],
             image_caption=["a red shoe"])
    )
    assert _decode(query) == ["red shoes"]
    assert _decode(item) == ["title: nike air | caption: a red shoe | boards: outfits"]


def test_budgets_keep_a_long_description_from_crowding_out_later_fields():
    builder = ItemTextBuilder(field_budgets={"description": 3, "title": 2})
    long_text = " ".join(f"w{i}" for i in range(500))
    _, item = builder(
        _raw(query=["q"], title=["one two three"], description=[long_text],
             board_titles=["my board"])
    )
    assert _decode(item) == ["title: one two | description: w0 w1 w2 | boards: my board"]


def test_character_cap_bounds_text_without_spaces():
    text = "中" * 1000
    assert len(_decode(truncate_words(tf.constant([text]), 2))[0]) == 16


def test_lists_split_deduplicated_and_capped():
    builder = ItemTextBuilder(fields=("engaged_queries",), max_list_entries=3,
                              field_budgets={"engaged_queries": 50})
    entries = contract.LIST_SEPARATOR.join(
        ["Red shoes", "red  shoes", "", "  ", "blue shoes", "red shoes", "boots", "sandals"]
    )
    _, item = builder(_raw(query=["q", "q"], engaged_queries=[entries, ""]))
    assert _decode(item) == ["searches: red shoes; blue shoes; boots", ""]


def test_list_budget_counts_words_over_all_entries():
    builder = ItemTextBuilder(fields=("board_titles",), field_budgets={"board_titles": 3})
    _, item = builder(_raw(query=["q"], board_titles=["summer outfits\nred shoes\nboots"]))
    assert _decode(item) == ["boards: summer outfits; red"]


def test_missing_fields_and_field_selection_for_ablations():
    builder = ItemTextBuilder.from_config(TeacherConfig(preset="from-scratch",
                                                               fields=("image_caption", "title")))
    raw = {"query": tf.constant(["q", "q"]), "title": tf.constant(["T", ""])}
    _, item = builder(raw)  # image_caption absent from the dict entirely
    assert _decode(item) == ["title: t", ""]


def test_runs_in_a_graph_on_unicode_and_invalid_bytes():
    builder = ItemTextBuilder(lowercase=True)
    fn = tf.function(lambda raw: builder(raw))
    query, item = fn(_raw(query=["ΚΌΚΚΙΝΑ"], title=[b"ok \xff bad".decode("latin-1")]))
    assert _decode(query) == ["κόκκινα"]
    query, item = fn({**_raw(query=["q"]), "title": tf.constant([b"ok \xff"])})
    assert _decode(item)[0].startswith("title: ok ")


def test_config_round_trip_and_partial_budgets():
    config = TeacherConfig.from_dict({"field_budgets": {"title": 4}, "fields": ["title"]})
    assert config.field_budgets["title"] == 4 and config.field_budgets["description"] > 0
    assert TeacherConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="'field_budget' \\(did you mean 'field_budgets'\\?\\)"):
        TeacherConfig.from_dict({"field_budget": {"title": 4}})


def test_item_words_found_in_the_query_are_marked_in_every_field():
    builder = ItemTextBuilder(mark_query_matches=True)
    _, item = builder(
        _raw(query=["Red SHOES"], title=["Bright red running shoes, red!"],
             board_titles=["Shoes\nOutfits"])
    )
    m = MATCH_MARKER
    assert _decode(item) == [
        f"title: bright red{m} running shoes,{m} red!{m} | boards: shoes;{m} outfits"]


def test_no_marks_without_overlap_or_query_or_when_off():
    on, off = ItemTextBuilder(mark_query_matches=True), ItemTextBuilder()
    raw = _raw(query=["blue boots", "", "red"], title=["red shoes", "red shoes", "shoes"])
    assert _decode(on(raw)[1]) == ["title: red shoes", "title: red shoes", "title: shoes"]
    assert _decode(off(_raw(query=["red"], title=["red shoes"]))[1]) == ["title: red shoes"]


def test_marks_non_latin_scripts_in_a_graph():
    builder = ItemTextBuilder(fields=("title",), mark_query_matches=True)
    _, item = tf.function(builder)(
        _raw(query=["Красные туфли", "赤い 靴"], title=["КРАСНЫЕ туфли для бега", "靴 と 帽子"])
    )
    m = MATCH_MARKER
    assert _decode(item) == [f"title: красные{m} туфли{m} для бега", f"title: 靴{m} と 帽子"]


def test_marking_follows_the_kind_of_teacher_and_can_be_switched():
    assert TeacherConfig(preset="from-scratch").marks_query_matches() is True
    assert TeacherConfig().marks_query_matches() is False  # the pretrained default
    assert TeacherConfig(mark_query_matches=True).marks_query_matches() is True
    assert TeacherConfig(preset="x", mark_query_matches=False).marks_query_matches() is False
    assert ItemTextBuilder.from_config(TeacherConfig(preset="from-scratch")).mark_query_matches


def test_defaults_follow_the_kind_of_teacher():
    scratch, pretrained = TeacherConfig(preset="from-scratch"), TeacherConfig()
    assert (scratch.epochs, scratch.learning_rate, scratch.lowercase) == (20, 1e-3, True)
    assert (pretrained.epochs, pretrained.learning_rate, pretrained.lowercase) == (3, 3e-5, False)
    assert (pretrained.sequence_length, pretrained.head_learning_rate_multiplier) == (128, 30.0)
    assert (scratch.sequence_length, scratch.head_learning_rate_multiplier) == (64, 1.0)
    assert pretrained.match_features and not scratch.match_features
    assert pretrained.freeze_embeddings and not scratch.freeze_embeddings
    assert TeacherConfig(epochs=7).epochs == 7  # explicit values win
