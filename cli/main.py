"""The `relevance` command: demo, run, compile.

    relevance demo --workdir DIR
    relevance run --labeled PATH --unlabeled PATH --workdir DIR [--format F] [--num-grades G]
    relevance compile --runner kubeflow --output FILE.json
    relevance evaluate --model DIR [--model DIR ...] --data PATH --format FMT --output DIR
    relevance serve --model-base-path BASE/MODEL_NAME --model-name NAME --port P
    relevance score --server HOST:PORT --model-name NAME --query Q --candidates FILE.jsonl
    relevance embed-items --catalog FILE --space DIR --output FILE.jsonl
"""

import argparse
import json
import logging
import os
import sys
import time
from typing import Dict, List, Optional

from cli.caption_flags import caption_overrides, prepare_demo_captions
from cli.embedding_flags import item_embedding_overrides, item_embeddings_enabled
from cli.flag_checks import FlagParser, int_at_least, output_file
from cli.presets_cli import prepare_teacher_preset
from cli.run_flags import add_model_flags, add_run_flags
from cli.run_log import RunFailed, disk_full_message, routed_logs
from cli.workdir_lock import workdir_lock
from relevance import contract
from relevance.adapters import ADAPTERS, PIPELINE_INPUT_FORMATS
from relevance.errors import InputError
from relevance.readers import FORMATS

EXIT_USER_ERROR = 2
# Fewer demo rows leave too few queries for a train / eval split by query.
MIN_DEMO_ROWS = 20
# `relevance demo`'s size: with the pretrained teacher (3 epochs; 3 encoder passes per
# pair with the similarity prior) 200 / 1,000 rows run in about 8 minutes on 2 cores,
# inside the 10-minute target (docs/results.md).
DEMO_NUM_LABELED = 200
DEMO_NUM_UNLABELED = 1000
# The gate's tolerance widens with the eval set's sampling noise on every run, the demo
# included: max(--student-tolerance, --gate-z x the paired bootstrap SE of student -
# teacher over the eval queries). The demo's 44 held-out human pairs are only 4 queries,
# too few to trust that SE: on the demo's run it is 0.041 (tolerance 0.080, the student
# 0.068 behind on accuracy); on synthetic 44-pair, 4-query sets it spans 0.02-0.075 where
# 44 one-row queries give about 0.056 (docs/evaluation.md). So the demo keeps a floor of
# about two standard errors of one accuracy on 44 pairs (0.075); `relevance run`: 0.05.
DEMO_STUDENT_TOLERANCE = 0.15
RUN_FORMATS = ["auto", *FORMATS, *PIPELINE_INPUT_FORMATS]


def _resolve_num_grades(args) -> None:
    """--num-grades, else the data set's own G, else the paper's 5."""
    if args.num_grades is None:
        fmt = getattr(args, "format", "auto")
        adapter = ADAPTERS.get(fmt)
        args.num_grades = adapter.num_grades if adapter else contract.DEFAULT_NUM_GRADES


