"""An entry point that uses ``import mlflow`` logs into the run ``mlcli run`` created.

When the project's code imports mlflow (``mlflow_imports`` reads its ``.py`` files),
this is on by default, and ``mlcli run`` says so once; ``--mlflow-compat`` or
``mlflow_compat: true`` in the MLproject turns it on whatever the code says, and
``--no-mlflow-compat`` or ``mlflow_compat: false`` turns it off (MLflow then writes
where its own defaults say: an ``mlflow.db`` or ``mlruns`` in the project).

For the length of the entry point, a tracking server speaking MLflow's REST API
(``mlcli.tracking_server``) serves the store on a free loopback port, and the entry point gets
``MLFLOW_TRACKING_URI``, ``MLFLOW_TRACKING_TOKEN``, ``MLFLOW_RUN_ID`` and
``MLFLOW_EXPERIMENT_ID``, as ``mlflow run`` gives its children. A container cannot
reach the host's loopback, so docker environments are refused when asked for, and left
out (with a notice) when only the code's import asked. A run on a team server
(``--store http://...``) needs no server of its own: the entry point gets the team
server's URL (and finds its credentials in the ``MLFLOW_TRACKING_*`` variables).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from mlcli.errors import InvalidInputError
from mlcli.projects.envs import RunContext
from mlcli.projects.spec import Project

#: ``import mlflow``, ``import numpy as np, mlflow``, ``from mlflow import ...``,
#: ``from mlflow.models import ...``, at the start of a line (indented too).
_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+mlflow(?:\.[\w.]+)?[ \t]+import\b"
    r"|import[ \t]+(?:[\w.]+(?:[ \t]+as[ \t]+\w+)?[ \t]*,[ \t]*)*mlflow(?:\.[\w.]+)?\b)",
    re.MULTILINE,
)
#: The scan stops after this many .py files or once this many names are listed (folders
#: of data), and reads at most MAX_BYTES of each file.
MAX_FILES = 2_000
MAX_ENTRIES = 100_000
MAX_BYTES = 1 << 20
#: Folders that hold no code of the project's own.
_SKIPPED = frozenset({"__pycache__", "node_modules", "site-packages", "mlruns"})


@dataclass(frozen=True)
class Decision:
    """Whether the entry point's MLflow logging goes to the run, and what to tell the
    user about it (once), if anything."""

    enabled: bool
    notice: str | None = None


OFF = Decision(False)


def decide(requested: bool | None, project: Project, env_manager: str) -> Decision:
    """Before the run exists: ``requested`` is ``--mlflow-compat`` (True),
    ``--no-mlflow-compat`` (False) or neither (None); the flag wins over the MLproject's
    ``mlflow_compat``, which wins over what the code imports."""
    asked = project.mlflow_compat if requested is None else requested
    if asked is False:
        return OFF
    if asked:
        if env_manager == "docker":
            raise InvalidInputError(
                "--mlflow-compat does not work with docker environments (a container cannot "
                "reach the server on this host's loopback): use local, virtualenv or conda"
            )
        return Decision(True)
    found = mlflow_imports(project.directory)
    if found is None:
        return OFF
    shown = found.relative_to(project.directory)
    if env_manager == "docker":
        return Decision(
            False,
            f"{shown} imports mlflow, but a docker container cannot reach mlcli's run: "
            "MLflow's data stays in the container (docs/projects.md)",
        )
    return Decision(
        True,
        f"{shown} imports mlflow: MLflow's params, metrics and artifacts go to mlcli's run "
        "(--no-mlflow-compat: leave MLflow to its own store)",
    )


def check(requested: bool, project: Project, env_manager: str) -> None:
    """Before the run exists: what ``--mlflow-compat`` (``requested``) or the MLproject
    asks for must work."""
    decide(requested or None, project, env_manager)


def mlflow_imports(directory: Path) -> Path | None:
    """The first ``.py`` file of the project (its own folders: not hidden ones,
    virtualenvs or caches; shallow folders first) that imports mlflow, or None; a
    project too large to read quickly (``MAX_FILES``, ``MAX_ENTRIES``) stops the search
    where it got to."""
    folders = deque([directory])
    scanned = listed = 0
    while folders:
        folder = folders.popleft()
        try:
            with os.scandir(folder) as found:
                entries = sorted(found, key=lambda entry: entry.name)
        except OSError:
            continue
        listed += len(entries)
        for entry in entries:
            if entry.name.endswith(".py") and entry.is_file():
                if _imports_mlflow(Path(entry.path)):
                    return Path(entry.path)
                scanned += 1
                if scanned >= MAX_FILES:
                    return None
            elif entry.is_dir(follow_symlinks=False) and _own_folder(entry.path, entry.name):
                folders.append(Path(entry.path))
        if listed >= MAX_ENTRIES:
            return None
    return None


def _own_folder(path: str, name: str) -> bool:
    return (
        not name.startswith(".")
        and name not in _SKIPPED
        and not os.path.exists(os.path.join(path, "pyvenv.cfg"))
    )


def _imports_mlflow(path: Path) -> bool:
    try:
        with open(path, "rb") as stream:
            text = stream.read(MAX_BYTES).decode("utf-8", "replace")
    except OSError:
        return False
    return _IMPORT.search(text) is not None


@contextlib.contextmanager
def attached(decision: Decision, context: RunContext) -> Iterator[RunContext]:
    """``context``, with the MLflow variables added while a server runs, if enabled."""
    if not decision.enabled:
        yield context
        return
    if context.server_url:  # the run is on a team server already: MLflow logs there
        variables = {
            "MLFLOW_TRACKING_URI": context.server_url,
            "MLFLOW_RUN_ID": context.run_id,
            "MLFLOW_EXPERIMENT_ID": context.experiment_id,
            **_credentials(),
        }
        yield replace(context, extra={**context.extra, **variables})
        return
    from mlcli.tracking_server.ephemeral import ephemeral_server

    with ephemeral_server(context.store_root) as server:
        variables = server.environment(context.run_id, context.experiment_id)
        yield replace(context, extra={**context.extra, **variables})


def _credentials() -> dict[str, str]:
    """mlcli's credential variables under MLflow's names, where MLflow's are not set."""
    found = {}
    for suffix in ("TOKEN", "USERNAME", "PASSWORD"):
        value = os.environ.get(f"MLCLI_TRACKING_{suffix}")
        if value is not None and f"MLFLOW_TRACKING_{suffix}" not in os.environ:
            found[f"MLFLOW_TRACKING_{suffix}"] = value
    return found
