"""No module of skprune imports, directly or inside a function, one that imports
it back.

Only the imports listed in ``DEFERRED_IMPORTS`` may close a cycle, and only
from inside a function, where the modules of the cycle are all initialised
before the import runs.
"""

import ast
import os
import pathlib
import subprocess
import sys

import pytest

import skprune

PACKAGE_DIR = pathlib.Path(skprune.__file__).parent

# (importer, imported): why the import closes a cycle and is made on first need.
DEFERRED_IMPORTS = {
    ("skprune.model_selection._search", "skprune.tree"): (
        "skprune.tree builds its CV estimators on skprune.model_selection and "
        "registers scikit-learn's trees with it; the display imports it when "
        "it is first asked to draw a tree that no factory knows yet, so that "
        "`import skprune` does not import scikit-learn's trees"
    ),
}


def _module_name(path):
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules():
    return {_module_name(path): path for path in PACKAGE_DIR.rglob("*.py")}


def _import_statements(tree, *, in_functions):
    """The import statements of a module, those in functions only if
    ``in_functions``.
    """
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif in_functions or not isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
        ):
            pending.extend(ast.iter_child_nodes(node))


def _imported(name, path, modules, *, in_functions=True):
    """skprune modules that ``name`` imports anywhere in its source.

    Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` too, so those
    count as imported, except the packages that hold ``name`` (they are
    initialised before it in any case); ``from a import c`` imports the
    submodule ``a.c`` when there is one.
    """
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    targets = set()
    statements = _import_statements(
        ast.parse(path.read_text()), in_functions=in_functions
    )
    for node in statements:
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            targets.add(source)
            targets.update(f"{source}.{alias.name}" for alias in node.names)
    imported = set()
    for target in targets:
        parts = target.split(".")
        for end in range(1, len(parts) + 1):
            candidate = ".".join(parts[:end])
            holds_name = name.startswith(candidate + ".")
            if candidate in modules and candidate != name and not holds_name:
                imported.add(candidate)
    return imported


def _cycle(graph):
    """One import cycle of ``graph`` as a list of modules, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, stack)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def _graph(*, in_functions=True):
    modules = _modules()
    return {
        name: _imported(name, path, modules, in_functions=in_functions)
        for name, path in modules.items()
    }


def test_the_import_graph_is_read():
    graph = _graph()
    # Edges the walk must see: a module-level relative import, a package's
    # own imports and the implicit import of a package by its submodule's user.
    assert "skprune.neural._pruning_run" in graph["skprune.neural._pruned"]
    assert "skprune.tree._cv" in graph["skprune.tree"]
    assert "skprune.model_selection" in graph["skprune.tree._cv"]


def test_cycle_detection_finds_a_function_level_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_function_level_imports_are_told_apart():
    # skprune._demo imports skprune.tree in run_trees only.
    assert "skprune.tree" in _graph()["skprune._demo"]
    assert "skprune.tree" not in _graph(in_functions=False)["skprune._demo"]
    assert "skprune.tree._cv" in _graph(in_functions=False)["skprune.tree"]


def test_no_import_cycle_but_the_deferred_imports():
    graph = _graph()
    for importer, imported in DEFERRED_IMPORTS:
        graph[importer].discard(imported)
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle)


@pytest.mark.parametrize("importer, imported", sorted(DEFERRED_IMPORTS))
def test_deferred_imports_are_made_inside_functions_only(importer, imported):
    assert imported in _graph()[importer], "the list of deferred imports is out of date"
    assert imported not in _graph(in_functions=False)[importer]


def test_importing_the_package_imports_no_subpackage_and_not_scikit_learn():
    # A fresh interpreter: this session has imported everything already.
    script = (
        "import sys, skprune; "
        "print(*sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('skprune', 'sklearn')))"
    )
    root = PACKAGE_DIR.parent
    env = {
        **os.environ,
        "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["skprune"]
