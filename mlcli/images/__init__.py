"""Container images of models: ``mlcli build-docker``.

    from mlcli.client import MlcliClient
    from mlcli.images import ImageRequest, build_model_image

    result = build_model_image(ImageRequest("models:/iris@champion", "iris:3"), MlcliClient())

``context`` writes the build context (Dockerfile, model, pinned requirements, a wheel
of this mlcli); ``build`` builds it through the Docker Engine API.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlcli.errors import InvalidInputError
from mlcli.images.build import BuildListener, BuildResult, ImageBuildError
from mlcli.images.context import ContextSpec, dockerfile, image_labels, write_context

if TYPE_CHECKING:
    from mlcli.client import MlcliClient

__all__ = [
    "BuildListener",
    "BuildResult",
    "ContextSpec",
    "ImageBuildError",
    "ImageRequest",
    "ImageResult",
    "build_model_image",
    "dockerfile",
    "write_context",
]

_TAG = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[0-9]+/[a-z0-9._/-]+)?(:[\w][\w.-]{0,127})?\Z")


@dataclass(frozen=True)
class ImageRequest:
    model_uri: str
    name: str | None = None  # IMAGE[:TAG]; None: mlcli-<model name>:<version>
    base_image: str = "python:3.11-slim"
    output_dir: Path | None = None
    build: bool = True
    port: int = 8080
    allow_pickle: bool = False  # the user trusts the model's pickles (see mlcli.models.trust)


@dataclass(frozen=True)
class ImageResult:
    tag: str
    context_dir: Path | None  # kept only with --output-dir
    build: BuildResult | None


class _Quiet:
    def step(self, number: int, total: int, instruction: str) -> None:
        pass

    def output(self, line: str) -> None:
        pass


def build_model_image(
    request: ImageRequest, client: MlcliClient, listener: BuildListener | None = None
) -> ImageResult:
    """Write the build context of the model and (unless ``build`` is False) build it."""
    from mlcli.images.build import build_context, connect_engine, require_base_image
    from mlcli.models.environment import check_environment_trusted
    from mlcli.models.pyfunc_model import check_trusted
    from mlcli.models.trust import trust_for
    from mlcli.models.uri import store_root_of
    from mlcli.scoring.origin import locate_model
    from mlcli.scoring.requirements import serving_requirements

    if not request.build and request.output_dir is None:
        raise InvalidInputError("--no-build needs --output-dir (where to write the context)")
    if not 1 <= request.port <= 65535:
        raise InvalidInputError(f"--port must be 1-65535, not {request.port}")
    origin = locate_model(request.model_uri, client)
    tag = image_tag(request.name, origin.name, origin.version)
    trust = trust_for(
        origin.directory, store_root=store_root_of(client), allow_pickle=request.allow_pickle
    )
    trusted = check_trusted(origin.directory, trust)  # an untrusted pickle: before any build
    check_environment_trusted(origin.directory, trust)  # the build installs what it names
    spec = ContextSpec(
        origin,
        serving_requirements(origin.directory),
        base_image=request.base_image,
        port=request.port,
        labels=image_labels(origin),
        trusted_digests=tuple(trusted),
        allow_pickle=trust.allow_pickle,
    )
    engine = None
    if request.build:  # before writing anything: no engine is a quick, clear error
        engine = connect_engine()
        require_base_image(engine, request.base_image)
    directory = request.output_dir or Path(tempfile.mkdtemp(prefix="mlcli-build-"))
    try:
        write_context(spec, directory)
        if engine is None:
            return ImageResult(tag, directory, None)
        result = build_context(engine, directory, tag, listener or _Quiet())
        return ImageResult(tag, request.output_dir, result)
    finally:
        if request.output_dir is None:
            shutil.rmtree(directory, ignore_errors=True)
        if engine is not None:
            engine.close()


def image_tag(name: str | None, model_name: str | None, version: int | None) -> str:
    """``name`` checked (lower case, one optional :tag), or a name made from the model."""
    if name is None:
        base = re.sub(r"[^a-z0-9._-]+", "-", (model_name or "model").lower()).strip("-._")
        return f"mlcli-{base or 'model'}:{'latest' if version is None else version}"
    if not _TAG.match(name):
        raise InvalidInputError(
            f"invalid image name {name!r}: use lower-case IMAGE[:TAG], e.g. iris-model:3"
        )
    return name
