"""``mlcli ui`` as a command: options, errors before anything listens, a clean stop,
no server stack at start-up, and the static assets shipped in the package."""

from __future__ import annotations

import socket
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest
from uihelpers import start_ui
from uistore import UiStore

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "mlcli" / "ui" / "static"


def test_help_names_every_option(cli) -> None:
    result = cli("ui", "--help")
    assert result.exit_code == 0
    for option in ("--host", "--port", "--open", "127.0.0.1", "5005"):
        assert option in result.stdout


def test_a_missing_store_is_an_error_before_listening(cli, workdir: Path) -> None:
    result = cli("ui", "--port", "0")
    assert result.exit_code == 1
    assert result.stderr.startswith("mlcli: error: no mlcli store found")


def test_a_taken_port_is_one_line(cli, store_root: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("ui", "--port", str(port))
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"mlcli: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    )


def test_ctrl_c_stops_it_cleanly(built_store: UiStore, tmp_path: Path) -> None:
    server = start_ui(built_store.root, tmp_path / "ui.log")
    assert server.get("/").status == 200
    assert server.stop() == 0
    assert "Traceback" not in server.log()


def test_the_command_line_does_not_import_the_server_stack() -> None:
    probe = "import sys, mlcli.cli.main; print(sorted({'starlette', 'uvicorn'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def _glob_match(path: str, pattern: str) -> bool:
    """setuptools' glob: ``*`` stays within one path segment."""
    parts, wanted = path.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(map(fnmatch, parts, wanted))


def test_every_static_asset_ships_in_the_wheel() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["mlcli.ui"]
    files = [p.relative_to(STATIC.parent).as_posix() for p in STATIC.rglob("*") if p.is_file()]
    assert "static/index.html" in files
    missing = [f for f in files if not any(_glob_match(f, pattern) for pattern in patterns)]
    assert missing == []
