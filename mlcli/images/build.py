"""Building a context through the Docker Engine API (``docker.from_env()``, so that
``DOCKER_HOST`` chooses the engine), with its progress streamed to a listener.

The base image is never pulled (``pull=False``): it must be on the engine. When a
step fails, the error names the step and carries the output it printed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlcli.errors import EnvironmentFailure

_STEP = re.compile(r"^\s*step\s+(\d+)/(\d+)\s*:?\s*(.*)$", re.IGNORECASE)
_CACHED = re.compile(r"using cache", re.IGNORECASE)
OUTPUT_SHOWN_ON_FAILURE = 25


class BuildListener(Protocol):
    def step(self, number: int, total: int, instruction: str) -> None:
        """A step starts."""

    def output(self, line: str) -> None:
        """A line the current step printed."""


class ImageBuildError(EnvironmentFailure):
    """A build step failed; ``display()`` shows the step and its last output lines."""

    def __init__(self, tag: str, step: str, error: str, output: list[str]) -> None:
        where = f" at {step}" if step else ""
        super().__init__(f"building {tag} failed{where}: {error.strip()}")
        self.output = output[-OUTPUT_SHOWN_ON_FAILURE:]

    def display(self) -> str:
        if not self.output:
            return self.message
        shown = "\n".join(f"  | {line}" for line in self.output)
        return f"{self.message}\n  output of that step (last {len(self.output)} lines):\n{shown}"


@dataclass
class BuildResult:
    tag: str
    image_id: str
    steps: int = 0
    cached_steps: int = 0
    seconds: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "image_id": self.image_id,
            "steps": self.steps,
            "cached_steps": self.cached_steps,
            "seconds": round(self.seconds, 3),
            "labels": self.labels,
        }


class _Stream:
    """Follows a build's events: the current step, its output, cache hits."""

    def __init__(self, tag: str, listener: BuildListener) -> None:
        self.tag = tag
        self.listener = listener
        self.current = ""
        self.output: list[str] = []
        self.steps = 0
        self.cached = 0

    def event(self, event: dict[str, Any]) -> None:
        if "error" in event or "errorDetail" in event:
            detail = event.get("errorDetail") or {}
            message = detail.get("message") or event.get("error") or "unknown error"
            raise ImageBuildError(self.tag, self.current, str(message), self.output)
        for line in str(event.get("stream") or "").splitlines():
            self.line(line.rstrip())

    def line(self, line: str) -> None:
        if not line.strip():
            return
        match = _STEP.match(line)
        if match:
            number, total, instruction = int(match[1]), int(match[2]), match[3].strip()
            self.current = f"step {number}/{total} ({instruction[:120]})"
            self.steps = max(self.steps, number)
            self.output = []
            self.listener.step(number, total, instruction)
            return
        if _CACHED.search(line):
            self.cached += 1
        self.output.append(line)
        self.listener.output(line)


def connect_engine() -> Any:
    """A client of the engine ``DOCKER_HOST`` names; EnvironmentFailure suggesting
    ``--output-dir`` when none answers."""
    from mlcli.projects.envs.docker import connect

    try:
        return connect()
    except EnvironmentFailure as exc:
        raise EnvironmentFailure(
            f"{exc.message}; to build elsewhere, write the build context with "
            "--output-dir DIR --no-build and run 'docker build DIR'"
        ) from None


def require_base_image(client: Any, base_image: str) -> None:
    import docker.errors

    try:
        client.images.get(base_image)
    except docker.errors.ImageNotFound:
        raise EnvironmentFailure(
            f"the base image {base_image} is not on the Docker engine, and mlcli does not pull "
            f"images: run 'docker pull {base_image}' first, or choose one with --base-image"
        ) from None
    except docker.errors.APIError as exc:
        raise EnvironmentFailure(f"cannot look up {base_image}: {exc.explanation}") from None


def build_context(client: Any, directory: Path, tag: str, listener: BuildListener) -> BuildResult:
    """Build the context in ``directory`` as ``tag``."""
    import docker.errors

    started = time.monotonic()
    stream = _Stream(tag, listener)
    try:
        for event in client.api.build(
            path=str(directory),
            tag=tag,
            pull=False,
            rm=True,
            forcerm=True,
            decode=True,
        ):
            stream.event(event)
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        raise ImageBuildError(tag, stream.current, "no image was produced", stream.output) from None
    except docker.errors.APIError as exc:
        raise ImageBuildError(tag, stream.current, str(exc.explanation), stream.output) from None
    return BuildResult(
        tag,
        image.id,
        steps=stream.steps,
        cached_steps=stream.cached,
        seconds=time.monotonic() - started,
        labels=dict(image.labels or {}),
    )
