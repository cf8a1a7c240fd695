"""The `relevance` command: help, and user mistakes reported without a stack trace."""

import json
import subprocess
import sys

import pytest

from cli import main as cli


def _run(argv, capsys):
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_lists_every_command():
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("demo", "run", "compile", "evaluate", "serve", "score"):
        assert command in result.stdout


def test_building_the_parser_does_not_import_tensorflow():
    # Importing TensorFlow takes seconds: `relevance --help` and flag errors must not wait
    # for it (only the commands that run models import it).
    check = "\n".join([
        "import contextlib, io, sys",
        "from cli import main as cli",
        "for command in ('', 'demo', 'run', 'compile', 'evaluate', 'serve', 'score'):",
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):",
        "        cli.main([command, '--help'] if command else ['--help'])",
        "heavy = sorted(m for m in ('tensorflow', 'grpc', 'tfx') if m in sys.modules)",
        "print(heavy)",
        "sys.exit(1 if heavy else 0)",
    ])
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def good_unlabeled(tmp_path):
    path = tmp_path / "unlabeled.jsonl"
    path.write_text(json.dumps({"query": "red shoes", "item_id": "u1", "title": "red shoes"}) + "\n")
    return str(path)


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("missing.jsonl", None, "does not exist"),
        ("empty.jsonl", "", "empty"),
        ("wrong.csv", "a,b\n1,2\n", "query"),
        ("nogrades.jsonl", json.dumps({"query": "q", "item_id": "i", "title": "t"}) + "\n", "grade"),
        ("allbad.jsonl", json.dumps({"query": "", "item_id": "i", "title": "t", "grade": 3}) + "\n", "row 1"),
    ],
)
def test_bad_labeled_file_is_a_clear_error(tmp_path, capsys, good_unlabeled, name, content, expected):
    labeled = tmp_path / name
    if content is not None:
        labeled.write_text(content)
    code, _, err = _run(
        ["run", "--labeled", str(labeled), "--unlabeled", good_unlabeled, "--workdir", str(tmp_path / "w")],
        capsys,
    )
    assert code == cli.EXIT_USER_ERROR
    assert err.startswith("error: ")
    assert name in err and expected in err.lower()
    assert "Traceback" not in err


def test_grade_outside_range_names_the_row(tmp_path, capsys, good_unlabeled):
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(json.dumps({"query": "q", "item_id": "i", "title": "t", "grade": 5}) + "\n")
    code, _, err = _run(
        ["run", "--labeled", str(labeled), "--unlabeled", good_unlabeled,
         "--workdir", str(tmp_path / "w"), "--num-grades", "4"],
        capsys,
    )
    assert code == cli.EXIT_USER_ERROR
    assert "labeled.jsonl" in err and "row 1" in err and "1..4" in err


def _model_overrides(*flags):
    args = cli.build_parser().parse_args(["compile", "--runner", "kubeflow", "--output", "x.json",
                                          *flags])
    return cli._config_overrides(args)


def test_teacher_field_flags_reach_the_teacher_config():
    from trainer.teacher.config import TeacherConfig

    assert "fields" not in _model_overrides()["teacher"]
    dropped = _model_overrides("--teacher-drop-field", "image_caption",
                               "--teacher-drop-field", "board_titles")["teacher"]
    assert TeacherConfig.from_dict(dropped).fields == (
        "title", "description", "link_title", "link_description", "engaged_queries")
    # Contract order whatever the order given; a drop applies to --teacher-fields too.
    chosen = _model_overrides("--teacher-fields", "board_titles, title,description",
                              "--teacher-drop-field", "description")["teacher"]
    assert chosen["fields"] == ["title", "board_titles"]


@pytest.mark.parametrize("name, key", [("similarity-prior", "similarity_prior"),
                                       ("match-features", "match_features"),
                                       ("lexical-signals", "lexical_signals")])
def test_teacher_switches_reach_the_teacher_config(name, key):
    from trainer.teacher.config import TeacherConfig

    assert key not in _model_overrides()["teacher"]
    for flag, expected in ((f"--teacher-{name}", True), (f"--no-teacher-{name}", False)):
        teacher = _model_overrides(flag)["teacher"]
        assert getattr(TeacherConfig.from_dict(teacher), key) is expected


def test_the_head_learning_rate_multiplier_flag_reaches_the_teacher_config():
    from trainer.teacher.config import TeacherConfig

    teacher = _model_overrides("--teacher-head-lr-multiplier", "5")["teacher"]
    assert TeacherConfig.from_dict(teacher).head_learning_rate_multiplier == 5.0
    teacher = _model_overrides("--teacher-listwise-weight", "0.5")["teacher"]
    assert TeacherConfig.from_dict(teacher).listwise_weight == 0.5
    assert TeacherConfig().listwise_weight == 0.0


def test_student_loss_flags_reach_the_student_config():
    from trainer.student.config import StudentConfig

    student = _model_overrides("--student-human-weight", "0", "--student-distill-weight", "2",
                               "--student-temperature", "1.5", "--student-train-steps", "300",
                               "--student-min-teacher-spread", "0.5")["student"]
    config = StudentConfig.from_dict(student)
    assert (config.human_weight, config.distill_weight, config.temperature) == (0.0, 2.0, 1.5)
    assert (config.train_steps, config.min_teacher_spread) == (300, 0.5)
    assert _model_overrides()["student"] == {}


