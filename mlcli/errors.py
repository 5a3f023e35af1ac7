"""The one exception tree of mlcli's core.

    MlcliError                 exit 1   HTTP 500   something failed
    ├── InvalidInputError      exit 2   HTTP 400   bad names, values, paths, YAML, JSON, filters
    │   └── ConflictError      exit 2   HTTP 400   the input contradicts what is stored
    ├── NotFoundError          exit 2   HTTP 404   unknown or ambiguous id, name or path
    ├── StoreError             exit 1   HTTP 500   no store, a newer store format, a broken file
    └── EnvironmentFailure     exit 1   HTTP 500   an environment could not be created or used

Each class carries the exit code the CLI uses, the HTTP status the servers use and
the MLflow ``error_code`` string the REST protocol expects. The core raises these and
nothing else for conditions a user can cause; the CLI turns them into one line on
stderr and the exit code, the servers into a JSON error body.
"""

from __future__ import annotations


class MlcliError(Exception):
    """Base of every error mlcli raises on purpose."""

    exit_code: int = 1
    http_status: int = 500
    error_code: str = "INTERNAL_ERROR"

    def __init__(self, message: str, *, error_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code

    def __str__(self) -> str:
        return self.message


class InvalidInputError(MlcliError):
    """Input from a user or a caller is malformed or out of range."""

    exit_code = 2
    http_status = 400
    error_code = "INVALID_PARAMETER_VALUE"


class ConflictError(InvalidInputError):
    """The input is well formed but contradicts the stored state (a changed param,
    a taken name)."""

    error_code = "RESOURCE_ALREADY_EXISTS"


class NotFoundError(MlcliError):
    """An id, prefix, name or path names nothing (or, for prefixes, more than one thing)."""

    exit_code = 2
    http_status = 404
    error_code = "RESOURCE_DOES_NOT_EXIST"


class StoreError(MlcliError):
    """The store is missing, of an unknown format, or unreadable."""


class StoreUnavailableError(StoreError):
    """What the store lives on does not answer now (an object storage endpoint down or
    overloaded): a server answers 503, and a client may try again."""

    http_status = 503
    error_code = "TEMPORARILY_UNAVAILABLE"


class EnvironmentFailure(MlcliError):
    """An execution environment (virtualenv, conda, docker) could not be prepared."""


class PartlyWritten(MlcliError):
    """A write of many lines stopped after the first ``written`` of them (a team server
    that failed half-way through a long write); ``__cause__`` is why."""

    def __init__(self, message: str, written: int) -> None:
        super().__init__(message)
        self.written = written
