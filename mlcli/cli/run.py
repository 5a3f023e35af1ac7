"""``mlcli run``: run an MLproject entry point as a tracked run."""

from __future__ import annotations

import sys
from typing import IO, Annotated, Any

import typer

from mlcli.cli.options import ExperimentOption, JsonOption, QuietOption
from mlcli.cli.output import Output
from mlcli.cli.state import client as get_client


def run(
    ctx: typer.Context,
    uri: Annotated[
        str,
        typer.Argument(
            help="The project: a directory, or a git URL or repository path (with "
            "--version); 'URI#subdir' for a project inside a repository."
        ),
    ] = ".",
    entry_point: Annotated[
        str,
        typer.Option(
            "--entry-point", "-e", help="Entry point of the MLproject, or a .py/.sh file."
        ),
    ] = "main",
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-P",
            help="A parameter as NAME=VALUE (repeatable); undeclared ones are appended "
            "as --NAME VALUE.",
        ),
    ] = None,
    env_manager: Annotated[
        str | None,
        typer.Option(
            "--env-manager",
            help="local, virtualenv, conda or docker (default: the MLproject's "
            "environment, else local).",
        ),
    ] = None,
    experiment: ExperimentOption = None,
    run_name: Annotated[str | None, typer.Option("--run-name", help="Name of the run.")] = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version", "-v", help="Git branch, tag or commit to run (checked out in a cache)."
        ),
    ] = None,
    docker_args: Annotated[
        list[str] | None,
        typer.Option(
            "--docker-args",
            "-A",
            help="A docker run option as NAME=VALUE or NAME (repeatable), e.g. -A gpus=all.",
        ),
    ] = None,
    build_image: Annotated[
        bool,
        typer.Option("--build-image", help="Docker: run in an image with the project copied in."),
    ] = False,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Run a project's entry point as a tracked run; exit with its exit code.

    Parameters are checked before the run is created. The entry point runs
    in the project directory with MLCLI_RUN_ID, MLCLI_STORE and
    MLCLI_EXPERIMENT_ID set, so 'import mlcli' and 'mlcli log' inside it
    write to this run. Its output is shown live and saved as the artifacts
    logs/stdout.txt and logs/stderr.txt. The run id is printed last; with
    -q or --json the entry point's output goes to stderr, so that stdout
    holds only the id or the JSON.

    Example: mlcli run . -e train -P alpha=0.5 --experiment demo
    """
    from mlcli.projects import RunRequest, run_project
    from mlcli.projects.parameters import parse_assignments

    out = Output(json_mode=json_, quiet=quiet)
    request = RunRequest(
        uri=uri,
        entry_point=entry_point,
        parameters=parse_assignments(param or []),
        env_manager=env_manager,
        experiment=experiment,
        run_name=run_name,
        version=version,
        docker_args=tuple(docker_args or ()),
        build_image=build_image,
    )
    sys.stdout.flush()
    result = run_project(
        request,
        client=get_client(ctx),
        feedback=out,
        stdout=_binary(sys.stderr if quiet or json_ else sys.stdout),
        stderr=_binary(sys.stderr),
    )
    if json_:
        out.json(
            {
                "run_id": result.run_id,
                "run_name": result.run_name,
                "experiment_id": result.experiment_id,
                "status": result.status,
                "exit_code": result.exit_code,
                "env_manager": result.env_manager,
                "command": result.command,
            }
        )
    else:
        out.line(result.run_id)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _binary(stream: Any) -> IO[bytes] | None:
    stream.flush()
    return getattr(stream, "buffer", None)
