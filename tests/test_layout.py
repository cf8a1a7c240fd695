"""The house layout: every package lives on one floor and imports only point down.

Floors, lowest first (README's code map describes the same):

  0  relevance    the data: contract, readers, records, adapters, language
  1  models       the model interface trainer, serving and evaluation share
  2  trainer      the teacher and the student (never imports serving)
  2  serving      TensorFlow Serving helpers (never imports trainer)
  3  evaluation   metrics, evaluate, report, baseline, the gate, TFMA metric, slices
  4  components   the custom TFX components
  5  pipeline     the pipeline definition, its config and thin runners
  6  demo         built-in demo data and images
  7  cli          the `relevance` command

A module may import its own package or a package on a lower floor; two packages on the
same floor never import each other. Every import counts, also one inside a function, and
so does one in a docstring example (`>>> from x import y`): an example that needs what a
higher floor builds (a served model, a GGUF file) takes it from tests/support/, which the
docstring tests put on sys.path as `support`.
"""

import ast
import doctest
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FLOORS = {
    "relevance": 0,
    "models": 1,
    "trainer": 2,
    "serving": 2,
    "evaluation": 3,
    "components": 4,
    "pipeline": 5,
    "demo": 6,
    "cli": 7,
}
MAX_LINES = 400
# Outside the house: the tests, and bench/ (scripts that may use any floor).
NOT_IN_HOUSE = {"tests", "bench", ".git", ".venv", "build", "docs", "requirements"}


def _python_files(top_levels):
    for top in sorted(top_levels):
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__")))
            for name in sorted(filenames):
                if name.endswith(".py"):
                    yield os.path.join(dirpath, name)


def _module_name(path):
    rel = os.path.relpath(path, ROOT)[: -len(".py")].split(os.sep)
    if rel[-1] == "__init__":
        rel = rel[:-1]
    return ".".join(rel)


def _imported_modules(path, module):
    """Every project module `path` imports (absolute or relative, at any depth)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    is_package = path.endswith("__init__.py")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                base = parts if is_package else parts[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:  # `from pkg import module` imports that module
                found.add(f"{target}.{alias.name}")
    return {name for name in found if name.split(".")[0] in FLOORS}


def _docstring_imports(path):
    """Every project module imported by a `>>>` example in one of `path`'s docstrings."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    parser, found = doctest.DocTestParser(), set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                 ast.AsyncFunctionDef)):
            continue
        docstring = ast.get_docstring(node, clean=False)
        for example in parser.get_examples(docstring or ""):
            try:
                source = ast.parse(example.source)
            except SyntaxError:  # a continuation shown on its own; not an import
                continue
            for statement in ast.walk(source):
                if isinstance(statement, ast.Import):
                    found.update(alias.name for alias in statement.names)
                elif isinstance(statement, ast.ImportFrom) and statement.module:
                    found.update(f"{statement.module}.{alias.name}" for alias in statement.names)
    return {name for name in found if name.split(".")[0] in FLOORS}


def _house(docstrings=False):
    """(module -> path, module -> the project modules it imports); with `docstrings`,
    the imports of its docstring examples instead."""
    modules = {_module_name(p): p for p in _python_files(FLOORS)
               if os.path.isdir(os.path.dirname(p))}
    graph = {}
    for module, path in modules.items():
        targets = set()
        imported = _docstring_imports(path) if docstrings else _imported_modules(path, module)
        for name in imported:
            # `from pkg import name` where name is not a module: keep the package.
            while name not in modules and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in modules and name != module:
                targets.add(name)
        graph[module] = targets
    return modules, graph


def test_every_top_level_package_has_a_floor():
    packages = {
        name for name in os.listdir(ROOT)
        if os.path.isfile(os.path.join(ROOT, name, "__init__.py")) and name not in NOT_IN_HOUSE
    }
    assert packages <= set(FLOORS), sorted(packages - set(FLOORS))


def _upward(graph):
    upward = []
    for module, targets in sorted(graph.items()):
        here = module.split(".")[0]
        for target in sorted(targets):
            there = target.split(".")[0]
            if there != here and FLOORS[there] >= FLOORS[here]:
                upward.append(f"{module} -> {target}")
    return upward


def test_no_import_runs_up_a_floor():
    upward = _upward(_house()[1])
    assert not upward, "imports that do not point down a floor:\n" + "\n".join(upward)


def test_no_docstring_example_imports_up_a_floor():
    upward = _upward(_house(docstrings=True)[1])
    assert not upward, ("docstring examples that import up a floor (take the fixture from "
                        "tests/support/ instead):\n" + "\n".join(upward))


def test_docstring_imports_are_found(tmp_path):
    path = tmp_path / "example.py"
    path.write_text('"""\n>>> import serving.client\n>>> from cli.main import main\n"""\n\n'
                    'def f():\n    """\n    >>> from support.serving_models import x\n'
                    '    >>> x = 1\n    """\n', encoding="utf-8")
    assert _docstring_imports(str(path)) == {"serving.client", "cli.main.main"}


def _cycles(graph):
    """The strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _package_graph(graph):
    """Modules folded into the package (folder) that holds them."""
    def package(module):
        return module if module in packages else module.rsplit(".", 1)[0]

    packages = {m for m, p in _house()[0].items() if p.endswith("__init__.py")}
    folded = {}
    for module, targets in graph.items():
        here = package(module)
        for target in targets:
            there = package(target)
            # A package's own __init__ re-exporting its modules is not a circle.
            if there != here and not there.startswith(here + "."):
                folded.setdefault(here, set()).add(there)
    return folded


def test_no_package_import_forms_a_circle():
    _, graph = _house()
    assert _cycles(_package_graph(graph)) == []


def test_no_module_import_forms_a_circle():
    _, graph = _house()
    assert _cycles(graph) == []


@pytest.mark.parametrize("top", sorted(set(FLOORS) | {"bench"}))
def test_no_module_passes_the_line_limit(top):
    too_long = []
    for path in _python_files([top]):
        with open(path, encoding="utf-8") as f:
            lines = sum(1 for _ in f)
        if lines > MAX_LINES:
            too_long.append(f"{os.path.relpath(path, ROOT)}: {lines} lines")
    assert not too_long, "\n".join(too_long)
