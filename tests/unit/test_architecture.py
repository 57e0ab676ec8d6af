"""The import rules of docs/architecture.md, enforced.

The module import graph of ``gateway/``, ``parsers/`` and ``handlers/`` is read from the source
(AST, nothing is imported). Every ``import`` counts, at module level or inside a function (a lazy
import is a dependency all the same); only ``if TYPE_CHECKING:`` blocks (annotations) and
``if __name__ == "__main__":`` blocks (a script's entry point) do not. A package's
``__init__`` importing its own submodules is an edge like any other; a submodule is never
charged with the implicit import of its parent package.

Two checks: no import cycles between modules, and the layer contracts below. A known violation
goes into an allow-list with the issue that will remove it; the lists only shrink.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "parsers", "handlers")

# The runtime: what stores, serves, listens, schedules or composes. The domain and the rules
# never reach for it.
# The CLI: gateway/cli.py and the gateway/cli_*.py modules its group gathers.
CLI = tuple(sorted(f"gateway.{path.stem}" for path in (ROOT / "gateway").glob("cli*.py")))
RUNTIME = (
    "gateway.storage",
    "gateway.web",
    "gateway.channels",
    "gateway.app",
    "gateway.pipeline",
    "gateway.worker",
    "gateway.scheduler",
    *CLI,
)
IO_LIBRARIES = ("sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "paramiko")

# The lifecycle: what decides with storage, parsers and handlers (the pipeline and its services).
LIFECYCLE = (
    "gateway.pipeline",
    "gateway.services",
    "gateway.pos_ledger",
    "gateway.deadline_watch",
    "gateway.decision_responses",
    "gateway.backpressure",
    "gateway.unreadable",
    "gateway.login_guard",
)
RUNNERS = ("gateway.app", "gateway.worker", "gateway.scheduler", "gateway.housekeeping")

# (who, may not import, why)
CONTRACTS: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...] = (
    (
        ("parsers", "handlers"),
        RUNTIME + IO_LIBRARIES,
        "parsers and rules depend on the domain only (gateway.model, messages, reference data)",
    ),
    (
        ("gateway.model",),
        (*RUNTIME, "parsers", "handlers", *IO_LIBRARIES),
        "the canonical records know nothing of formats, rules or I/O",
    ),
    (
        (
            "gateway.messages",
            "gateway.exceptions",
            "gateway.numbering",
            "gateway.call_keys",
            "gateway.reference",
            "gateway.codelists",
            "gateway.resources",
        ),
        (*RUNTIME, "parsers", "handlers", *IO_LIBRARIES),
        "the rest of the domain (messages, exceptions, numbering, call keys, reference data) "
        "is below the formats, the rules and the runtime",
    ),
    (
        ("gateway.storage",),
        (
            "gateway.web",
            "gateway.channels",
            "gateway.app",
            "gateway.worker",
            "gateway.scheduler",
            *CLI,
        ),
        "storage is below the lifecycle and the interfaces",
    ),
    (
        ("gateway.storage",),
        (*LIFECYCLE, "parsers", "handlers"),
        "storage stores what the lifecycle decided; it does not decide",
    ),
    (
        LIFECYCLE,
        ("gateway.web", *CLI, *RUNNERS),
        "the lifecycle is driven by the runtime and the interfaces, never the other way round",
    ),
    (
        ("gateway.channels",),
        ("gateway.web", *CLI, *RUNNERS),
        "a channel moves bytes for whoever runs it",
    ),
    (
        ("gateway.web", *CLI),
        ("gateway.worker",),
        "the interfaces hand work to the queue; they never run a worker",
    ),
    (("gateway.web",), CLI, "the two interfaces stand side by side"),
    (CLI, ("gateway.web",), "the two interfaces stand side by side"),
    (
        ("gateway.worker", "gateway.scheduler", "gateway.housekeeping"),
        ("gateway.app", "gateway.web", *CLI),
        "the app composes the runners; they know nothing of it or of the interfaces",
    ),
)

# TODO(issue 15): known violations, to be removed; never add to these lists.
ALLOWED_CYCLES: set[frozenset[str]] = set()
ALLOWED_VIOLATIONS: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:  # Alembic scripts, loaded by Alembic, not imported
                continue
            modules[_module_name(path)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_main(node: ast.If) -> bool:
    test = node.test
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and (_is_type_checking(child) or _is_main(child)):
            for other in child.orelse:
                yield from _import_nodes_of(other)
            continue
        yield from _import_nodes_of(child)


def _import_nodes_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _import_nodes(node)


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules ``name`` imports: ours resolved to the module, others as written."""

    def resolve(dotted: str) -> str:
        parts = dotted.split(".")
        while parts:
            if ".".join(parts) in modules:
                return ".".join(parts)
            parts.pop()
        return dotted

    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(resolve(alias.name) for alias in node.names)
            continue
        if node.level:
            base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            module = ".".join([*base, *([node.module] if node.module else [])])
        else:
            module = node.module or ""
        for alias in node.names:
            # ``from pkg import submodule`` imports the submodule, ``from mod import x`` the module
            full = f"{module}.{alias.name}"
            found.add(full if full in modules else resolve(module))
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = []
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work.append((root, iter(sorted(t for t in graph[root] if t in graph))))
        while work:
            node, targets = work[-1]
            advanced = False
            for target in targets:
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(t for t in graph[target] if t in graph))))
                    advanced = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return _graph()


def test_the_graph_sees_the_code(graph: dict[str, set[str]]) -> None:
    # A guard against a reader that silently finds nothing.
    assert "gateway.model" in graph
    assert "gateway.model" in graph["parsers.base"] or any(
        _within(target, ("gateway.model",)) for target in graph["parsers.base"]
    )
    assert "handlers.base" in graph["handlers"]


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    cycles = set(_cycles(graph)) - ALLOWED_CYCLES
    assert not cycles, "import cycles: " + "; ".join(
        " <-> ".join(sorted(cycle)) for cycle in cycles
    )


def test_allowed_cycles_still_exist(graph: dict[str, set[str]]) -> None:
    # A cycle that was fixed leaves the allow-list, so it cannot come back unnoticed.
    gone = ALLOWED_CYCLES - set(_cycles(graph))
    assert not gone, f"fixed, remove from ALLOWED_CYCLES: {sorted(map(sorted, gone))}"


@pytest.mark.parametrize(
    ("who", "forbidden", "why"), CONTRACTS, ids=[", ".join(c[0]) for c in CONTRACTS]
)
def test_layer_contracts(
    graph: dict[str, set[str]], who: tuple[str, ...], forbidden: tuple[str, ...], why: str
) -> None:
    violations = sorted(
        (source, target)
        for source, targets in graph.items()
        if _within(source, who)
        for target in targets
        if _within(target, forbidden) and (source, target) not in ALLOWED_VIOLATIONS
    )
    assert not violations, f"{why}: " + ", ".join(f"{s} -> {t}" for s, t in violations)


def test_allowed_violations_still_exist(graph: dict[str, set[str]]) -> None:
    gone = {(s, t) for s, t in ALLOWED_VIOLATIONS if t not in graph.get(s, set())}
    assert not gone, f"fixed, remove from ALLOWED_VIOLATIONS: {sorted(gone)}"
