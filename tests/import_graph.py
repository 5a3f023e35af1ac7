"""The import graph of a package, read from its source with ``ast`` (nothing is imported).

Every import counts wherever it is written (at module level or inside a function),
``from . import x`` is resolved against the importing module, and
``importlib.import_module("literal")`` counts as an import of the literal. Imports under
``if TYPE_CHECKING:`` are left out: they never run, so they cannot form a cycle at run
time and they do not load anything.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Import:
    """One import statement: ``importer`` (a module name) imports ``target`` at ``where``."""

    importer: str
    target: str
    path: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def module_name(path: Path, root: Path) -> str:
    """``mlcli/store/index.py`` -> ``mlcli.store.index``; ``pkg/__init__.py`` -> ``pkg``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_imports(package_dir: Path) -> list[Import]:
    """Every import in every ``.py`` file under ``package_dir`` (a package directory)."""
    found: list[Import] = []
    for path in sorted(package_dir.rglob("*.py")):
        name = module_name(path, package_dir)
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        shown = str(path.relative_to(package_dir.parent))
        for target, line in _imports_in(tree, name, is_package):
            found.append(Import(name, target, shown, line))
    return found


def _imports_in(tree: ast.Module, module: str, is_package: bool) -> list[tuple[str, int]]:
    skipped = _type_checking_nodes(tree)
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            found.append((base, node.lineno))
            # ``from pkg import sub`` may import the submodule ``pkg.sub``: record both; a
            # name that is no module is filtered out by the caller's list of modules
            found.extend((f"{base}.{alias.name}", node.lineno) for alias in node.names)
        elif _is_import_module_call(node):
            found.append((node.args[0].value, node.lineno))  # type: ignore[attr-defined]
    return found


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_import_module_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func = node.func
    named = (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id == "import_module"
    )
    first = node.args[0]
    return named and isinstance(first, ast.Constant) and isinstance(first.value, str)


def _type_checking_nodes(tree: ast.Module) -> set[ast.AST]:
    """Every node inside an ``if TYPE_CHECKING:`` block (its body, not its ``else``)."""
    skipped: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.body:
                skipped.update(ast.walk(statement))
    return skipped


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def internal(imports: list[Import], modules: set[str]) -> list[Import]:
    """The imports whose target is one of ``modules`` (``from pkg import name`` records
    ``pkg.name`` too; this drops the ones where ``name`` is no module)."""
    return [found for found in imports if found.target in modules]


def modules_of(package_dir: Path) -> set[str]:
    return {module_name(path, package_dir) for path in package_dir.rglob("*.py")}