def build_parser() -> argparse.ArgumentParser:
    parser = FlagParser(
        prog="relevance",
        description="Train a multilingual relevance teacher, pseudo-label unlabeled traffic "
                    "and distill a real-time student, as a TFX pipeline.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="generate the built-in demo catalog and run the pipeline on it")
    add_run_flags(demo)
    demo.add_argument("--num-labeled", type=int_at_least(MIN_DEMO_ROWS), default=DEMO_NUM_LABELED)
    demo.add_argument("--num-unlabeled", type=int_at_least(MIN_DEMO_ROWS), default=DEMO_NUM_UNLABELED)
    demo.set_defaults(student_tolerance=DEMO_STUDENT_TOLERANCE)

    run = commands.add_parser("run", help="run the pipeline on your labeled and unlabeled data")
    run.add_argument("--labeled", required=True, nargs="+", help="labeled file(s): CSV, JSONL or TFRecord")
    run.add_argument("--unlabeled", required=True, nargs="+", help="unlabeled file(s)")
    run.add_argument("--format", default="auto", choices=RUN_FORMATS,
                     help="input format (default: from the file extension); crowdflower and "
                          "xquad-r read those public data sets' files directly")
    add_run_flags(run)

    compile_ = commands.add_parser("compile", help="compile the pipeline for an orchestrator")
    compile_.add_argument("--runner", required=True, choices=["kubeflow"])
    compile_.add_argument("--output", required=True, type=output_file,
                          help="PipelineSpec JSON file to write")
    compile_.add_argument("--pipeline-root", default="gs://YOUR_BUCKET/relevance/pipeline_root")
    compile_.add_argument("--input-base", default="gs://YOUR_BUCKET/relevance/inputs",
                          help="directory holding labeled/ and unlabeled/ input files")
    compile_.add_argument("--serving-model-dir", default="gs://YOUR_BUCKET/relevance/serving/relevance_student")
    compile_.add_argument("--image", default="search-relevance:latest",
                          help="container image with this project installed (see Dockerfile)")
    compile_.add_argument("--format", default="auto", choices=RUN_FORMATS)
    add_model_flags(compile_)

    from cli.embed_items_flags import add_embed_items_parser
    from cli.evaluate_flags import add_evaluate_parser
    from cli.presets_cli import add_presets_parser
    from cli.score_flags import add_score_parser
    from cli.serve_config_flags import add_serve_config_parser
    from cli.serve_flags import add_serve_parser

    add_evaluate_parser(commands)
    add_serve_parser(commands)
    add_score_parser(commands)
    add_embed_items_parser(commands)
    add_serve_config_parser(commands)
    add_presets_parser(commands)
    return parser


def _teacher_fields(args) -> Optional[List[str]]:
    """The item fields of --teacher-fields minus --teacher-drop-field; None = the default."""
    if args.teacher_fields is None and not args.teacher_drop_field:
        return None
    chosen = (contract.ITEM_TEXT_FIELDS if args.teacher_fields is None
              else [name.strip() for name in args.teacher_fields.split(",") if name.strip()])
    dropped = list(args.teacher_drop_field or [])
    unknown = [name for name in [*chosen, *dropped] if name not in contract.ITEM_TEXT_FIELDS]
    if unknown:
        raise InputError(f"unknown item field(s) {', '.join(unknown)} in --teacher-fields / "
                         f"--teacher-drop-field; choose from {', '.join(contract.ITEM_TEXT_FIELDS)}")
    kept = [name for name in contract.ITEM_TEXT_FIELDS if name in chosen and name not in dropped]
    if not kept:
        raise InputError("--teacher-fields / --teacher-drop-field leave the teacher no item "
                         "field; keep at least one")
    return kept


def _warn_if_teacher_misses_captions(checks, teacher_fields: Optional[List[str]],
                                     stream=None) -> int:
    """Warns (stderr) when image-only items would reach the teacher with no text.

    With --caption-images, an item with an image and no text gets its only text from
    the caption; a teacher field list without image_caption (an ablation, say) then
    scores it on the query alone. Allowed, since the ablation may be the point, but
    never silent. Returns the number of such items.
    """
    image_only = sum(check.image_only for check in checks)
    if image_only and teacher_fields is not None and "image_caption" not in teacher_fields:
        print(f"warning: {image_only} item(s) have only an image, so their only text will be "
              "the image caption, which --teacher-fields / --teacher-drop-field hide from the "
              "teacher: it will score them on their query alone", file=stream or sys.stderr)
        return image_only
    return 0


def _student_feature_switches(args) -> Optional[Dict[str, bool]]:
    """--student-feature NAME=on|off, checked against the student's feature table."""
    if not getattr(args, "student_feature", None):
        return None
    from trainer.student.features import switched_on  # imports TensorFlow: only when asked

    switches = dict(args.student_feature)
    try:
        switched_on(switches)
    except ValueError as error:
        raise InputError(f"--student-feature: {error}") from error
    return switches


def _teacher_and_student(args) -> Dict[str, Dict]:
    teacher = {
        "preset": args.teacher_preset,
        "preset_cache_dir": os.path.abspath(args.preset_cache) if args.preset_cache else None,
        "epochs": args.teacher_epochs,
        "train_seconds": args.teacher_train_seconds,
        "lora_rank": args.teacher_lora_rank,
        "batch_size": args.teacher_batch_size,
        "learning_rate": args.teacher_learning_rate,
        "sequence_length": args.teacher_sequence_length,
        "head_learning_rate_multiplier": args.teacher_head_lr_multiplier,
        "fields": _teacher_fields(args),
        "mark_query_matches": args.teacher_mark_matches,
        "match_features": args.teacher_match_features,
        "lexical_signals": args.teacher_lexical_signals,
        "listwise_weight": args.teacher_listwise_weight,
        "similarity_prior": args.teacher_similarity_prior,
    }
    # Each flag's range is checked as it is parsed (cli.flag_checks); this pair only
    # makes sense together.
    weights = (args.student_human_weight, args.student_distill_weight)
    if all(weight == 0 for weight in weights):
        raise InputError("--student-human-weight and --student-distill-weight are both 0: "
                         "the student would learn nothing")
    student = {
        "epochs": args.student_epochs,
        "train_steps": args.student_train_steps,
        "human_weight": args.student_human_weight,
        "distill_weight": args.student_distill_weight,
        "temperature": args.student_temperature,
        "min_teacher_spread": args.student_min_teacher_spread,
        "listwise_weight": args.student_listwise_weight,
        "word_vector_dims": args.student_word_vector_dims,
        "word_vectors_trainable": args.student_word_vectors_trainable,
        "word_vector_products": args.student_word_vector_products,
        "ngram_embeddings": args.student_ngram_embeddings,
        "item_embeddings": args.student_item_embeddings,
        # Off: no preset to distil from. On or unset: the pipeline's default (the
        # teacher's preset when it is pretrained).
        "word_vectors_preset": "" if args.student_word_vectors is False else None,
        "features": _student_feature_switches(args),
    }
    drop_unset = lambda d: {k: v for k, v in d.items() if v is not None}  # noqa: E731
    return {"teacher": drop_unset(teacher), "student": drop_unset(student)}


def _config_overrides(args) -> Dict:
    from evaluation.gate import GatePolicy, gate_metrics_from_text

    try:  # fail before any component runs, not in the gate at the end
        gate_metrics = GatePolicy(
            gate_metrics=gate_metrics_from_text(args.gate_metrics),
            student_tolerance=args.student_tolerance,
            pushed_tolerance=args.pushed_tolerance,
            z=args.gate_z,
            resamples=args.gate_resamples,
        ).gate_metrics
    except ValueError as error:
        raise InputError(f"validation gate flags: {error}") from error
    overrides = dict(
        num_grades=args.num_grades,
        eval_percent=args.eval_percent,
        min_student_accuracy=args.min_student_accuracy,
        student_tolerance=args.student_tolerance,
        pushed_tolerance=args.pushed_tolerance,
        gate_z=args.gate_z,
        gate_resamples=args.gate_resamples,
        gate_metrics=list(gate_metrics),
        pseudo_eval_percent=args.pseudo_eval_percent,
        pseudo_label=dict(
            confidence_threshold=args.confidence_threshold,
            max_volume_multiple=args.max_volume_multiple,
            score_all_unlabeled=args.score_all_unlabeled,
        ),
        **_teacher_and_student(args),
        **caption_overrides(args, getattr(args, "workdir", None) or ""),
        **item_embedding_overrides(args, getattr(args, "workdir", None) or ""),
    )
    return overrides


def _run_pipeline(args, labeled: List[str], unlabeled: List[str], input_format: str) -> Dict:
    with routed_logs(_log_path(args), args.verbose) as terminal:
        return _run_routed(args, labeled, unlabeled, input_format, terminal)


def _log_path(args) -> str:
    return os.path.join(os.path.abspath(args.workdir), "logs", "run.log")


def _run_routed(args, labeled, unlabeled, input_format, out) -> Dict:
    from pipeline.config import PipelineConfig
    from cli.staging import preflight, require_two_labeled_queries, stage_inputs

    workdir = os.path.abspath(args.workdir)
    checks = preflight(labeled, unlabeled, input_format, args.num_grades,
                       caption_images=args.caption_images)
    for check in checks:
        bad = check.rows - check.valid
        note = f", {bad} will be quarantined" if bad else ""
        print(f"input {check.path}: {check.rows} rows, {check.valid} valid{note}", file=out)
        for row, reason, message in check.errors[:5]:
            print(f"  row {row}: {reason}: {message}", file=out)
    require_two_labeled_queries(checks)
    _warn_if_teacher_misses_captions(checks, _teacher_fields(args), out)
    prepare_teacher_preset(args.teacher_preset, args.preset_cache,
                           progress=lambda message: print(message, file=out, flush=True))
    if item_embeddings_enabled(args):  # the ItemEmbedder's encoder, when it is another preset
        prepare_teacher_preset(args.item_embedding_preset, args.preset_cache,
                               progress=lambda message: print(message, file=out, flush=True))
    config = PipelineConfig.for_workdir(
        workdir, model_name=args.model_name, input_format=input_format,
        enable_cache=not args.no_cache, **_config_overrides(args),
    )
    if args.beam_arg:
        config.beam_pipeline_args = list(args.beam_arg)
    stage_inputs(config.input_base, labeled, unlabeled)

    from cli.run_console import console_for_run
    from pipeline.runners.local import run_local
    from pipeline.summary import build_run_summary
    from cli.console import summary_lines

    started = time.time()
    print(f"running the pipeline in {workdir} (full log: {_log_path(args)})", file=out, flush=True)
    with console_for_run(config, out, _log_path(args)):
        run_local(config)
        summary = build_run_summary(config)
    summary["elapsed_seconds"] = round(time.time() - started, 1)
    path = os.path.join(workdir, "run_summary.json")
    with open(path, "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    for line in summary_lines(summary, args.model_name, _log_path(args), path):
        print(line, file=out)
    return summary


def _demo(args) -> None:
    data_dir = os.path.join(os.path.abspath(args.workdir), "demo_data")
    with routed_logs(_log_path(args), args.verbose) as out:
        from demo.data import write_demo_data  # imports TF: inside the routing

        paths = write_demo_data(
            data_dir, num_labeled=args.num_labeled, num_unlabeled=args.num_unlabeled,
            num_grades=args.num_grades,
        )
        print(f"demo data: {paths['labeled']} (graded, English), {paths['unlabeled']} "
              "(all languages)", file=out)
        prepare_demo_captions(args, os.path.abspath(args.workdir), data_dir)
        _run_pipeline(args, [paths["labeled"]], [paths["unlabeled"]], "auto")


def _compile(args) -> None:
    from pipeline.config import PipelineConfig
    from pipeline.runners.kubeflow import compile_kubeflow

    config = PipelineConfig(
        pipeline_name="search-relevance",
        pipeline_root=args.pipeline_root,
        metadata_path="",
        input_base=args.input_base,
        serving_model_dir=args.serving_model_dir,
        input_format=args.format,
        beam_pipeline_args=list(args.beam_arg or []),
        **_config_overrides(args),
    )
    spec = compile_kubeflow(config, args.output, image=args.image)
    tasks = sorted(spec["pipelineSpec"]["root"]["dag"]["tasks"]) if "pipelineSpec" in spec else sorted(spec["root"]["dag"]["tasks"])
    print(f"wrote {args.output}: {len(tasks)} components: {', '.join(tasks)}")


def main(argv: Optional[List[str]] = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help (0), or a bad flag, already reported on one line (2)
        return 0 if stop.code is None else int(stop.code)
    os.environ.pop("TF_USE_LEGACY_KERAS", None)  # this project is Keras 3 throughout
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for name in ("relevance", "pipeline", "components", "trainer", "serving"):
        logging.getLogger(name).setLevel(logging.INFO)
    if hasattr(args, "num_grades") and args.command != "evaluate":
        _resolve_num_grades(args)
    try:
        if args.command in ("demo", "run", "compile"):
            _teacher_and_student(args)  # bad model flags fail before the slow TFX imports
        if args.command == "demo":
            with workdir_lock(os.path.abspath(args.workdir)):
                _demo(args)
        elif args.command == "run":
            with workdir_lock(os.path.abspath(args.workdir)):
                _run_pipeline(args, args.labeled, args.unlabeled, args.format)
        elif args.command == "compile":
            _compile(args)
        elif args.command == "evaluate":
            from cli.evaluate_flags import run_evaluate

            return run_evaluate(args)
        elif args.command == "serve":
            from cli.serve import serve_main

            return serve_main(args)
        elif args.command == "serve-config":
            from cli.serve_config_flags import serve_config_main

            return serve_config_main(args)
        elif args.command == "score":
            from cli.score import score_main

            return score_main(args)
        elif args.command == "embed-items":
            from cli.embed_items import embed_items_main

            return embed_items_main(args)
        elif args.command == "presets":
            from cli.presets_cli import presets_main

            return presets_main(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except RunFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        if disk_full_message(error) is None:
            raise
        print(f"error: {disk_full_message(error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
