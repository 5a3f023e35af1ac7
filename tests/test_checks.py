"""scripts/check, the one command that runs every static check (ruff's lint and format,
mypy's types), run for real on a small project: it passes when all is clean, fails on
each kind of defect and names what failed; and CI runs it between the install and the
tests with the versions pinned in the dev extra."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLEAN = "def double(value: int) -> int:\n    return value * 2\n"


def _project(tmp_path: Path) -> Path:
    """A copy of the script and of pyproject.toml's settings over one clean module in
    each folder the script checks."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "check", project / "scripts" / "check")
    shutil.copy2(ROOT / "pyproject.toml", project / "pyproject.toml")
    for folder in ("mlcli", "tests", "benchmarks", "examples"):
        (project / folder).mkdir()
        (project / folder / "__init__.py").write_text(CLEAN)
    return project


def _check(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(
        [str(project / "scripts" / "check")],
        cwd=project.parent,  # the script finds its project, wherever it is called from
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_check_passes_on_a_clean_project(tmp_path: Path) -> None:
    result = _check(_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "text", "failed", "shown"),
    [
        (
            "mlcli/wrong.py",
            'count: int = "three"\n',
            "mypy",
            "mlcli/wrong.py:1: error: Incompatible types in assignment",
        ),
        ("examples/unused.py", "import os\n", "ruff check", "F401"),
        ("benchmarks/ugly.py", "x = {  'a':1 }\n", "ruff format --check", "ugly.py"),
        # the examples print by design; a print in the core is a defect
        ("mlcli/talks.py", 'print("hello")\n', "ruff check", "T201"),
    ],
)
def test_check_fails_on_each_kind_of_defect_and_names_it(
    tmp_path: Path, path: str, text: str, failed: str, shown: str
) -> None:
    project = _project(tmp_path)
    (project / path).write_text(text)
    result = _check(project)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"scripts/check: failed: {failed}"
    assert shown in result.stdout


@pytest.mark.slow
def test_every_failed_check_is_named_not_only_the_first(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "tests" / "unused.py").write_text("import os\n")
    (project / "mlcli" / "wrong.py").write_text('count: int = "three"\n')
    result = _check(project)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "scripts/check: failed: ruff check, mypy"


def test_examples_may_print(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "examples" / "train.py").write_text('print("loss", 0.5)\n')
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "examples"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout


def test_ci_runs_the_checks_after_the_install_and_before_the_tests() -> None:
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    install = lines.index("python3 -m pip install -e '.[dev]'")
    assert lines[install + 1 : install + 3] == ["scripts/check", "python3 -m pytest"]


def test_the_readme_names_the_checks_with_the_setup_and_the_tests() -> None:
    """Right after the two commands (setup, tests), where a contributor looks first."""
    after_first_block = (ROOT / "README.md").read_text().split("```", 3)[2]
    assert "`scripts/check`" in after_first_block.split("##", 1)[0]


def test_the_check_tools_are_pinned_to_one_version() -> None:
    """A range would let two machines disagree on what is clean."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    for tool in ("ruff", "mypy"):
        assert re.search(rf'^\s*"{tool}==\d+(\.\d+)+",', pyproject, re.MULTILINE), tool


def test_the_script_is_executable() -> None:
    assert os.access(ROOT / "scripts" / "check", os.X_OK)
