"""Every ``mlcli.*`` tag key is named once, in ``mlcli/system_tags.py``."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from mlcli import system_tags
from mlcli.tracking_server.tags import to_mlflow, to_store

PACKAGE = Path(system_tags.__file__).parent

# Strings that start with "mlcli." but name no tag, each with its reason.
NOT_TAGS = {
    "mlcli.run_id",  # a docker container label (projects/envs/docker.py), not a run tag
    "mlcli.end_run(), or start a nested run with start_run(nested=True)",  # a message
    "mlcli.run",  # the name of the thread that runs mlcli.run(synchronous=False)
}
# A literal that is both a tag key and a module: the lazy import of the package.
MODULE_PATHS = {("__init__.py", "mlcli.autologging")}


def _keys() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(system_tags).items()
        if name.isupper() and isinstance(value, str) and value.startswith("mlcli.")
    }


def _names_a_module(text: str) -> bool:
    """``mlcli.cli.run:run`` or ``mlcli.pyfunc``: an import path, not a tag key."""
    return importlib.util.find_spec(text.split(":")[0]) is not None


def _tag_literals(root: Path = PACKAGE) -> list[tuple[str, int, str]]:
    keys = set(_keys().values())
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative == "system_tags.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            text = node.value
            if not text.startswith("mlcli.") or text in NOT_TAGS:
                continue
            if text == "mlcli." or any(c.isspace() for c in text):
                continue  # the prefix of an f-string, or a message: a key has no spaces
            if (relative, text) in MODULE_PATHS:
                continue
            if text in keys or not _names_a_module(text):
                found.append((relative, node.lineno, text))
    return found


def test_no_tag_key_is_written_outside_system_tags() -> None:
    assert _tag_literals() == []


def test_the_scan_finds_a_tag_literal(tmp_path: Path) -> None:
    """A key written again, or a new unnamed key, is found; module paths are not."""
    (tmp_path / "origin.py").write_text(
        'GIT_COMMIT_TAG = "mlcli.source.git.commit"\n'
        'NEW = {"mlcli.brandNew": "1"}\n'
        'FACTORY = "mlcli.scoring.app:app_from_environment"\n'
    )
    assert _tag_literals(tmp_path) == [
        ("origin.py", 1, "mlcli.source.git.commit"),
        ("origin.py", 2, "mlcli.brandNew"),
    ]


def test_every_key_is_unique_and_under_the_prefix() -> None:
    keys = _keys()
    assert len(set(keys.values())) == len(keys)
    assert all(key.startswith(system_tags.PREFIX) for key in keys.values())


def test_the_mlflow_names_are_what_the_server_translates() -> None:
    for key, mlflow_name in system_tags.MLFLOW_NAMES.items():
        assert to_mlflow(key) == mlflow_name
        assert to_store(mlflow_name) == key
