"""Finding the store the way git finds ``.git``, and creating it on first write.

Precedence: an explicit path (``--store``), then ``MLCLI_STORE`` (or its other name,
``MLCLI_TRACKING_URI``), then MLflow's ``MLFLOW_TRACKING_URI`` when it names something
mlcli can use (a path, ``file:``, ``s3://`` or ``http(s)://``; a database or Databricks
is refused in one line, never skipped), then the first ``.mlruns`` found walking up
from the working directory. With none, a write creates
``.mlruns`` at the enclosing git work tree's top level (or in the working directory
outside git) and adds it to that directory's ``.gitignore``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from mlcli.errors import StoreError
from mlcli.files.worktree import git_toplevel
from mlcli.store.layout import STORE_DIRNAME

StoreAnnouncer = Callable[[Path], None]
STORE_VARIABLES = ("MLCLI_STORE", "MLCLI_TRACKING_URI")
MLFLOW_STORE_VARIABLE = "MLFLOW_TRACKING_URI"

#: Whether ``MLFLOW_TRACKING_URI`` names the store (see ``ignore_mlflow_tracking_uri``).
honour_mlflow_tracking_uri = True


def ignore_mlflow_tracking_uri() -> None:
    """From now on, in this process, ``MLFLOW_TRACKING_URI`` names no store: ``mlcli
    server`` calls it, since there the variable is how MLflow's clients reach this very
    server (MLflow's own server does not read it either)."""
    global honour_mlflow_tracking_uri
    honour_mlflow_tracking_uri = False


def named_store(environ: dict[str, str] | os._Environ[str] | None = None) -> str | None:
    """The store the environment names (a path, a URL or a remote's name), if any:
    mlcli's variables first, then MLflow's ``MLFLOW_TRACKING_URI``."""
    environ = os.environ if environ is None else environ
    named = next((environ[v] for v in STORE_VARIABLES if environ.get(v)), None)
    if named is None and honour_mlflow_tracking_uri and environ.get(MLFLOW_STORE_VARIABLE):
        return store_of_mlflow_uri(environ[MLFLOW_STORE_VARIABLE])
    return named


_MLFLOW_ONLY_SCHEMES = {
    "sqlite": "an MLflow database",
    "postgresql": "an MLflow database",
    "mysql": "an MLflow database",
    "mssql": "an MLflow database",
    "databricks": "Databricks",
    "databricks-uc": "Databricks",
    "uc": "Databricks",
}


def store_of_mlflow_uri(uri: str, said: str | None = None, fix: str | None = None) -> str:
    """What an MLflow tracking URI (``MLFLOW_TRACKING_URI``, or ``set_tracking_uri``'s
    argument) means as an mlcli store: a ``file:`` URI is the folder it names; a path,
    ``s3://`` or ``http(s)://`` is used as given. A database, Databricks, or a folder
    holding MLflow's own file store cannot hold mlcli's runs: StoreError, saying how to
    choose (never silently another store). ``said`` is how the message names where the
    URI came from, ``fix`` what to do instead."""
    text = uri.strip()
    said = said or f"{MLFLOW_STORE_VARIABLE}={text}"
    fix = fix or ("set MLCLI_STORE (it wins over MLFLOW_TRACKING_URI) or unset MLFLOW_TRACKING_URI")
    scheme = text.split(":", 1)[0].split("+", 1)[0].lower() if ":" in text else ""
    if scheme in _MLFLOW_ONLY_SCHEMES or text.lower() == "databricks":
        what = _MLFLOW_ONLY_SCHEMES.get(scheme, "Databricks")
        raise StoreError(
            f"{said} names {what}, which mlcli cannot use as its store: {fix} "
            "('mlcli import-mlflow' copies MLflow's runs into mlcli)"
        )
    if scheme == "file":
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise StoreError(f"{said}: a file: URI on another host")
        text = unquote(parts.path) or "."
    elif scheme in ("http", "https", "s3"):
        return uri  # as given: its store refuses a malformed one (a stray space) in one line
    elif "://" in text:
        raise StoreError(
            f"{said}: mlcli cannot use a {scheme}:// store (it takes a path, file:, s3:// "
            f"or a server's http(s)://): {fix}"
        )
    if _is_mlflow_file_store(Path(text).expanduser()):
        raise StoreError(
            f"{said} is MLflow's own file store, which mlcli does not write into: {fix}, or "
            "copy its runs with 'mlcli import-mlflow'"
        )
    return text


def _is_mlflow_file_store(path: Path) -> bool:
    """A folder MLflow's file store wrote (``0/meta.yaml``, ``.trash``) and mlcli did not."""
    if (path / "VERSION").is_file() or (path / STORE_DIRNAME).is_dir():
        return False
    return (path / "0" / "meta.yaml").is_file() or (path / ".trash").is_dir()


def find_store_root(
    explicit: str | os.PathLike[str] | None = None,
    cwd: Path | None = None,
    environ: dict[str, str] | os._Environ[str] | None = None,
) -> Path | None:
    """The store the user named or that encloses ``cwd``; None when there is none
    (and none was named)."""
    named = explicit or named_store(environ)
    if named:
        return _named_store(Path(named).expanduser())
    start = (cwd or Path.cwd()).resolve()
    for directory in (start, *start.parents):
        candidate = directory / STORE_DIRNAME
        if candidate.is_dir():
            return candidate
    return None


def store_location(cwd: Path | None = None) -> str:
    """Where the store the user means is, or would be made by a first write: what the
    environment names, else the nearest ``.mlruns``, else where a write would create it."""
    named = named_store()
    if named:
        return named
    return str(find_store_root(None, cwd) or default_store_root(cwd))


def default_store_root(cwd: Path | None = None) -> Path:
    """Where a first write creates the store: the git top level, else the cwd."""
    start = (cwd or Path.cwd()).resolve()
    return (git_toplevel(start) or start) / STORE_DIRNAME


def ensure_gitignored(store_root: Path) -> bool:
    """Add the store to the ``.gitignore`` beside it when that folder is in a git work
    tree; returns True when the file was changed. Appends, never rewrites."""
    directory = store_root.parent
    if git_toplevel(directory) is None:
        return False
    gitignore = directory / ".gitignore"
    name = store_root.name
    try:
        existing = gitignore.read_text()
    except FileNotFoundError:
        existing = ""
    patterns = {line.strip() for line in existing.splitlines()}
    if patterns & {name, f"{name}/", f"/{name}", f"/{name}/"}:
        return False
    prefix = "" if not existing or existing.endswith("\n") else "\n"
    with open(gitignore, "a") as handle:
        handle.write(f"{prefix}{name}/\n")
    return True


def _named_store(path: Path) -> Path:
    path = path.resolve()
    if (path / "VERSION").is_file():
        return path
    if (path / STORE_DIRNAME).is_dir():
        return path / STORE_DIRNAME
    if path.exists() and not path.is_dir():
        raise StoreError(f"the store path {path} is not a directory")
    return path
