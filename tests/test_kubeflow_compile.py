"""The same pipeline definition compiles to a Kubeflow Pipelines v2 PipelineSpec."""

import json

from pipeline import pipeline as definition
from cli import main as cli

EXPECTED_COMPONENTS = {
    definition.EXAMPLE_GEN,
    "StatisticsGen",
    "SchemaGen",
    "ExampleValidator",
    "Transform",
    definition.TEACHER,
    definition.PSEUDO_LABELER,
    definition.STUDENT,
    definition.EVALUATOR,
    definition.TEACHER_EVALUATOR,
    definition.GATE,
    # Kubeflow runs the latest-blessed-model resolver as two query tasks.
    f"{definition.LATEST_PUSHED}-model-blessing-resolver",
    f"{definition.LATEST_PUSHED}-model-resolver",
    definition.PUSHER,
    definition.ITEM_EMBEDDER,  # on by default with the default (pretrained) teacher
}


def test_compile_writes_pipeline_spec_with_every_component(tmp_path, capsys):
    output = tmp_path / "spec" / "pipeline.json"
    code = cli.main(
        [
            "compile", "--runner", "kubeflow", "--output", str(output),
            "--image", "registry.example/relevance:1", "--num-grades", "4",
            "--beam-arg=--runner=DataflowRunner", "--beam-arg=--region=europe-west4",
        ]
    )
    assert code == 0
    document = json.loads(output.read_text())
    spec = document.get("pipelineSpec", document)
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == EXPECTED_COMPONENTS
    executors = spec["deploymentSpec"]["executors"]
    images = {e["container"]["image"] for e in executors.values() if "container" in e}
    assert images == {"registry.example/relevance:1"}
    # Custom code is referenced by import path, so it must be inside the image.
    text = output.read_text()
    assert "components.example_gen.executor.Executor" in text
    assert "components.pseudo_labeler" in text
    assert "trainer.teacher.task.run_fn" in text and "trainer.student.task.run_fn" in text
    assert "trainer.student.preprocessing.preprocessing_fn" in text
    assert "components.validation_gate" in text
    assert "evaluation.tfma_metric" in text  # the custom TFMA metric's module
    assert "--runner=DataflowRunner" in text
    assert "PseudoLabeler" in capsys.readouterr().out