def test_teacher_budget_and_lora_flags_reach_the_teacher_config():
    from trainer.teacher.config import TeacherConfig

    teacher = _model_overrides("--teacher-preset", "smollm2-135m",
                               "--teacher-train-seconds", "600")["teacher"]
    config = TeacherConfig.from_dict(teacher)
    # The decoder preset's defaults: LoRA rank 8, its own learning rates.
    assert (config.train_seconds, config.lora_rank, config.learning_rate) == (600.0, 8, 2e-4)
    config = TeacherConfig.from_dict(_model_overrides(
        "--teacher-preset", "smollm2-135m", "--teacher-lora-rank", "0")["teacher"])
    assert config.lora_rank == 0
    assert TeacherConfig.from_dict(_model_overrides()["teacher"]).lora_rank == 0
    for bad in (["--teacher-train-seconds", "0"], ["--teacher-lora-rank", "-1"]):
        with pytest.raises(SystemExit):
            _model_overrides(*bad)


def test_student_word_vector_flags_reach_the_student_config():
    from trainer.student.config import StudentConfig

    assert _model_overrides("--no-student-word-vectors")["student"] == {"word_vectors_preset": ""}
    # On (or unset) leaves the choice to the pipeline: the teacher's pretrained preset.
    assert "word_vectors_preset" not in _model_overrides("--student-word-vectors")["student"]
    config = StudentConfig.from_dict(_model_overrides(
        "--student-word-vector-dims", "64", "--student-word-vectors-trainable",
        "--student-ngram-embeddings")["student"])
    assert (config.word_vector_dims, config.word_vectors_trainable) == (64, True)
    assert config.ngram_embeddings and not StudentConfig().ngram_embeddings
    assert _model_overrides("--no-student-word-vector-products")["student"] == {
        "word_vector_products": False}


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--teacher-drop-field", "captions"], "unknown item field(s) captions"),
        (["--teacher-fields", "title,titel"], "unknown item field(s) titel"),
        (["--teacher-fields", "title", "--teacher-drop-field", "title"], "no item field"),
        (["--student-temperature", "0"], "--student-temperature must be a number > 0"),
        (["--student-human-weight", "-1"], "--student-human-weight must be a number >= 0"),
        (["--student-human-weight", "0", "--student-distill-weight", "0"], "both 0"),
        (["--student-train-steps", "-1"], "--student-train-steps must be an integer >= 0"),
        (["--student-min-teacher-spread", "-1"], "--student-min-teacher-spread must be a number >= 0"),
    ],
)
def test_bad_model_flags_are_a_clear_error(tmp_path, capsys, flags, expected):
    output = tmp_path / "pipeline.json"
    code, _, err = _run(["compile", "--runner", "kubeflow", "--output", str(output), *flags],
                        capsys)
    assert code == cli.EXIT_USER_ERROR
    assert err.startswith("error: ") and expected in err
    assert "Traceback" not in err and not output.exists()


def test_the_lazy_tensorflow_module_pickles_as_the_real_one():
    # Beam pickles functions with the globals they use, e.g. a reader's `tf`.
    import cloudpickle
    import tensorflow

    from relevance.lazy_tensorflow import LazyModule, tf

    assert cloudpickle.loads(cloudpickle.dumps(tf)) is tensorflow
    assert LazyModule("json").dumps([1]) == "[1]"


def test_the_demo_gates_with_a_wider_student_tolerance_than_run():
    parser = cli.build_parser()
    demo = parser.parse_args(["demo", "--workdir", "w"])
    run = parser.parse_args(["run", "--labeled", "l.jsonl", "--unlabeled", "u.csv",
                             "--workdir", "w"])
    assert demo.student_tolerance == cli.DEMO_STUDENT_TOLERANCE == 0.15
    assert run.student_tolerance == 0.05
    explicit = parser.parse_args(["demo", "--workdir", "w", "--student-tolerance", "0.02"])
    assert explicit.student_tolerance == 0.02


def test_gate_z_and_resamples_flags_reach_the_config():
    from evaluation import gate_settings

    parser = cli.build_parser()
    # The noise-aware widening is on for every run, the demo included.
    for argv in (["demo", "--workdir", "w"],
                 ["run", "--labeled", "l.jsonl", "--unlabeled", "u.csv", "--workdir", "w"]):
        args = parser.parse_args(argv)
        assert args.gate_z == gate_settings.DEFAULT_GATE_Z == 1.96
        assert args.gate_resamples == gate_settings.DEFAULT_GATE_RESAMPLES
    explicit = parser.parse_args(["demo", "--workdir", "w", "--gate-z", "0",
                                  "--gate-resamples", "50"])
    overrides = cli._config_overrides(explicit)
    assert (overrides["gate_z"], overrides["gate_resamples"]) == (0, 50)
    assert cli.main(["demo", "--workdir", "w", "--gate-z", "-1"]) == cli.EXIT_USER_ERROR
    assert cli.main(["demo", "--workdir", "w", "--gate-resamples", "1"]) == cli.EXIT_USER_ERROR
