"""``mlcli serve`` and ``mlcli build-docker``: a model behind MLflow's scoring protocol,
on this machine or in a container image."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mlcli.cli.options import (
    AllowPickleOption,
    AllowUnauthenticatedOption,
    AuthTokenFileOption,
    JsonOption,
    ListenPortOption,
    MlflowHostOption,
    QuietOption,
)
from mlcli.cli.output import Output
from mlcli.cli.state import cli_state

ModelUriOption = Annotated[
    str,
    typer.Option(
        "--model-uri",
        "-m",
        help="A model directory, runs:/RUN/PATH, models:/NAME/VERSION, models:/NAME/STAGE "
        "or models:/NAME@ALIAS.",
    ),
]


def serve(
    ctx: typer.Context,
    model_uri: ModelUriOption,
    host: MlflowHostOption = "127.0.0.1",
    port: ListenPortOption = 5000,
    workers: Annotated[
        int, typer.Option("--workers", "-w", help="Worker processes, each with the model.")
    ] = 1,
    timeout: Annotated[
        float,
        typer.Option("--timeout", "-t", help="Seconds a prediction may take before a 504."),
    ] = 60.0,
    max_body_size: Annotated[
        str,
        typer.Option("--max-body-size", help="Largest request body (e.g. 100MiB, 2MB); 413 above."),
    ] = "100MiB",
    env_manager: Annotated[
        str,
        typer.Option(
            "--env-manager",
            help="local: this Python; virtualenv: an environment built from the model's "
            "python_env.yaml (cached).",
        ),
    ] = "local",
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Follow the stage or alias of a models:/ URI and swap in the version it "
            "moves to, without dropping requests.",
        ),
    ] = False,
    watch_interval: Annotated[
        float, typer.Option("--watch-interval", help="Seconds between looks with --watch.")
    ] = 5.0,
    allow_pickle: AllowPickleOption = False,
    auth_token_file: AuthTokenFileOption = None,
    allow_unauthenticated: AllowUnauthenticatedOption = False,
) -> None:
    """Serve a model over HTTP with MLflow's scoring protocol until SIGTERM or Ctrl-C.

    POST /invocations takes JSON (dataframe_split, dataframe_records, instances or
    inputs, plus params) or CSV and answers {"predictions": ...}; bad input is a 400
    with {"error_code", "message"}. GET /ping, /health, /version and /metadata.
    One access line per request goes to stderr. Listens on 127.0.0.1 unless told;
    another --host needs --auth-token-file (or --allow-unauthenticated).

    Example: mlcli serve -m models:/iris@champion --port 5000 --watch
    """
    from mlcli.scoring import ServeConfig
    from mlcli.scoring import serve as serve_model
    from mlcli.scoring.config import parse_size

    config = ServeConfig(
        model_uri,
        host=host,
        port=port,
        workers=workers,
        timeout=timeout,
        max_body_bytes=parse_size(max_body_size),
        watch=watch,
        watch_interval=watch_interval,
        env_manager=env_manager,
        auth_token_file=None if auth_token_file is None else str(auth_token_file),
        allow_unauthenticated=allow_unauthenticated,
    )
    if allow_pickle:  # for this process, its workers, its virtualenv and --watch reloads
        allow_pickles_from_here_on()
    code = serve_model(config, cli_state(ctx).mlcli_client(), feedback=Output())
    if code:
        raise typer.Exit(code)


def build_docker(
    ctx: typer.Context,
    model_uri: ModelUriOption,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", "-n", help="Image name IMAGE[:TAG] (default: mlcli-<model>:<version>)."
        ),
    ] = None,
    base_image: Annotated[
        str,
        typer.Option("--base-image", help="Base image with Python and pip (never pulled)."),
    ] = "python:3.11-slim",
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", "-o", help="Write the build context here, and keep it."),
    ] = None,
    no_build: Annotated[
        bool, typer.Option("--no-build", help="Only write the context (needs --output-dir).")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="Port the container serves on.")] = 8080,
    allow_pickle: AllowPickleOption = False,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Build a container image that serves a model (mlcli serve on 0.0.0.0:PORT).

    The build context holds a Dockerfile, the model, its pinned requirements and a
    wheel of this mlcli; requirements are installed before the model is copied, so a
    new model version rebuilds in seconds. The build goes through the Docker Engine
    API of DOCKER_HOST, with progress on stderr. Prints the image tag.
    The container listens on every interface without authentication: publish its
    port only where it should be reached (docker run -p 127.0.0.1:8080:8080 ...).

    Example: mlcli build-docker -m models:/iris@champion -n iris:3 && docker run -p 8080:8080 iris:3
    """
    from mlcli.images import ImageRequest, build_model_image

    out = Output(json_mode=json_, quiet=quiet)
    request = ImageRequest(
        model_uri,
        name,
        base_image,
        output_dir,
        build=not no_build,
        port=port,
        allow_pickle=allow_pickle,
    )
    from mlcli.cli.notices import warnings_as_notices

    display = _BuildDisplay(out)
    try:
        with warnings_as_notices(out):  # links left out of the model's copy
            result = build_model_image(request, cli_state(ctx).mlcli_client(), display)
    finally:
        display.clear()
    build = result.build
    if json_:
        out.json(
            {
                "tag": result.tag,
                "context_dir": None if result.context_dir is None else str(result.context_dir),
                "build": None if build is None else build.to_dict(),
            }
        )
        return
    if build is None:
        out.info(f"Wrote the build context to {result.context_dir}: docker build -t {result.tag} .")
        out.line(str(result.context_dir))
        return
    out.info(
        f"Built {result.tag} ({build.image_id[:19]}) in {build.seconds:.1f} s; "
        f"{build.cached_steps} of {build.steps} steps from cache"
    )
    out.line(result.tag)


def allow_pickles_from_here_on() -> None:
    """--allow-pickle, for everything this command starts (MLCLI_ALLOW_PICKLE=1)."""
    import os

    from mlcli.models.trust import PICKLE_OPT_IN_VARIABLE

    os.environ[PICKLE_OPT_IN_VARIABLE] = "1"


class _BuildDisplay:
    """Build steps on stderr; on a terminal, the step's latest output line below them."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.live = out.stderr_tty and not out.quiet
        self.pending = False

    def step(self, number: int, total: int, instruction: str) -> None:
        self.clear()
        line = f"Step {number}/{total}: {instruction}"
        width = self.out.width
        self.out.info(line if not self.live or len(line) <= width else line[: width - 1] + "…")

    def output(self, line: str) -> None:
        if self.live:
            sys.stderr.write("\r\033[2K  " + line.strip()[: max(self.out.width - 4, 20)])
            sys.stderr.flush()
            self.pending = True

    def clear(self) -> None:
        if self.pending:
            sys.stderr.write("\r\033[2K")
            sys.stderr.flush()
            self.pending = False
