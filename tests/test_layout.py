"""The layout follows the data flow: these tests fail when an import goes against it.

video -> poses -> labels -> generator -> frames: `shared/`'s sub-packages come in that order, and
each may import only those before it. trainer/, export/ and live/ use shared/ and never each other.
Every import counts, wherever it stands (module top, inside a function, under TYPE_CHECKING), so a
cycle cannot hide behind a lazy import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shared", "trainer", "export", "live")
# shared/'s layers in data-flow order; a module may import its own layer and those before it.
SHARED_LAYERS = ("errors", "cliutil", "io", "pose", "normalize", "label", "model", "runtime")
# The synthetic dancer is a data generator beside the flow: it may use the layers, but only the
# commands that make demo data (dance-train synth, dance-demo) may import it.
SYNTHETIC_USERS = ("trainer.cli", "live.demo")
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _imports(path: Path, name: str) -> set[str]:
    """Every module `path` imports, absolute, restricted to our packages."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {m for m in found if m.split(".")[0] in PACKAGES}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {m for m in _imports(path, name) if m in modules} for name, path in modules.items()}


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def _layer_violations(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for module, deps in graph.items():
        if not module.startswith("shared.") or _layer(module) == "synthetic":
            continue
        if _layer(module) not in SHARED_LAYERS:
            wrong.append(f"{module}: shared/ sub-package not in the layer order {SHARED_LAYERS}")
            continue
        mine = SHARED_LAYERS.index(_layer(module))
        for dep in deps:
            if not dep.startswith("shared."):
                wrong.append(f"{module} imports {dep} (shared/ is the pure core)")
            elif _layer(dep) == "synthetic" or SHARED_LAYERS.index(_layer(dep)) > mine:
                wrong.append(f"{module} imports {dep}, which comes after it in the data flow")
    return sorted(wrong)


def test_shared_layers_import_only_earlier_ones(graph: dict[str, set[str]]) -> None:
    wrong = _layer_violations(graph)
    assert not wrong, "\n".join(wrong)


def test_apps_never_import_each_other(graph: dict[str, set[str]]) -> None:
    wrong = [
        f"{module} imports {dep}"
        for module, deps in graph.items()
        for dep in deps
        if module.split(".")[0] != "shared" and dep.split(".")[0] not in ("shared", module.split(".")[0])
    ]
    assert not wrong, "\n".join(sorted(wrong))


def test_synthetic_dancer_stays_out_of_the_product(graph: dict[str, set[str]]) -> None:
    wrong = [
        f"{module} imports {dep}"
        for module, deps in graph.items()
        for dep in deps
        if dep.startswith("shared.synthetic") and not module.startswith(("shared.synthetic",) + SYNTHETIC_USERS)
    ]
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    """Depth-first search for a back edge; a package's __init__ importing its own modules is fine."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for dep in sorted(graph[module]):
            if module.startswith(dep + "."):  # a module importing its own package's __init__
                continue
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_modules_are_small() -> None:
    long = {name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"


def test_the_checks_see_a_violation(tmp_path: Path) -> None:
    """The import reader finds imports wherever they stand, and the layer rule flags a late one."""
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from shared.runtime.engine import Engine\n"
                     "def f():\n    import live.cli\n    from . import tensors\n")
    found = _imports(probe, "shared.io.probe")
    assert {"shared.runtime.engine", "live.cli", "shared.io.tensors"} <= found
    assert _layer_violations({"shared.io.probe": {"shared.runtime.engine"}}) == [
        "shared.io.probe imports shared.runtime.engine, which comes after it in the data flow"
    ]
    assert _layer_violations({"shared.runtime.probe": {"shared.io.tensors", "shared.errors"}}) == []
