"""``docker``: the entry point runs in a container of ``docker_env.image``.

The engine is the one ``docker.from_env()`` finds (``DOCKER_HOST``, else the
platform's default). The container runs the runtime image (the project's image
plus mlcli), or with ``--build-image`` an image with the project copied in; see
``docker_images``. Inside it:

- the project is at ``/mlcli/project`` (mounted, or copied by ``--build-image``),
  and is the working directory; ``path`` parameters under the project are rewritten
  to that location, others are mounted read-only at their own path;
- the store is mounted at ``/mlcli/store`` and ``MLCLI_STORE``, ``MLCLI_RUN_ID`` and
  ``MLCLI_EXPERIMENT_ID`` point there, so ``import mlcli`` and ``mlcli log`` write
  into the run on the host;
- ``docker_env.volumes`` and ``docker_env.environment`` apply, then ``-A`` options;
- an init process forwards signals, and the container is removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcli import system_tags
from mlcli.errors import EnvironmentFailure, InvalidInputError
from mlcli.projects.envs.base import Environment, EnvManager, RunContext
from mlcli.projects.envs.docker_args import parse_docker_args
from mlcli.projects.envs.docker_images import (
    CONTAINER_PROJECT,
    project_image,
    relative_inside,
    runtime_image,
)
from mlcli.projects.envs.docker_sdk import require_docker_sdk
from mlcli.projects.execution import Execution, OutputSink
from mlcli.projects.feedback import Feedback
from mlcli.projects.spec import DockerEnv, Project

CONTAINER_STORE = "/mlcli/store"


def connect() -> Any:
    """A Docker client for the engine of this environment; EnvironmentFailure if none
    answers. The engine's API version is asked with a client that needs none, then
    used for the real one."""
    require_docker_sdk("talking to a Docker engine")
    import docker
    import docker.constants
    import docker.errors
    import docker.utils

    where = os.environ.get("DOCKER_HOST") or "the default socket"
    try:
        base_url = docker.utils.kwargs_from_env().get("base_url")
        _check_unix_socket(base_url or docker.constants.DEFAULT_UNIX_SOCKET)
        probe = docker.from_env(version=docker.constants.MINIMUM_DOCKER_API_VERSION)
        try:
            api_version = probe.version()["ApiVersion"]
        finally:
            probe.close()
        return docker.from_env(version=api_version)
    except (docker.errors.DockerException, OSError) as exc:  # requests' errors are OSErrors
        raise EnvironmentFailure(
            f"no Docker engine is reachable at {where} (set DOCKER_HOST, or start Docker): "
            f"{_short(exc)}"
        ) from None


def _check_unix_socket(host: str) -> None:
    """Connect to a unix socket once ourselves: the SDK leaks the socket of a failed
    connection."""
    scheme, _, path = host.partition("://")
    if scheme not in ("unix", "http+unix"):
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(5)
        probe.connect("/" + path.lstrip("/"))


@dataclass
class ContainerEnvironment(Environment):
    name = "docker"
    client: Any
    image: str
    project_dir: Path
    docker_env: DockerEnv
    docker_kwargs: dict[str, Any]
    project_mounted: bool
    read_only_paths: set[Path] = field(default_factory=set)

    def wrap(self, command: str) -> list[str]:
        return ["bash", "-c", command]

    def close(self) -> None:
        self.client.close()

    def map_path(self, path: Path) -> str:
        inside = relative_inside(path, self.project_dir)
        if inside is not None or path.resolve() == self.project_dir.resolve():
            return f"{CONTAINER_PROJECT}/{inside}" if inside else CONTAINER_PROJECT
        self.read_only_paths.add(path.resolve())
        return str(path.resolve())

    def start(self, command: str, *, cwd: Path, context: RunContext, sink: OutputSink) -> Execution:
        import docker.errors

        kwargs = dict(self.docker_kwargs)
        environment = {
            **_host_variables(self.docker_env),
            **context.variables(store_root=CONTAINER_STORE),
            **kwargs.pop("environment", {}),
        }
        # A run on a team server logs there (MLCLI_STORE is its URL): no store to mount.
        volumes = [] if context.server_url else [f"{context.store_root}:{CONTAINER_STORE}:rw"]
        if self.project_mounted:
            volumes.append(f"{self.project_dir}:{CONTAINER_PROJECT}:rw")
        volumes += [f"{p}:{p}:ro" for p in sorted(self.read_only_paths)]
        volumes += [_volume(v, self.project_dir) for v in self.docker_env.volumes]
        volumes += kwargs.pop("volumes", [])
        labels = {"mlcli.run_id": context.run_id, **kwargs.pop("labels", {})}
        if os.getuid() != 0 and "user" not in kwargs:  # files it writes stay the user's
            kwargs["user"] = f"{os.getuid()}:{os.getgid()}"
            environment.setdefault("HOME", "/tmp")
        kwargs.setdefault("working_dir", CONTAINER_PROJECT)
        kwargs.setdefault("init", True)
        try:
            container = self.client.containers.run(
                self.image,
                self.wrap(command),
                detach=True,
                environment=environment,
                volumes=volumes,
                labels=labels,
                **kwargs,
            )
        except docker.errors.DockerException as exc:
            raise EnvironmentFailure(f"the container could not start: {_short(exc)}") from None
        return ContainerExecution(container, sink)


class ContainerExecution:
    def __init__(self, container: Any, sink: OutputSink) -> None:
        self.container = container
        self._threads = [
            sink.pump(1, self._logs(stdout=True, stderr=False)),
            sink.pump(2, self._logs(stdout=False, stderr=True)),
        ]

    def _logs(self, stdout: bool, stderr: bool) -> Iterator[bytes]:
        import docker.errors

        try:
            stream = self.container.logs(stdout=stdout, stderr=stderr, stream=True, follow=True)
        except docker.errors.DockerException:
            return
        try:
            with contextlib.suppress(docker.errors.DockerException, OSError):
                yield from stream
        finally:
            stream.close()

    def wait(self) -> int:
        import docker.errors

        try:
            code = int(self.container.wait()["StatusCode"])
        except docker.errors.DockerException as exc:
            raise EnvironmentFailure(f"lost the container: {_short(exc)}") from None
        for thread in self._threads:
            thread.join(timeout=30)
        return code

    def send_signal(self, signum: int) -> None:
        # Called from a signal handler: the API call goes on a thread of its own.
        threading.Thread(target=self._kill, args=(signum,), daemon=True).start()

    def kill(self) -> None:
        self._kill(9)

    def _kill(self, signum: int) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.DockerException):
            self.container.kill(signal=signum)

    def close(self) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.DockerException):
            self.container.remove(force=True)


class DockerEnvManager(EnvManager):
    name = "docker"

    def check(self, project: Project) -> None:
        require_docker_sdk("the docker environment")
        docker_env = _docker_env(project)
        parse_docker_args(self.options.docker_args)
        _host_variables(docker_env)
        from mlcli.projects.envs.docker_images import require_image

        with contextlib.closing(connect()) as client:
            require_image(client, docker_env.image)

    def prepare(self, project: Project, feedback: Feedback) -> Environment:
        docker_env = _docker_env(project)
        client = connect()
        try:
            tag, image = runtime_image(client, docker_env.image, feedback)
            if self.options.build_image:
                tag, image = project_image(
                    client, tag, image, project.directory, project.name, feedback
                )
        except BaseException:
            client.close()
            raise
        return ContainerEnvironment(
            client=client,
            image=tag,
            project_dir=project.directory,
            docker_env=docker_env,
            docker_kwargs=parse_docker_args(self.options.docker_args),
            project_mounted=not self.options.build_image,
            tags={
                system_tags.DOCKER_IMAGE_URI: tag,
                system_tags.DOCKER_IMAGE_ID: image.id,
                system_tags.DOCKER_BASE_IMAGE: docker_env.image,
            },
        )


def _docker_env(project: Project) -> DockerEnv:
    if project.docker_env is None:
        raise InvalidInputError(
            "the docker environment manager needs a docker_env with an image in the MLproject"
        )
    return project.docker_env


def _host_variables(docker_env: DockerEnv) -> dict[str, str]:
    """docker_env.environment: set values, and names copied from this environment."""
    variables = {}
    for name, value in docker_env.environment:
        if value is None:
            if name not in os.environ:
                raise InvalidInputError(
                    f"docker_env.environment copies {name} from the host, but it is not set"
                )
            value = os.environ[name]
        variables[name] = value
    return variables


def _volume(spec: str, project_dir: Path) -> str:
    """A ``host:container[:mode]`` volume; a relative host path is the project's."""
    host, sep, rest = spec.partition(":")
    if sep and (host.startswith(".") or "/" in host) and not os.path.isabs(host):
        host = str((project_dir / host).resolve())
    return f"{host}{sep}{rest}"


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "explanation", None) or exc)
    return text.splitlines()[0][:300] if text else type(exc).__name__
