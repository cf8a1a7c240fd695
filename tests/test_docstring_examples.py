"""Every docstring example in the project's packages runs and shows what it says it does.

The style guide asks for a short runnable example on every public class; this keeps them
runnable. Examples that need data or a network are marked `# doctest: +SKIP`; those that
need a served model or a GGUF file import it from tests/support/ (`support.serving_models`,
`support.gguf_test_file`), whose own examples run here too.
"""

import doctest
import importlib
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("cli", "components", "demo", "evaluation", "models", "pipeline", "relevance", "serving",
            "trainer")


def _module_names():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    # The fixtures the examples above take from tests/support/ (`support` on sys.path).
    for path in sorted((ROOT / "tests" / "support").glob("*.py")):
        yield "support" if path.stem == "__init__" else f"support.{path.stem}"


MODULES = list(_module_names())


def test_every_package_has_modules():
    for package in PACKAGES:
        assert any(name.startswith(package + ".") for name in MODULES), package


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name, capsys):
    module = importlib.import_module(module_name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False
    )
    assert result.failed == 0, f"{result.failed} failing example(s):\n{capsys.readouterr().out}"
