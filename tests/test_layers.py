"""The package's dependencies run one way: cli -> server -> service -> engine -> pure core; client -> core.

Walks every import of every module (including imports inside functions) with ``ast`` and fails on an
upward import or an import cycle between modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "translator"
CORE = {
    "text", "segment", "streaming", "decoding", "protocol", "subtitles", "ratelimit", "newest", "version",
    "markup", "htmlparts", "align", "documents", "truecase",
}  # fmt: skip
# Layer ranks: a module may import its own layer and lower ones only.
RANKS = {"core": 0, "engine": 1, "client": 1, "service": 2, "server": 3, "cli": 4, "top": 5}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "top"
    if parts[1] in CORE:
        return "core"
    return parts[1]


def imports(path: Path) -> set[str]:
    """The translator modules ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "translator")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "translator":
            found.add(node.module)
            # "from translator.server import rest" imports the module translator.server.rest.
            found.update(
                f"{node.module}.{a.name}"
                for a in node.names
                if (PACKAGE.parent / node.module.replace(".", "/") / f"{a.name}.py").exists()
            )
    return found


MODULES = {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_layer() -> None:
    assert {layer(m) for m in MODULES} <= set(RANKS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_upward_import(module: str) -> None:
    mine = layer(module)
    for imported in MODULES[module]:
        theirs = layer(imported)
        if mine == "client":
            assert theirs in ("core", "client"), f"{module} imports {imported}: the client depends on the core only"
        elif theirs == "client":
            assert mine in ("cli", "top"), f"{module} imports {imported}: only the command line uses the client"
        else:
            assert RANKS[theirs] <= RANKS[mine], f"{module} ({mine}) imports {imported} ({theirs}): an upward import"


def test_no_import_cycle() -> None:
    graph = {m: {i for i in deps if i in MODULES and i != m} for m, deps in MODULES.items()}
    # Package __init__ modules re-export their submodules; an edge from a submodule to its own
    # package's __init__ would be a cycle too, and is caught like any other.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_a_negative_control_is_caught() -> None:
    """The walker sees an import inside a function (the kind that hid the old cli cycle)."""
    source = "def f():\n    from translator.cli.common import engine_from_args\n"
    tree = ast.parse(source)
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names == {"translator.cli.common"}
    assert RANKS[layer("translator.cli.common")] > RANKS[layer("translator.engine.engine")]


def test_no_module_is_too_long() -> None:
    long = {m: n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 450 for m in [p.name]}
    assert not long, f"modules over 450 lines: {long}"
