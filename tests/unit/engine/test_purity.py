"""The engine is pure: it imports, directly or through the modules it imports, nothing
that does I/O (Redis, Celery, kombu, the store, the dispatcher, HTTP) and no clock."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ENGINE = ROOT / "executor" / "engine"
#: Modules the engine may never reach.
IMPURE = (
    "redis",
    "celery",
    "kombu",
    "billiard",
    "httpx",
    "fastapi",
    "socket",
    "time",
    "executor.store",
    "executor.dispatch",
    "executor.messages",
    "executor.orchestrator",
    "executor.client",
    "executor.embedded",
    "executor.celery_config",
    "workers",
)
#: The renderer (its budget reads a clock): the flow model the engine reads reaches it
#: for the deploy-time syntax check, and is not followed there; the engine's own
#: modules may not import it (``test_engine_never_renders``).
RENDERER = ("executor.templating", "executor.pebble")

#: Clock reads that are not imports.
CLOCK_CALLS = ("now", "utcnow", "time", "monotonic", "today")


def _module_path(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def _reach(start: list[str]) -> dict[str, str]:
    """Every module reachable from ``start`` through project imports (not through the
    ``executor`` package's own ``__init__``, which is the public facade), with the
    module that imported it."""
    seen: dict[str, str] = {}
    todo = [(m, "") for m in start]
    while todo:
        name, via = todo.pop()
        if name in seen:
            continue
        seen[name] = via
        path = _module_path(name) if name.startswith(("executor.", "workers")) else None
        if path is None or name == "executor" or name.startswith(RENDERER):
            continue
        for imported in _imports(path):
            if imported.startswith(("executor.", "workers")) and _module_path(imported):
                todo.append((imported, name))
            elif not imported.startswith(("executor.", "workers")):
                seen.setdefault(imported, name)
    return seen


def test_engine_imports_nothing_impure() -> None:
    modules = [f"executor.engine.{p.stem}" for p in ENGINE.glob("*.py") if p.stem != "__init__"]
    assert len(modules) >= 5
    reached = _reach([*modules, "executor.engine"])
    bad = {
        m: via for m, via in reached.items() if any(m == i or m.startswith(i + ".") for i in IMPURE)
    }
    assert not bad, f"impure imports reached from executor/engine: {bad}"


def test_engine_reads_no_clock() -> None:
    for path in ENGINE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in CLOCK_CALLS:
                raise AssertionError(f"{path.name}:{node.lineno} reads the clock ({node.attr})")


def test_engine_never_renders() -> None:
    for path in ENGINE.glob("*.py"):
        rendering = {m for m in _imports(path) if m.startswith(RENDERER)}
        assert not rendering, f"{path.name} imports the renderer: {sorted(rendering)}"
