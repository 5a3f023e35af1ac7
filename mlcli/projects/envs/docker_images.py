"""The images a docker project runs in, built through the Docker Engine API.

- The runtime image: ``docker_env.image`` plus mlcli (a wheel of the running mlcli,
  its logging requirements installed from PyPI in a layer of their own, so a new
  mlcli only rebuilds the last layer). Tagged ``mlcli-runtime:<digest>`` of the base
  image id, the wheel and the requirements, and built only when that tag is missing.
- The project image (``--build-image``): the runtime image with the project copied to
  ``/mlcli/project``, tagged ``mlcli-project-<name>:<digest>`` of the runtime image
  and the project files, so an unchanged project is built once and then reused.

Images are never pulled (``pull=False``): the base image must be on the engine.
"""

from __future__ import annotations

import hashlib
import io
import re
import shlex
import tarfile
from pathlib import Path
from typing import Any

from mlcli.errors import EnvironmentFailure
from mlcli.projects.cache import digest
from mlcli.projects.envs.selfwheel import build_self_wheel
from mlcli.projects.feedback import Feedback

RUNTIME_REPOSITORY = "mlcli-runtime"
CONTAINER_PROJECT = "/mlcli/project"
DOCKERFILE = ".mlcli.Dockerfile"
ALWAYS_EXCLUDED = (".git", ".mlruns", "**/.mlruns", "**/__pycache__", DOCKERFILE)
_STEP = re.compile(r"step\s+(\d+)/(\d+)", re.IGNORECASE)


def find_image(client: Any, name: str) -> Any | None:
    import docker.errors

    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        raise EnvironmentFailure(f"cannot look up image {name}: {exc.explanation}") from None


def require_image(client: Any, name: str) -> Any:
    image = find_image(client, name)
    if image is None:
        raise EnvironmentFailure(
            f"the image {name} is not on the Docker engine, and mlcli does not pull images: "
            f"run 'docker pull {name}' (or build it) first"
        )
    return image


def runtime_image(client: Any, base: str, feedback: Feedback) -> tuple[str, Any]:
    """``(tag, image)`` of ``base`` with this mlcli installed, built if missing."""
    base_image = require_image(client, base)
    wheel = build_self_wheel()
    tag = f"{RUNTIME_REPOSITORY}:{digest([base_image.id, wheel.sha256, *wheel.requirements], 16)}"
    image = find_image(client, tag)
    if image is not None:
        return tag, image
    pip = "python -m pip install --no-cache-dir --disable-pip-version-check --no-input"
    requirements = " ".join(shlex.quote(r) for r in wheel.requirements)
    lines = [f"FROM {base}"]
    if requirements:
        lines.append(f"RUN {pip} {requirements}")
    lines += [
        f"COPY {wheel.filename} /tmp/mlcli/{wheel.filename}",
        f"RUN {pip} --no-deps /tmp/mlcli/{wheel.filename} && rm -rf /tmp/mlcli",
    ]
    context = _archive(
        [(DOCKERFILE, "\n".join(lines).encode() + b"\n"), (wheel.filename, wheel.data)]
    )
    feedback.info(f"Building {tag}: {base} with mlcli (once per base image and mlcli version)")
    return tag, build_image(client, context, tag, feedback, "Building the mlcli runtime image")


def project_image(
    client: Any,
    runtime_tag: str,
    runtime: Any,
    project_dir: Path,
    project_name: str | None,
    feedback: Feedback,
) -> tuple[str, Any]:
    """``(tag, image)`` of the runtime image with the project copied in."""
    dockerfile = f"FROM {runtime_tag}\nCOPY . {CONTAINER_PROJECT}\nWORKDIR {CONTAINER_PROJECT}\n"
    files = _project_files(project_dir, list(ALWAYS_EXCLUDED))
    fingerprint = hashlib.sha256(runtime.id.encode())
    for relative in files:
        path = project_dir / relative
        fingerprint.update(f"{relative}\0{path.stat().st_mode & 0o111}\0".encode())
        if path.is_file():
            fingerprint.update(hashlib.sha256(path.read_bytes()).digest())
    repository = "mlcli-project-" + (
        re.sub(r"[^a-z0-9_.-]+", "-", (project_name or "").lower()).strip("-.") or "unnamed"
    )
    tag = f"{repository}:{fingerprint.hexdigest()[:16]}"
    image = find_image(client, tag)
    if image is not None:
        return tag, image
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for relative in files:
            archive.add(str(project_dir / relative), arcname=relative, recursive=False)
        _add_bytes(archive, DOCKERFILE, dockerfile.encode())
    feedback.info(f"Building {tag}: the project in {project_dir} on {runtime_tag}")
    return tag, build_image(client, buffer.getvalue(), tag, feedback, "Building the project image")


def build_image(client: Any, context: bytes, tag: str, feedback: Feedback, title: str) -> Any:
    """Build ``context`` (a tar holding DOCKERFILE) as ``tag``, with progress."""
    import docker.errors

    output: list[str] = []
    try:
        with feedback.progress(title) as progress:
            for event in client.api.build(
                fileobj=io.BytesIO(context),
                custom_context=True,
                dockerfile=DOCKERFILE,
                tag=tag,
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
                labels={"org.mlcli.built-by": "mlcli"},
            ):
                _follow(event, tag, output, progress)
    except docker.errors.APIError as exc:
        raise EnvironmentFailure(f"building {tag} failed: {exc.explanation}") from None
    return require_image(client, tag)


def _follow(event: dict[str, Any], tag: str, output: list[str], progress: Any) -> None:
    """One event of a build's stream: an error, or output (with "Step N/M" progress)."""
    if "error" in event or "errorDetail" in event:
        detail = event.get("errorDetail") or {}
        message = detail.get("message") or event.get("error") or "unknown error"
        raise EnvironmentFailure(f"building {tag} failed: {_last_line(message, output)}")
    text = str(event.get("stream") or "")
    output.extend(line for line in text.splitlines() if line.strip())
    step = _STEP.search(text)
    if step:
        progress(int(step.group(1)) - 1, int(step.group(2)))


def _project_files(project_dir: Path, patterns: list[str]) -> list[str]:
    """The project's files for the build context, without the excluded ones and
    those the project's ``.dockerignore`` names."""
    from docker.utils.build import exclude_paths

    ignore_file = project_dir / ".dockerignore"
    if ignore_file.is_file():
        patterns += [
            line.strip()
            for line in ignore_file.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
    return sorted(exclude_paths(str(project_dir), patterns))


def _archive(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members:
            _add_bytes(archive, name, data)
    return buffer.getvalue()


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def _last_line(message: str, output: list[str]) -> str:
    lines = [line for line in (*output[-3:], message) if line.strip()]
    return " | ".join(line.strip() for line in lines)[-500:]


def relative_inside(path: Path, root: Path) -> str | None:
    """``path`` relative to ``root`` when strictly inside it (to exclude the store)."""
    path, root = path.resolve(), root.resolve()
    return path.relative_to(root).as_posix() if root in path.parents else None
