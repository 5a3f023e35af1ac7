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

# Imports between parts that still close a cycle, each waiting for a named move. The
# cycle rule leaves exactly these out; like the list below, this one may only shrink.
PINNED_CYCLE_EDGES = {
    # Store.search_runs compiles filters: it moves to search/ with the store facade
    ("mlcli.store", "mlcli.search"): "Store.search_runs moves to search/",
    # the fluent API's start_run(log_system_metrics=True) and search_runs(pandas)
    ("mlcli.tracking", "mlcli.capture"): "system metrics start from the fluent API",
    ("mlcli.tracking", "mlcli.compare"): "search_runs(output_format='pandas')",
    # run_capture.py is the glue of `mlcli run` and capture: it belongs in projects/
    ("mlcli.capture", "mlcli.projects"): "capture/run_capture.py belongs in projects/",
}
# The storage layer's imports upward that wait for the same move (importer -> part).
PINNED_STORE_UPWARD = {("mlcli.store.store", "mlcli.search")}

# Modules outside store/ and tracking/ that import the store's modules (``mlcli.store.x``)
# rather than the package ``mlcli.store``. The store facade will take their place; until
# then this list may only shrink: a module that starts reaching in fails, and so does a
# module listed here that no longer does (take it off the list).
REACHING_INTO_STORE = frozenset(
    {
        "mlcli.autologging.sklearn",
        "mlcli.autologging.sklearn_search",
        "mlcli.capture.scalar_stream",
        "mlcli.capture.scalars",
        "mlcli.cli.log",
        "mlcli.cli.maintenance",
        "mlcli.cli.registry",
        "mlcli.compare.code",
        "mlcli.compare.diff",
        "mlcli.compare.table",
        "mlcli.images.context",
        "mlcli.mlflow_import.filestore",
        "mlcli.mlflow_import.importer",
        "mlcli.models.evaluation.evaluate",
        "mlcli.models.flavors.python_function",
        "mlcli.models.log",
        "mlcli.models.uri",
        "mlcli.plots.files",
        "mlcli.projects.cache",
        "mlcli.projects.envs.conda",
        "mlcli.projects.fetch",
        "mlcli.projects.lineage",
        "mlcli.projects.parameters",
        "mlcli.projects.runner",
        "mlcli.registry.files",
        "mlcli.search.evaluate",
        "mlcli.search.parser",
        "mlcli.tracking_server.artifacts",
        "mlcli.tracking_server.backend",
        "mlcli.tracking_server.logged_models",
        "mlcli.tracking_server.runs",
        "mlcli.tracking_server.shapes",
        "mlcli.sweeps.planning",
        "mlcli.sweeps.runner",
        "mlcli.ui.artifacts",
        "mlcli.ui.histories",
        "mlcli.ui.run_detail",
        "mlcli.ui.runs_table",
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


def package_cycles(
    imports: Iterable[Import], pinned: Iterable[tuple[str, str]] = ()
) -> list[list[Import]]:
    """The cycles between parts, leaving out the ``pinned`` edges: for each group of
    parts that import each other in a circle, every import that joins two of them."""
    edges = part_edges(imports)
    for edge in pinned:
        edges.pop(edge, None)
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


def store_importing_upward(
    imports: Iterable[Import], pinned: Iterable[tuple[str, str]] = ()
) -> list[Import]:
    """Imports, from the storage layer, of a part that is built on top of it (but for
    the ``pinned`` (module, part) pairs)."""
    skipped = set(pinned)
    return [
        found
        for found in imports
        if within(found.importer, "mlcli.store")
        and any(within(found.target, banned) for banned in STORE_MUST_NOT_IMPORT)
        and (found.importer, part(found.target)) not in skipped
    ]


def reaching_into_store(imports: Iterable[Import]) -> dict[str, list[Import]]:
    """Modules outside store/ and tracking/ that import a module inside ``mlcli.store``."""
    found_by_module: dict[str, list[Import]] = defaultdict(list)
    for found in imports:
        outside = not (
            within(found.importer, "mlcli.store") or within(found.importer, "mlcli.tracking")
        )
        if outside and within(found.target, "mlcli.store") and found.target != "mlcli.store":
            found_by_module[found.importer].append(found)
    return dict(found_by_module)


def allow_list_drift(
    reaching: dict[str, list[Import]], allowed: frozenset[str]
) -> tuple[list[str], list[str]]:
    """Modules that reach in without being listed, and listed modules that no longer do."""
    return sorted(set(reaching) - allowed), sorted(allowed - set(reaching))


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
    cycles = package_cycles(mlcli_internal_imports, PINNED_CYCLE_EDGES)
    assert not cycles, "import cycles between parts of mlcli:\n" + "\n\n".join(
        shown(cycle) for cycle in cycles
    )


def test_every_pinned_cycle_edge_is_still_there(mlcli_internal_imports: list[Import]) -> None:
    gone = sorted(set(PINNED_CYCLE_EDGES) - set(part_edges(mlcli_internal_imports)))
    assert not gone, f"these imports are gone: remove them from PINNED_CYCLE_EDGES: {gone}"


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
    violations = store_importing_upward(mlcli_imports, PINNED_STORE_UPWARD)
    assert not violations, "the storage layer imports upward:\n" + shown(violations)
    still = {
        (found.importer, part(found.target)) for found in store_importing_upward(mlcli_imports)
    }
    gone = sorted(PINNED_STORE_UPWARD - still)
    assert not gone, f"these imports are gone: remove them from PINNED_STORE_UPWARD: {gone}"


def test_modules_reaching_into_the_store_only_ever_get_fewer(
    mlcli_internal_imports: list[Import],
) -> None:
    new, gone = allow_list_drift(reaching_into_store(mlcli_internal_imports), REACHING_INTO_STORE)
    assert not new, f"new modules import the store's internals (use mlcli.store): {new}"
    assert not gone, f"these no longer reach into the store: remove them from the list: {gone}"


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
    assert package_cycles(imports, pinned=[("mlcli.models", "mlcli.tracking")]) == []


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
        Import("mlcli.store.gc", "mlcli.serving_extra", "mlcli/store/gc.py", 5),
    ]
    assert [found.where for found in store_importing_upward(imports)] == ["mlcli/store/store.py:12"]
    assert store_importing_upward(imports, [("mlcli.store.store", "mlcli.search")]) == []


def test_a_new_module_reaching_into_the_store_or_a_stale_entry_is_reported() -> None:
    imports = [
        Import("mlcli.ui.runs_table", "mlcli.store.index", "mlcli/ui/runs_table.py", 8),
        Import("mlcli.tracking_server.runs", "mlcli.store", "mlcli/tracking_server/runs.py", 3),
        Import("mlcli.tracking.client", "mlcli.store.runs", "mlcli/tracking/client.py", 5),
        Import("mlcli.store.gc", "mlcli.store.layout", "mlcli/store/gc.py", 5),
    ]
    reaching = reaching_into_store(imports)
    assert list(reaching) == ["mlcli.ui.runs_table"]
    assert allow_list_drift(reaching, frozenset()) == (["mlcli.ui.runs_table"], [])
    assert allow_list_drift(reaching, frozenset({"mlcli.ui.runs_table", "mlcli.ui.app"})) == (
        [],
        ["mlcli.ui.app"],
    )
