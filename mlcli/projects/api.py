"""MLflow's ``mlflow.projects.run`` (also ``mlflow.run``) in mlcli: run a project's
entry point from Python as ``mlcli run`` does (``runner.py``), with MLflow's
arguments, and get back a :class:`SubmittedRun` (``run_id``, ``wait()``,
``get_status()``, ``cancel()``)::

    import mlcli as mlflow

    submitted = mlflow.run(".", entry_point="train", parameters={"alpha": 0.5},
                           experiment_name="demo", env_manager="local")
    print(submitted.run_id, submitted.get_status())

``synchronous=True`` (the default) returns when the entry point has ended and, as in
MLflow, raises :class:`ExecutionException` if it failed; ``synchronous=False``
returns once the run exists, the entry point running in a background thread.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import IO, Any

from mlcli.errors import InvalidInputError, MlcliError
from mlcli.projects.runner import ProjectRun, RunRequest, _Launch, plan_run
from mlcli.projects.spec import DEFAULT_ENTRY_POINT
from mlcli.store import RunStatus
from mlcli.tracking.client import TrackingClient


class ExecutionException(MlcliError):
    """A project run that failed (MLflow's ``mlflow.exceptions.ExecutionException``)."""


class SubmittedRun:
    """A project run started by :func:`run`, as MLflow's ``SubmittedRun``."""

    def __init__(self, client: TrackingClient) -> None:
        self._client = client
        self._created = threading.Event()
        self._done = threading.Event()
        self._run_id: str | None = None
        self._result: ProjectRun | None = None
        self._error: BaseException | None = None

    @property
    def run_id(self) -> str:
        """The run's id (the run exists when :func:`run` returns)."""
        self._created.wait()
        if self._run_id is None:
            assert self._error is not None
            raise self._error
        return self._run_id

    def wait(self) -> bool:
        """Wait for the entry point to end; True when the run FINISHED."""
        self._done.wait()
        return self._result is not None and self._result.status == RunStatus.FINISHED

    def get_status(self) -> str:
        """The run's status: RUNNING, then FINISHED, FAILED or KILLED."""
        return self._client.get_run(self.run_id).info.status

    def cancel(self) -> None:
        """Not available: stop the entry point's processes, or the process running
        this one (its run then ends KILLED)."""
        raise InvalidInputError(
            "cancel is not supported for a run started with mlcli.run(); stop its process"
        )

    @property
    def result(self) -> ProjectRun | None:
        """How the run ended (its status, exit code, command), once it has."""
        return self._result

    # -- internals -----------------------------------------------------------------------------

    def _created_run(self, run_id: str) -> None:
        self._run_id = run_id
        self._created.set()

    def _finish(self, result: ProjectRun | None, error: BaseException | None) -> None:
        self._result, self._error = result, error
        self._created.set()
        self._done.set()


class _Watched(TrackingClient):
    """The tracking client of one project run, which tells its SubmittedRun the id of
    the run as soon as it is created (or attached to)."""

    submitted: SubmittedRun | None = None

    def create_run(self, *args: Any, **kwargs: Any) -> Any:
        run = super().create_run(*args, **kwargs)
        if self.submitted is not None:
            self.submitted._created_run(run.info.run_id)
        return run

    def get_run(self, run_id: str) -> Any:
        run = super().get_run(run_id)
        if self.submitted is not None and not self.submitted._created.is_set():
            self.submitted._created_run(run.info.run_id)  # a run attached to (run_id=)
        return run


def run(
    uri: str,
    entry_point: str = DEFAULT_ENTRY_POINT,
    version: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    docker_args: Mapping[str, Any] | None = None,
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    backend: str = "local",
    backend_config: Mapping[str, Any] | str | None = None,
    storage_dir: str | None = None,
    synchronous: bool = True,
    run_id: str | None = None,
    run_name: str | None = None,
    env_manager: str | None = None,
    build_image: bool = False,
    docker_auth: Mapping[str, Any] | None = None,
) -> SubmittedRun:
    """Run the entry point of the project at ``uri`` (a folder or a git URL) as a
    tracked run, as ``mlcli run`` does; MLflow's ``mlflow.projects.run``.

    Parameters are checked (and the environment manager found) before anything runs.
    ``experiment_name`` or ``experiment_id`` choose the experiment (default: as
    ``mlcli run``); ``run_id`` attaches to a SCHEDULED run; ``docker_args`` are
    ``docker run`` options (``{"gpus": "all"}``). Only the local backend runs from
    Python (``mlcli run --backend slurm|kubernetes`` submits jobs), and MLflow's
    ``storage_dir``, ``docker_auth`` and a local ``backend_config`` are refused,
    never ignored."""
    if backend != "local":
        raise InvalidInputError(
            f"mlcli.run: backend {backend!r} is not available from Python; use "
            f"'mlcli run --backend {backend}' (slurm or kubernetes), or backend='local'"
        )
    for name, given in (
        ("backend_config", backend_config),
        ("storage_dir", storage_dir),
        ("docker_auth", docker_auth),
    ):
        if given:
            raise InvalidInputError(f"mlcli.run: {name} is not supported with backend='local'")
    if experiment_name and experiment_id:
        raise InvalidInputError("mlcli.run: give experiment_name or experiment_id, not both")
    if experiment_id:
        TrackingClient().get_experiment(str(experiment_id))  # NotFoundError, never created
    request = RunRequest(
        uri=str(uri),
        entry_point=entry_point,
        parameters={str(k): _text(v) for k, v in (parameters or {}).items()},
        env_manager=env_manager,
        experiment=experiment_name or (str(experiment_id) if experiment_id else None),
        run_name=run_name,
        version=version,
        docker_args=_docker_args(docker_args),
        build_image=build_image,
        run_id=run_id,
    )
    plan = plan_run(request)  # every error a user can make, before any run exists
    client = _Watched()
    submitted = SubmittedRun(client)
    client.submitted = submitted

    def launch() -> None:
        try:
            result = _Launch(plan, client, _silent(), _stream("stdout"), _stream("stderr")).run()
        except BaseException as exc:  # told to whoever waits
            submitted._finish(None, exc)
            return
        submitted._finish(result, None)

    if not synchronous:
        threading.Thread(target=launch, name="mlcli.run", daemon=True).start()
        submitted.run_id  # noqa: B018 - returns once the run exists (or raises)
        return submitted
    launch()
    if submitted._error is not None:
        raise submitted._error
    if not submitted.wait():
        raise ExecutionException(f"Run (ID '{submitted.run_id}') failed")
    return submitted


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _docker_args(given: Mapping[str, Any] | None) -> tuple[str, ...]:
    """MLflow's ``{"gpus": "all", "rm": True}`` as mlcli's ``("gpus=all", "rm")``."""
    return tuple(k if v is True else f"{k}={v}" for k, v in (given or {}).items())


def _stream(name: str) -> IO[bytes] | None:
    """The entry point's output is copied to this process's, as MLflow's local runs
    show it (where the stream has bytes under it: not in every notebook)."""
    return getattr(getattr(sys, name), "buffer", None)


def _silent() -> Any:
    from mlcli.projects.feedback import SilentFeedback

    return SilentFeedback()
