"""The image a Kubernetes run's pod runs: the project's docker env image with mlcli
and the project in it, built through the Docker API as the docker environment builds
it (``projects/envs/docker_images.py``: the runtime image, then the project copied
in), tagged ``<repository-uri>:<tag>`` and pushed through the same API, so that the
cluster pulls it by its digest.

The tag is the project's git commit when the tree is clean (the image is that
commit's), else the run id. The engine pushes with its own credentials (``docker
login``); a refusal (no such registry, unauthorised) is one line.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from mlcli.errors import EnvironmentFailure, InvalidInputError
from mlcli.projects import RunPlan
from mlcli.projects.feedback import Feedback


@dataclass(frozen=True)
class PushedImage:
    #: What the pod pulls: ``repository:tag@digest`` when the registry gave a digest
    #: (MLflow's ``tag@digest``), else ``repository:tag``.
    reference: str
    #: The id of the image on the engine that built it (None: built elsewhere).
    image_id: str | None


def image_tag(plan: RunPlan, run_id: str) -> str:
    """The git commit of a clean tree, else the run id."""
    lineage = plan.lineage
    if lineage is not None and lineage.commit and not lineage.dirty:
        return lineage.commit
    return run_id


def check_docker_project(plan: RunPlan) -> None:
    """The project must name a docker env image: that is what the pod runs."""
    if plan.project.docker_env is None:
        raise InvalidInputError(
            "the kubernetes backend runs the project's docker_env image: add a docker_env "
            "with an image to the MLproject"
        )


def build_and_push(
    plan: RunPlan, repository: str, tag: str, feedback: Feedback, docker: Any = None
) -> PushedImage:
    """Build the project's image, tag it ``repository:tag`` and push it; ``docker``:
    a client of the engine (default: the one the docker environment finds)."""
    from mlcli.projects.envs.docker import connect
    from mlcli.projects.envs.docker_images import project_image, runtime_image

    check_docker_project(plan)
    assert plan.project.docker_env is not None
    client = docker or connect()
    try:
        runtime_tag, runtime = runtime_image(client, plan.project.docker_env.image, feedback)
        _, image = project_image(
            client, runtime_tag, runtime, plan.project.directory, plan.project.name, feedback
        )
        if not image.tag(repository, tag):
            raise EnvironmentFailure(f"the engine did not tag the image as {repository}:{tag}")
        feedback.info(f"Pushing {repository}:{tag}")
        digest = push(client, repository, tag)
        named = f"{repository}:{tag}"
        return PushedImage(f"{named}@{digest}" if digest else named, image.id)
    finally:
        if docker is None:
            with contextlib.suppress(Exception):
                client.close()


def push(client: Any, repository: str, tag: str) -> str | None:
    """Push ``repository:tag``; the digest the registry answered. An error event of
    the push's stream is one line."""
    import docker.errors

    digest = None
    try:
        for event in client.api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in event or "errorDetail" in event:
                detail = event.get("errorDetail") or {}
                message = detail.get("message") or event.get("error") or "unknown error"
                raise EnvironmentFailure(f"pushing {repository}:{tag} failed: {message}")
            aux = event.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = str(aux["Digest"])
    except docker.errors.APIError as exc:
        raise EnvironmentFailure(
            f"pushing {repository}:{tag} failed: {exc.explanation or exc}"
        ) from None
    return digest
