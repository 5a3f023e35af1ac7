"""Which model files may run code when loaded: the one gate every unpickle goes through.

A pickle (cloudpickle, MLflow's ``pickle``) runs whatever its bytes say when it is
loaded, and so does a model's ``code/`` folder once it is on ``sys.path``. A model file
is loaded only when one of these holds:

- mlcli wrote those exact bytes itself: ``save_model``/``log_model`` (and autolog) record
  the sha256 of every file they serialize in a *trust record*, and a file whose digest
  is recorded loads without ceremony. Records live in the store that holds the model
  (``.mlruns/trusted/<sha256>``) and in the user's own data folder
  (``$MLCLI_DATA_DIR``, default ``$XDG_DATA_HOME/mlcli``, else ``~/.local/share/mlcli``:
  ``trusted-models/<sha256>``, for models saved outside a store). The files of a
  model's ``code/`` folder (``code_paths``) and the Python file of a model from code
  are recorded and checked the same way. Registering a model copies its files, so
  the digest still matches. Nothing that the servers run on behalf of an HTTP
  client writes a record: an uploaded pickle is never trusted.
- the user opted in: ``--allow-pickle`` on the command, ``allow_pickle=True`` in Python,
  ``MLCLI_ALLOW_PICKLE=1``, or MLflow's ``MLFLOW_ALLOW_MODEL_CODE_EXECUTION=true`` (or
  its older name, ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true``).

The bytes are hashed and unpickled from the same read, so the file cannot change
between the check and the load. Otherwise the load fails with one line naming the
opt-in (:class:`~mlcli.models.errors.UntrustedModelError`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlcli.errors import NotFoundError
from mlcli.models.errors import UntrustedModelError

PICKLE_OPT_IN_VARIABLE = "MLCLI_ALLOW_PICKLE"
MLFLOW_PICKLE_OPT_IN_VARIABLE = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"
# MLflow 3.18's name for it (the one above is deprecated there); either opts in
MLFLOW_CODE_OPT_IN_VARIABLE = "MLFLOW_ALLOW_MODEL_CODE_EXECUTION"
STORE_RECORDS = "trusted"  # .mlruns/trusted/<sha256>
USER_RECORDS = "trusted-models"  # <data dir>/trusted-models/<sha256>
DATA_DIR_VARIABLE = "MLCLI_DATA_DIR"
OPT_IN_HINT = (
    f"pass --allow-pickle (or set {PICKLE_OPT_IN_VARIABLE}=1; allow_pickle=True in Python) "
    "if you trust its source"
)
_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class ModelTrust:
    """What the loader of one model may trust: the user's opt-in, and the folders of
    trust records to look a file's digest up in."""

    allow_pickle: bool = False
    record_dirs: tuple[Path, ...] = ()

    def is_recorded(self, digest: str) -> bool:
        return any((folder / digest).is_file() for folder in self.record_dirs)

    def code_bytes(self, path: Path, what: str) -> bytes:
        """The bytes of ``path``, a file that runs code when loaded (``what`` says how),
        if they may be loaded; UntrustedModelError otherwise."""
        data = read_model_file(path)
        if self.allow_pickle or self.is_recorded(digest_of(data)):
            return data
        raise UntrustedModelError(
            f"refusing to load {path}: it is {what}, which runs code when loaded, and mlcli "
            f"did not write it; {OPT_IN_HINT}"
        )

    def check_code_folder(self, folder: Path) -> None:
        """A model's ``code/`` folder whose files mlcli did not all write goes on
        ``sys.path`` only with the opt-in (:mod:`mlcli.models.code_paths` checks the
        records first)."""
        if not self.allow_pickle:
            raise UntrustedModelError(
                f"refusing to load the model in {folder.parent}: its {folder.name}/ folder holds "
                f"Python modules that would run when it is loaded; {OPT_IN_HINT}"
            )


def trust_for(
    directory: Path, *, store_root: Path | None = None, allow_pickle: bool = False
) -> ModelTrust:
    """The trust of the model in ``directory``: the user's records, the records of the
    store ``store_root`` when the model lies inside it, and the opt-in (the argument or
    the environment)."""
    folders = [user_records_dir()]
    if store_root is not None and _inside(directory, store_root):
        folders.append(store_root / STORE_RECORDS)
    return ModelTrust(allow_pickle or pickle_opted_in(), tuple(folders))


def pickle_opted_in() -> bool:
    """Whether the environment allows loading pickles (mlcli's variable or MLflow's)."""
    ours = os.environ.get(PICKLE_OPT_IN_VARIABLE, "").strip().lower()
    mlflow = {os.environ.get(name, "").strip().lower() for name in MLFLOW_OPT_IN_VARIABLES}
    return ours in _TRUE or "true" in mlflow


MLFLOW_OPT_IN_VARIABLES = (MLFLOW_PICKLE_OPT_IN_VARIABLE, MLFLOW_CODE_OPT_IN_VARIABLE)


def mlflow_allows_code() -> bool:
    """MLflow's own policy, for a model MLflow loads through mlcli's loader: allowed
    unless one of its variables is set to false (its default is true)."""
    return all(
        os.environ.get(name, "true").strip().lower() == "true" for name in MLFLOW_OPT_IN_VARIABLES
    )


def record_written(digests: Iterable[str], record_dirs: Iterable[Path]) -> None:
    """Record that mlcli itself wrote files with these digests. Called only by the
    in-process save paths, before the model they belong to is published."""
    digests = list(digests)
    if not digests:
        return
    for folder in record_dirs:
        folder.mkdir(parents=True, exist_ok=True)
        for digest in digests:
            record = folder / digest
            if not record.exists():  # another user's record stays as it is
                record.touch()


def store_records_dir(store_root: Path) -> Path:
    return store_root / STORE_RECORDS


def user_records_dir() -> Path:
    return user_data_dir() / USER_RECORDS


def user_data_dir() -> Path:
    """mlcli's per-user data: ``$MLCLI_DATA_DIR``, else ``$XDG_DATA_HOME/mlcli``, else
    ``~/.local/share/mlcli``."""
    explicit = os.environ.get(DATA_DIR_VARIABLE)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local/share")
    return Path(base) / "mlcli"


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_model_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"the model file {path} is missing") from None
    except IsADirectoryError:
        raise NotFoundError(f"the model file {path} is a folder") from None


def _inside(directory: Path, root: Path) -> bool:
    try:
        return directory.resolve().is_relative_to(root.resolve())
    except OSError:
        return False
