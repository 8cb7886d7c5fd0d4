"""No module of skprune imports, directly or inside a function, one that imports it back."""

import ast
import pathlib

import skprune

PACKAGE_DIR = pathlib.Path(skprune.__file__).parent


def _module_name(path):
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules():
    return {_module_name(path): path for path in PACKAGE_DIR.rglob("*.py")}


def _imported(name, path, modules):
    """skprune modules that ``name`` imports anywhere in its source.

    Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` too, so those
    count as imported, except the packages that hold ``name`` (they are
    initialised before it in any case); ``from a import c`` imports the
    submodule ``a.c`` when there is one.
    """
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
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


def _graph():
    modules = _modules()
    return {name: _imported(name, path, modules) for name, path in modules.items()}


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


def test_no_import_cycle():
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(cycle)
