"""Runs the project's ExampleGen executor on an input directory, as the orchestrator would.

Example (not run: it starts a Beam pipeline):

    examples = run_example_gen(tmp_path / "inputs", ExampleGenOptions(), tmp_path / "out")
    read_ingest_counts(examples.uri)
"""

from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.example_gen.component import relevance_example_gen
from components.example_gen.executor import Executor


def run_example_gen(input_base, options, out_dir):
    """The Examples artifact ExampleGen wrote under `out_dir` for `input_base`
    (labeled/ and unlabeled/ subdirectories) with `options` (an ExampleGenOptions)."""
    component = relevance_example_gen(str(input_base), options)
    # The executor takes execution properties as MLMD stores them: protos as JSON.
    exec_properties = {
        k: (v if isinstance(v, (str, int)) or v is None else proto_utils.proto_to_json(v))
        for k, v in component.exec_properties.items()
    }
    examples = standard_artifacts.Examples()
    examples.uri = str(out_dir)
    Executor().Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties)
    return examples
