"""The map in docs/architecture.md, kept true: the import graph of ``mlcli/`` (read with
``ast``, imports inside functions included) obeys the arrows between the parts.

Each rule is a function from a list of imports to the violations it finds; the tests run
it on the real package and on a small made-up graph with one bad import, so that a rule
that could never fail would be noticed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pytest
from import_graph import Import, internal, modules_of, read_imports

PACKAGE = Path(__file__).resolve().parent.parent / "mlcli"

# The storage layer stays below everything that uses it.
STORE_MUST_NOT_IMPORT = (
    "mlcli.search",
    "mlcli.models",
    "mlcli.projects",
    "mlcli.scoring",
    "mlcli.tracking_server",
    "mlcli.web",
    "mlcli.ui",
    "mlcli.tracking",
    "mlcli.registry",
)
CORE_MUST_NOT_IMPORT = ("mlcli.cli", "typer", "rich")
# ``python -m mlcli`` is the command line's second door, not part of the core
CLI_MODULES = ("mlcli.cli", "mlcli.__main__")

# The store's public face: the package (``mlcli/store/__init__.py``, with the facade
# ``TrackingStore``), the maintenance commands' modules, which ``mlcli gc``, ``fsck``,
# ``index rebuild`` and ``init`` import lazily to keep start-up fast, and the sync
# engine behind ``mlcli push``/``pull``/``clone`` (lazily too: it may load boto3).
PUBLIC_STORE_MODULES = frozenset(
    {
        "mlcli.store",
        "mlcli.store.upkeep",
        "mlcli.store.gc",
        "mlcli.store.fsck",
        "mlcli.store.sync",
        "mlcli.store.sync.keys",  # the layout of a store in a bucket: a contract (DESIGN 8.2)
    }
)


def part(module: str) -> str:
    """The part of mlcli a module belongs to: ``mlcli.store.index`` -> ``mlcli.store``;
    a top-level module (``mlcli.client``) is a part of its own."""
    return ".".join(module.split(".")[:2])


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def part_edges(imports: Iterable[Import]) -> dict[tuple[str, str], list[Import]]:
    """The imports from one part of mlcli to another, by (importing part, imported part)."""
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for found in imports:
        source, target = part(found.importer), part(found.target)
        if source != target and within(found.target, "mlcli"):
            edges[(source, target)].append(found)
    return edges


def package_cycles(imports: Iterable[Import]) -> list[list[Import]]:
    """The cycles between parts: for each group of parts that import each other in a
    circle, every import that joins two of them."""
    edges = part_edges(imports)
    groups = _strongly_connected({pair[0] for pair in edges} | {pair[1] for pair in edges}, edges)
    cycles = []
    for group in groups:
        inside = [
            found for pair, sites in sorted(edges.items()) if set(pair) <= group for found in sites
        ]
        cycles.append(inside)
    return cycles


def _strongly_connected(
    nodes: set[str], edges: dict[tuple[str, str], list[Import]]
) -> list[set[str]]:
    """Groups of more than one node where each reaches every other (Tarjan's algorithm)."""
    successors: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        successors[source].append(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(successors[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return groups


def core_importing_cli(imports: Iterable[Import]) -> list[Import]:
    """Imports of the CLI, typer or rich from anywhere but ``mlcli.cli``."""
    return [
        found
        for found in imports
        if not any(within(found.importer, cli) for cli in CLI_MODULES)
        and any(within(found.target, banned) for banned in CORE_MUST_NOT_IMPORT)
    ]


def store_importing_upward(imports: Iterable[Import]) -> list[Import]:
    """Imports, from the storage layer, of a part that is built on top of it."""
    return [
        found
        for found in imports
        if within(found.importer, "mlcli.store")
        and any(within(found.target, banned) for banned in STORE_MUST_NOT_IMPORT)
    ]


def reaching_into_store(imports: Iterable[Import]) -> list[Import]:
    """Imports, from outside store/, of a store module that is not its public face."""
    return [
        found
        for found in imports
        if not within(found.importer, "mlcli.store")
        and within(found.target, "mlcli.store")
        and found.target not in PUBLIC_STORE_MODULES
    ]


def shown(imports: Iterable[Import]) -> str:
    return "\n".join(
        f"  {found.where}: {found.importer} imports {found.target}" for found in imports
    )


# --- the real package ------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlcli_imports() -> list[Import]:
    return read_imports(PACKAGE)


@pytest.fixture(scope="module")
def mlcli_internal_imports(mlcli_imports: list[Import]) -> list[Import]:
    return internal(mlcli_imports, modules_of(PACKAGE))


def test_no_import_cycle_between_parts(mlcli_internal_imports: list[Import]) -> None:
    cycles = package_cycles(mlcli_internal_imports)
    assert not cycles, "import cycles between parts of mlcli:\n" + "\n\n".join(
        shown(cycle) for cycle in cycles
    )


def test_models_the_registry_and_the_client_import_in_one_direction(
    mlcli_internal_imports: list[Import],
) -> None:
    """The cycle client -> registry -> models -> client is gone: models use the registry,
    the client uses both, and nothing points back."""
    edges = part_edges(mlcli_internal_imports)
    assert ("mlcli.registry", "mlcli.models") not in edges
    assert ("mlcli.models", "mlcli.client") not in edges
    assert ("mlcli.registry", "mlcli.client") not in edges


def test_core_never_imports_the_cli_typer_or_rich(mlcli_imports: list[Import]) -> None:
    violations = core_importing_cli(mlcli_imports)
    assert not violations, "the core imports the CLI's libraries:\n" + shown(violations)


def test_store_never_imports_what_is_built_on_it(mlcli_imports: list[Import]) -> None:
    violations = store_importing_upward(mlcli_imports)
    assert not violations, "the storage layer imports upward:\n" + shown(violations)


def test_everything_outside_the_store_goes_through_its_public_face(
    mlcli_internal_imports: list[Import],
) -> None:
    violations = reaching_into_store(mlcli_internal_imports)
    assert not violations, "imports of the store's internals (use mlcli.store):\n" + shown(
        violations
    )


def test_the_graph_sees_imports_inside_functions_relative_and_by_name(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from . import leaf\n")
    (package / "sub" / "leaf.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    import pkg.hidden\n"
        "def late():\n"
        "    from ..other import thing\n"
        "    import importlib\n"
        "    return importlib.import_module('pkg.named')\n"
    )
    imports = read_imports(package)
    pairs = {(found.importer, found.target, found.line) for found in imports}
    assert ("pkg.sub", "pkg.sub.leaf", 1) in pairs
    assert ("pkg.sub.leaf", "pkg.other", 5) in pairs
    assert ("pkg.sub.leaf", "pkg.named", 7) in pairs
    assert not any(found.target == "pkg.hidden" for found in imports)
    assert {found.path for found in imports} == {"pkg/sub/__init__.py", "pkg/sub/leaf.py"}


# --- each rule fails on a deliberately bad import ----------------------------------------


def test_a_cycle_between_parts_is_reported_with_its_edges() -> None:
    imports = [
        Import("mlcli.models.uri", "mlcli.tracking.client", "mlcli/models/uri.py", 3),
        Import("mlcli.tracking.fluent", "mlcli.models.log", "mlcli/tracking/fluent.py", 9),
        Import("mlcli.tracking.fluent", "mlcli.store.runs", "mlcli/tracking/fluent.py", 4),
        Import("mlcli.models.uri", "mlcli.models.mlmodel", "mlcli/models/uri.py", 2),
    ]
    cycles = package_cycles(imports)
    assert [[found.where for found in cycle] for cycle in cycles] == [
        ["mlcli/models/uri.py:3", "mlcli/tracking/fluent.py:9"]
    ]
    assert package_cycles(imports[2:]) == []


def test_a_core_module_importing_rich_typer_or_the_cli_is_reported() -> None:
    imports = [
        Import("mlcli.store.fsck", "rich.console", "mlcli/store/fsck.py", 7),
        Import("mlcli.models.log", "typer", "mlcli/models/log.py", 2),
        Import("mlcli.ui.app", "mlcli.cli.output", "mlcli/ui/app.py", 5),
        Import("mlcli.cli.runs", "rich.table", "mlcli/cli/runs.py", 1),
        Import("mlcli.cli.runs", "typer", "mlcli/cli/runs.py", 2),
        Import("mlcli.richer", "mlcli.client", "mlcli/richer.py", 2),
        Import("mlcli.__main__", "mlcli.cli.main", "mlcli/__main__.py", 3),
    ]
    assert [found.where for found in core_importing_cli(imports)] == [
        "mlcli/store/fsck.py:7",
        "mlcli/models/log.py:2",
        "mlcli/ui/app.py:5",
    ]


def test_the_store_importing_a_part_built_on_it_is_reported() -> None:
    imports = [
        Import("mlcli.store.store", "mlcli.search.sql", "mlcli/store/store.py", 12),
        Import("mlcli.store.runs", "mlcli.store.index", "mlcli/store/runs.py", 3),
        Import("mlcli.store.gc", "mlcli.errors", "mlcli/store/gc.py", 4),
        Import("mlcli.store.gc", "mlcli.scoring_extra", "mlcli/store/gc.py", 5),
    ]
    assert [found.where for found in store_importing_upward(imports)] == ["mlcli/store/store.py:12"]


def test_an_import_of_the_stores_internals_from_outside_is_reported() -> None:
    imports = [
        Import("mlcli.ui.runs_table", "mlcli.store.index", "mlcli/ui/runs_table.py", 8),
        Import("mlcli.tracking_server.runs", "mlcli.store", "mlcli/tracking_server/runs.py", 3),
        Import("mlcli.tracking.client", "mlcli.store.runs", "mlcli/tracking/client.py", 5),
        Import("mlcli.cli.maintenance", "mlcli.store.gc", "mlcli/cli/maintenance.py", 9),
        Import("mlcli.store.gc", "mlcli.store.layout", "mlcli/store/gc.py", 5),
    ]
    assert [found.where for found in reaching_into_store(imports)] == [
        "mlcli/ui/runs_table.py:8",
        "mlcli/tracking/client.py:5",
    ]
