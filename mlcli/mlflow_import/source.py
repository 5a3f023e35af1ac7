"""Which kind of MLflow store a location is: a file store folder or a SQLite file."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.mlflow_import.records import MlflowSource

SQLITE_MAGIC = b"SQLite format 3\x00"


def open_source(location: str | Path) -> MlflowSource:
    """``mlruns``, ``file:///.../mlruns``, ``mlflow.db`` or ``sqlite:///mlflow.db``."""
    from mlcli.mlflow_import.filestore import FileStoreSource
    from mlcli.mlflow_import.sqlstore import SqliteSource

    path = _local_path(str(location))
    if not path.exists():
        raise NotFoundError(f"no MLflow store at {location}: no such file or directory")
    if path.is_file():
        with path.open("rb") as handle:
            if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                raise InvalidInputError(
                    f"{location} is a file but not an SQLite database: give an mlruns folder "
                    "or an MLflow SQLite database"
                )
        return SqliteSource(path)
    if _is_file_store(path):
        return FileStoreSource(path)
    if _is_file_store(path / "mlruns"):
        return FileStoreSource(path / "mlruns")
    raise InvalidInputError(
        f"{location} is not an MLflow file store: it has no <experiment_id>/meta.yaml "
        "(give the mlruns folder, or an MLflow SQLite database)"
    )


def _local_path(location: str) -> Path:
    if location.startswith("sqlite:///"):
        return Path(unquote(location[len("sqlite:///") :])).expanduser()
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if len(parsed.scheme) > 1:
        raise InvalidInputError(
            f"unsupported MLflow store {location!r}: give an mlruns folder, a file: URI, an "
            "SQLite file or a sqlite:/// URI"
        )
    return Path(location).expanduser()


def _is_file_store(path: Path) -> bool:
    if not path.is_dir():
        return False
    if (path / "models").is_dir() or (path / ".trash").is_dir():
        return True
    return any(child.is_dir() and (child / "meta.yaml").is_file() for child in path.iterdir())
