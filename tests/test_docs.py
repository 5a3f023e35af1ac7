"""The documentation is kept true: every command and option is in its page, every command's
help has an example, and the README starts with the two commands CI runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from mlcli.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# The page that documents a command: the entry for its longest listed prefix, else
# docs/<group>.md.
PAGES = {
    "init": "store.md",
    "gc": "store.md",
    "fsck": "store.md",
    "index": "store.md",
    "log": "tracking.md",
    "run": "projects.md",
    "evaluate": "models.md",
    "select": "compare.md",
    "diff": "compare.md",
    "register": "registry.md",
    "promote": "registry.md",
    "models list": "registry.md",
    "models show": "registry.md",
    "models history": "registry.md",
    "models describe": "registry.md",
    "models tag": "registry.md",
    "models rename": "registry.md",
    "models delete": "registry.md",
    "models delete-version": "registry.md",
    "models alias": "registry.md",
    "build-docker": "serve.md",
    "import-mlflow": "server.md",
    "auth": "server.md",
    "remote": "remotes.md",
    "push": "remotes.md",
    "pull": "remotes.md",
    "clone": "remotes.md",
}


def _page(path: tuple[str, ...]) -> Path:
    for length in range(len(path), 0, -1):
        page = PAGES.get(" ".join(path[:length]))
        if page:
            return DOCS / page
    return DOCS / f"{path[0]}.md"


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if not hasattr(command, "list_commands"):
        yield path, command
        return
    for name in command.list_commands(None):  # the root loads its commands on demand
        yield from _commands(command.get_command(None, name), (*path, name))


ALL_COMMANDS = list(_commands(typer.main.get_command(app)))


def test_there_are_commands() -> None:
    assert len(ALL_COMMANDS) >= 15


@pytest.mark.parametrize(
    ("path", "command"), ALL_COMMANDS, ids=[" ".join(p) for p, _ in ALL_COMMANDS]
)
def test_every_command_and_option_is_documented(path: tuple[str, ...], command: Any) -> None:
    page = _page(path)
    assert page.exists(), f"{page.name} documents 'mlcli {path[0]}' and is missing"
    text = page.read_text()
    assert f"mlcli {' '.join(path)}" in text, f"'mlcli {' '.join(path)}' is not in {page.name}"
    for param in command.params:
        flags = [o for o in param.opts if o.startswith("--")]
        if flags and not param.hidden:
            assert flags[0] in text, f"{flags[0]} of 'mlcli {' '.join(path)}' is not in {page.name}"


@pytest.mark.parametrize(
    ("path", "command"), ALL_COMMANDS, ids=[" ".join(p) for p, _ in ALL_COMMANDS]
)
def test_every_command_help_has_an_example(path: tuple[str, ...], command: Any) -> None:
    assert "Example" in (command.help or ""), f"'mlcli {' '.join(path)} --help' has no example"


def test_readme_starts_with_the_two_commands_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    setup = "python3 -m pip install -e '.[dev]'"
    tests = "python3 -m pytest"
    first_block = readme.split("```", 2)[1]
    assert setup in first_block and tests in first_block
    assert setup in ci and tests in ci


def test_every_test_the_security_page_names_exists() -> None:
    """docs/security.md names the test that holds each promise: every file and test it
    names is there (a test renamed or deleted would leave the page claiming what nothing
    checks). A bare ```::name``` continues the file named before it."""
    import re

    page = (DOCS / "security.md").read_text()
    source, checked = "", 0
    for file, test in re.findall(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`", page):
        if file:
            source = (ROOT / file).read_text()
        if test:
            assert f"def {test}(" in source, f"{file or 'the file before'}::{test} is no test"
            checked += 1
    assert checked >= 15
