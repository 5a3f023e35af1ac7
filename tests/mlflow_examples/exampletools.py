"""Running one of MLflow's documented examples as its user would: the code as MLflow's
docs write it (``import mlflow``), in a fresh Python process, in an empty folder, with
no MLCLI_*/MLFLOW_* setting of the developer's.

``run_example(code, tmp_path)`` runs it with only its imports changed (``import mlflow``
-> ``import mlcli as mlflow``, ``from mlflow.x import y`` -> ``from mlcli.x import y``),
so mlcli writes the ``.mlruns`` store it creates in that folder.
``run_example(code, tmp_path, oracle=True)`` runs it unchanged with the real ``mlflow``,
tracking to ``sqlite:///tmp.db`` in its own folder: the oracle.

An example ends by printing ``RESULT: <json>`` (``report(...)``, defined for it), what
the test compares; everything else it prints is the example's own output, kept for the
assertions and for the failure message.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Defined before the example: the one thing the test adds to it (a way to hand back values)
_PRELUDE = """\
import json as _json


def report(**values):
    print("RESULT: " + _json.dumps(values, default=str, sort_keys=True), flush=True)


"""

_IMPORT = re.compile(r"^(?P<indent>\s*)import mlflow(?P<sub>(\.\w+)*)\s*$", re.MULTILINE)
_FROM = re.compile(r"^(?P<indent>\s*)from mlflow(?P<rest>[.\s])", re.MULTILINE)


def with_mlcli(code: str) -> str:
    """The example with only its imports changed, as a user moving to mlcli changes
    them: ``import mlflow`` and ``import mlflow.sklearn`` become ``import mlcli as
    mlflow`` (mlcli's modules are its attributes, as MLflow's are), ``from mlflow...
    import`` becomes ``from mlcli... import``."""
    code = _IMPORT.sub(lambda m: f"{m['indent']}import mlcli as mlflow", code)
    return _FROM.sub(lambda m: f"{m['indent']}from mlcli{m['rest']}", code)


@dataclass
class ExampleResult:
    returncode: int
    stdout: str
    stderr: str
    folder: Path

    @property
    def result(self) -> Any:
        """What the example reported (its last ``RESULT:`` line)."""
        lines = [line for line in self.stdout.splitlines() if line.startswith("RESULT: ")]
        assert lines, f"the example reported nothing\n{self}"
        return json.loads(lines[-1][len("RESULT: ") :])

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without the developer's mlcli and MLflow settings (mlcli's
    per-user data folder, set for the test session, is kept)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MLFLOW_", "MLCLI_")) or name == "MLCLI_DATA_DIR"
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_example(
    code: str,
    folder: Path,
    *,
    oracle: bool = False,
    files: dict[str, str] | None = None,
    timeout: float = 300,
) -> ExampleResult:
    """Run the example in ``folder`` (created), with mlcli, or with the real mlflow when
    ``oracle``. ``files`` are written there first (a project, a data file...); the
    imports of their ``.py`` files are changed as the example's are."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(text).lstrip()
        if name.endswith(".py") and not oracle:  # the user's own code moves with the example
            text = with_mlcli(text)
        path.write_text(text)
    source = textwrap.dedent(code).lstrip()
    if not oracle:
        source = with_mlcli(source)
    script = folder / "example.py"
    script.write_text(_PRELUDE + source)
    extra = {"MLFLOW_TRACKING_URI": "sqlite:///tmp.db"} if oracle else {}
    done = subprocess.run(
        [sys.executable, script.name],
        cwd=folder,
        env=clean_environment(extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return ExampleResult(done.returncode, done.stdout, done.stderr, folder)


def ok(code: str, folder: Path, **kwargs: Any) -> ExampleResult:
    """``run_example`` that must succeed."""
    done = run_example(code, folder, **kwargs)
    assert done.returncode == 0, str(done)
    return done
