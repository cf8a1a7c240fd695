"""The flags `relevance run`, `demo` and `compile` share: the model, pseudo-labeling, gate,
caption and item-embedding settings, and the run's working directory. No TensorFlow is imported.

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_model_flags(parser)
>>> parser.parse_args(["--num-grades", "4"]).num_grades
4
"""

import argparse

from cli.caption_flags import add_caption_flags
from cli.embedding_flags import add_item_embedding_flags
from cli.flag_checks import (
    AT_LEAST_ONE, NON_NEGATIVE, PERCENT, POSITIVE, PROBABILITY, float_between, int_at_least,
    num_grades, output_dir,
)
from cli.presets_cli import add_preset_cache_flag
from components.pseudo_labeler.config import LabelingConfig
from evaluation import gate_settings
from pipeline.config import DEFAULT_MODEL_NAME, PipelineConfig
from relevance import contract
from trainer.student.config import StudentConfig

# Held out of training for the gate: 0 leaves the gate nothing to judge the student on,
# 100 leaves nothing to train on.
EVAL_PERCENT = float_between(0.0, 100.0, low_open=True, high_open=True)
# [CLS] query [SEP] item [SEP] leaves no room for text below this.
MIN_SEQUENCE_LENGTH = 8


def feature_switch(text: str):
    """`NAME=on` / `NAME=off` to (NAME, True / False).

    >>> feature_switch("title_words=off")
    ('title_words', False)
    """
    name, _, state = text.partition("=")
    if not name or state not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"must be NAME=on or NAME=off, got {text!r}")
    return name, state == "on"


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--num-grades", type=num_grades, default=None,
                        help="G, the number of relevance grades (grades are 1..G); default 5, "
                             "or the data set's own G with --format crowdflower / xquad-r")
    parser.add_argument("--eval-percent", type=EVAL_PERCENT, default=PipelineConfig.eval_percent,
                        help="share of labeled queries held out for evaluation, > 0 and < 100 "
                             "(default 20)")
    parser.add_argument("--teacher-preset", default=None, metavar="NAME_OR_DIR",
                        help="the teacher's backbone: multilingual-e5-small (default; "
                             "pretrained, built once into the preset cache), smollm2-135m "
                             "(a pretrained decoder LLM, English, tuned with LoRA), "
                             "from-scratch (small, no pretraining: quick runs), a keras-hub "
                             "preset directory, or a keras-hub preset name")
    add_preset_cache_flag(parser)
    parser.add_argument("--teacher-epochs", type=AT_LEAST_ONE, default=None)
    parser.add_argument("--teacher-train-seconds", type=POSITIVE, default=None,
                        metavar="SECONDS",
                        help="train the teacher for this wall-clock budget (its learning-"
                             "rate schedule spans it; --teacher-epochs then only caps it)")
    parser.add_argument("--teacher-lora-rank", type=int_at_least(0), default=None,
                        help="LoRA rank on the backbone's attention projections, the rest "
                             "frozen; 0 = off (default: 8 for smollm2-135m, else 0)")
    parser.add_argument("--teacher-batch-size", type=AT_LEAST_ONE, default=None)
    parser.add_argument("--teacher-learning-rate", type=POSITIVE, default=None)
    parser.add_argument("--teacher-sequence-length", type=int_at_least(MIN_SEQUENCE_LENGTH),
                        default=None)
    parser.add_argument("--teacher-head-lr-multiplier", type=POSITIVE, default=None,
                        help="the teacher's head learns this many times as fast as its "
                             "backbone (default: 30 for pretrained presets, 1 for "
                             "from-scratch)")
    fields = ", ".join(contract.ITEM_TEXT_FIELDS)
    parser.add_argument("--teacher-fields", default=None, metavar="F1,F2,...",
                        help=f"item fields the teacher reads, comma-separated (default: all: "
                             f"{fields})")
    parser.add_argument("--teacher-drop-field", action="append", default=None, metavar="FIELD",
                        help="leave this item field out of the teacher's text, repeatable "
                             "(field ablations)")
    parser.add_argument("--teacher-mark-matches", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="mark item words that also occur in the query in the teacher's "
                             "text (default: off for pretrained presets, on for from-scratch)")
    parser.add_argument("--teacher-match-features", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="give the teacher's head the pair's word and character-bigram "
                             "query coverage (default: on for pretrained presets, off for "
                             "from-scratch)")
    parser.add_argument("--teacher-lexical-signals", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="give the teacher's head the student's BM25 signals per item "
                             "field, computed by the pipeline's Transform (default: off)")
    parser.add_argument("--teacher-listwise-weight", type=NON_NEGATIVE, default=None,
                        help="weight of the teacher's listwise term (softmax cross-entropy "
                             "over each query's candidates, graded gains) beside its "
                             "cross-entropy (default: 0, pointwise only)")
    parser.add_argument("--teacher-similarity-prior", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="add the pretrained encoder's own query/item cosine (a frozen "
                             "copy, as a bi-encoder) to the teacher's logits; encoder "
                             "presets only (default: on for multilingual-e5-small, off "
                             "for other presets)")
    parser.add_argument("--student-epochs", type=AT_LEAST_ONE, default=None)
    parser.add_argument("--student-train-steps", type=int_at_least(0), default=None,
                        help="optimiser steps of the student, spread over its epochs, "
                             "whatever the number of training rows (default 0: one pass "
                             "over the rows per epoch)")
    parser.add_argument("--student-human-weight", type=NON_NEGATIVE, default=None,
                        help="weight of cross-entropy on human grades in the student's loss "
                             "(default 1; 0 trains on pseudo-labels only)")
    parser.add_argument("--student-distill-weight", type=NON_NEGATIVE, default=None,
                        help="weight of the distillation term (KL to the teacher; default 1)")
    parser.add_argument("--student-temperature", type=POSITIVE, default=None,
                        help="distillation temperature T (default 2)")
    parser.add_argument("--student-min-teacher-spread", type=NON_NEGATIVE, default=None,
                        help="nats; when the teacher's log-probabilities vary across the "
                             "student's training rows by less than this, scale their "
                             "departures from each grade's mean up to it (default 0: off)")
    parser.add_argument("--student-listwise-weight", type=NON_NEGATIVE, default=None,
                        help="weight of the listwise term: KL between the softmax of the "
                             "teacher's and the student's expected grades over each query's "
                             "candidates; on, the student trains on batches that keep a "
                             "query's rows together (default 0: off)")
    parser.add_argument("--student-word-vectors", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="give the student word vectors distilled from the teacher's "
                             "pretrained encoder (default: on for pretrained teacher "
                             "presets, off for from-scratch)")
    parser.add_argument("--student-item-embeddings", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="let the student read the ItemEmbedder's item and query "
                             "embeddings (default: on; they exist with --item-embeddings)")
    parser.add_argument("--student-word-vector-dims", type=AT_LEAST_ONE, default=None,
                        help="dimensions the word vectors are reduced to by PCA (default 128)")
    parser.add_argument("--student-word-vectors-trainable",
                        action=argparse.BooleanOptionalAction, default=None,
                        help="fine-tune the word vectors with the student (default: frozen)")
    parser.add_argument("--student-word-vector-products",
                        action=argparse.BooleanOptionalAction, default=None,
                        help="feed the elementwise products of the pooled query and item "
                             "word vectors to the student's MLP, beside their cosines "
                             "(default: %s)" % ("on" if StudentConfig.word_vector_products
                                                else "off"))
    parser.add_argument("--student-ngram-embeddings",
                        action=argparse.BooleanOptionalAction, default=None,
                        help="also feed learned hashed n-gram embeddings to the student's "
                             "MLP (default: off; the n-grams enter through their exact "
                             "overlaps only)")
    parser.add_argument("--student-feature", type=feature_switch, action="append",
                        default=None, metavar="NAME=on|off",
                        help="turn a switchable student feature on or off (repeatable; "
                             "the features with a switch in trainer/student/features.py)")
    parser.add_argument("--confidence-threshold", type=PROBABILITY,
                        default=LabelingConfig.confidence_threshold,
                        help="drop pseudo-labels whose top grade probability is below this "
                             "(0 to 1)")
    parser.add_argument("--max-volume-multiple", type=NON_NEGATIVE,
                        default=LabelingConfig.max_volume_multiple,
                        help="keep at most this many pseudo-labels per human label (0: no cap)")
    parser.add_argument("--score-all-unlabeled", action="store_true",
                        help="when --max-volume-multiple binds, have the teacher score the "
                             "whole unlabeled pool and keep the most confident rows (default: "
                             "score only a sample, stratified by language and query, sized "
                             "from the cap; the rest count as not_sampled)")
    parser.add_argument("--min-student-accuracy", type=PROBABILITY,
                        default=PipelineConfig.min_student_accuracy,
                        help="the student is pushed only at or above this accuracy on the "
                             "held-out human grades")
    parser.add_argument("--student-tolerance", type=NON_NEGATIVE,
                        default=PipelineConfig.student_tolerance,
                        help="the student is pushed only within this of the teacher on every "
                             "gate metric (held-out human grades; default %(default)s), or "
                             "within --gate-z standard errors of the difference when wider")
    parser.add_argument("--gate-z", type=NON_NEGATIVE, default=PipelineConfig.gate_z,
                        help="the student-vs-teacher tolerance widens to this many paired "
                             "bootstrap standard errors (over the eval queries) of the "
                             "difference when that is more than --student-tolerance; 0: no "
                             "widening (default %(default)s)")
    parser.add_argument("--gate-resamples", type=int_at_least(2),
                        default=PipelineConfig.gate_resamples,
                        help="paired bootstrap resamples of the eval queries behind --gate-z "
                             "(fixed seed; default %(default)s)")
    parser.add_argument("--pushed-tolerance", type=NON_NEGATIVE,
                        default=PipelineConfig.pushed_tolerance,
                        help="the student may be at most this worse than the model pushed "
                             "last on every gate metric (default 0: not worse)")
    parser.add_argument("--gate-metrics", default=",".join(gate_settings.DEFAULT_GATE_METRICS),
                        metavar="M1,M2",
                        help="metrics the validation gate compares: accuracy, qwk, ndcg@5/10/20, "
                             "auroc_ge_T (default %(default)s)")
    parser.add_argument("--pseudo-eval-percent", type=PERCENT,
                        default=PipelineConfig.pseudo_eval_percent,
                        help="share of pseudo-labeled queries held out of the student's "
                             "training data and evaluated as label_source=pseudo, 0 to 100 "
                             "(default 10)")
    parser.add_argument("--beam-arg", action="append", default=None, metavar="ARG",
                        help="extra Beam pipeline argument, repeatable, e.g. "
                             "--beam-arg=--runner=FlinkRunner")
    add_caption_flags(parser)
    add_item_embedding_flags(parser)


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", required=True, type=output_dir,
                        help="directory for all outputs of the run")
    parser.add_argument("--model-name", default=DEFAULT_MODEL_NAME,
                        help="name of the served model: the push goes to WORKDIR/serving/NAME/VERSION")
    parser.add_argument("--no-cache", action="store_true",
                        help="re-run every component even if its inputs did not change")
    parser.add_argument("--verbose", action="store_true",
                        help="also show the frameworks' logs (always in WORKDIR/logs/run.log)")
    add_model_flags(parser)
