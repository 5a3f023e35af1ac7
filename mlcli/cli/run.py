"""``mlcli run``: run an MLproject entry point as a tracked run, or sweep it (a list
or a distribution as a ``-P`` value) as a parent run with one child run per trial."""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from mlcli.cli.options import (
    ExperimentIdOption,
    ExperimentNameOption,
    ExperimentOption,
    JsonOption,
    QuietOption,
    chosen_experiment,
)
from mlcli.cli.output import Output
from mlcli.cli.state import client as get_client

if TYPE_CHECKING:
    from mlcli.sweeps import SweepPlan, SweepRequest, SweepResult

SWEEP_PANEL = "Sweeps (a list or a distribution as a -P value)"
CAPTURE_PANEL = "Capture (metrics from the output, system metrics; see docs/capture.md)"
CLUSTER_PANEL = "Clusters (run as a Slurm or Kubernetes job; see docs/clusters.md)"


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
            "--param-list",
            help="A parameter as NAME=VALUE (repeatable); undeclared ones are appended "
            "as --NAME VALUE. A list '[0.1,0.01]' or a distribution 'loguniform(1e-4,1e-1)', "
            "uniform(a,b), randint(a,b), choice(a,b) makes a sweep; quote a value to pass "
            "it as text: 'layers=\"[64,32]\"'.",
        ),
    ] = None,
    env_manager: Annotated[
        str | None,
        typer.Option(
            "--env-manager",
            help="local, virtualenv (MLflow's uv: virtualenv), conda or docker (default: "
            "the MLproject's environment, else local).",
        ),
    ] = None,
    experiment: ExperimentOption = None,
    experiment_name: ExperimentNameOption = None,
    experiment_id: ExperimentIdOption = None,
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
    mlflow_compat: Annotated[
        bool | None,
        typer.Option(
            "--mlflow-compat/--no-mlflow-compat",
            help="Serve the store over MLflow's REST API to the entry point, with "
            "MLFLOW_TRACKING_URI and MLFLOW_RUN_ID set, so 'import mlflow' logs into this run "
            "(default: when the project's code imports mlflow, or as the MLproject's "
            "mlflow_compat says).",
        ),
    ] = None,
    sweep: Annotated[
        str | None,
        typer.Option(
            "--sweep",
            metavar="SAMPLER",
            help="grid, random or optuna (default: grid for lists, random with a distribution).",
            rich_help_panel=SWEEP_PANEL,
        ),
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option(
            "--trials",
            metavar="N",
            help="How many trials a random or optuna sweep runs.",
            rich_help_panel=SWEEP_PANEL,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            help="Seed of a random or optuna sweep (default: a new one, recorded).",
            rich_help_panel=SWEEP_PANEL,
        ),
    ] = None,
    objective: Annotated[
        str | None,
        typer.Option(
            "--objective",
            metavar="metrics.KEY",
            help="The metric that ranks the trials (optuna optimises it).",
            rich_help_panel=SWEEP_PANEL,
        ),
    ] = None,
    direction: Annotated[
        str | None,
        typer.Option(
            "--direction",
            metavar="minimize|maximize",
            help="Whether lower or higher --objective is better (default: minimize for "
            "names like loss or error, else maximize).",
            rich_help_panel=SWEEP_PANEL,
        ),
    ] = None,
    parallel: Annotated[
        int,
        typer.Option(
            "--parallel",
            metavar="N",
            help="Run up to N trials at once, each in its own process.",
            rich_help_panel=SWEEP_PANEL,
        ),
    ] = 1,
    fail_fast: Annotated[
        bool,
        typer.Option(
            "--fail-fast",
            help="Stop the sweep (and its running trials) when a trial fails.",
            rich_help_panel=SWEEP_PANEL,
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the trials a sweep would run (a table, or --json); run nothing.",
            rich_help_panel=SWEEP_PANEL,
        ),
    ] = False,
    backend: Annotated[
        str,
        typer.Option(
            "--backend",
            "-b",
            metavar="local|slurm|kubernetes",
            help="Where the entry point runs: here, as a Slurm job (sbatch), or as a "
            "Kubernetes Job (the project's docker image, built and pushed).",
            rich_help_panel=CLUSTER_PANEL,
        ),
    ] = "local",
    backend_config: Annotated[
        list[str] | None,
        typer.Option(
            "--backend-config",
            "-c",
            metavar="FILE|KEY=VALUE",
            help="The job's settings: a YAML file (slurm.yaml) or KEY=VALUE such as "
            "partition=gpu, time=2:00:00, gpus=1 (repeatable; later ones win); for "
            "Kubernetes, MLflow's kubernetes_config.json.",
            rich_help_panel=CLUSTER_PANEL,
        ),
    ] = None,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach",
            help="Submit the job, print the run id and return (default: follow the job "
            "and its output until it ends).",
            rich_help_panel=CLUSTER_PANEL,
        ),
    ] = False,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            help="Attach to this SCHEDULED run instead of creating one (what a Slurm job runs).",
            rich_help_panel=CLUSTER_PANEL,
        ),
    ] = None,
    parent_run: Annotated[
        str | None, typer.Option("--parent-run", hidden=True, help="The parent run (sweeps).")
    ] = None,
    run_tag: Annotated[
        list[str] | None,
        typer.Option("--run-tag", hidden=True, help="A tag KEY=VALUE of the new run (sweeps)."),
    ] = None,
    output_scalars: Annotated[
        list[str] | None,
        typer.Option(
            "--output-scalars",
            metavar="REGEX",
            help="A pattern with named groups (key and value, step, or a metric's name) "
            "that finds metrics in the entry point's output (repeatable); replaces the "
            "MLproject's outputs.scalars and the default 'key: number' / 'key=number'.",
            rich_help_panel=CAPTURE_PANEL,
        ),
    ] = None,
    no_output_scalars: Annotated[
        bool,
        typer.Option(
            "--no-output-scalars",
            help="Do not log metrics from the entry point's output.",
            rich_help_panel=CAPTURE_PANEL,
        ),
    ] = False,
    test_output_scalars: Annotated[
        str | None,
        typer.Option(
            "--test-output-scalars",
            metavar="FILE",
            help="Run nothing: show what the output in FILE ('-': stdin) would log.",
            rich_help_panel=CAPTURE_PANEL,
        ),
    ] = None,
    system_metrics_interval: Annotated[
        float,
        typer.Option(
            "--system-metrics-interval",
            metavar="SECONDS",
            help="Log the entry point's CPU, memory, disk and network I/O (and GPUs) "
            "as system/... metrics this often.",
            rich_help_panel=CAPTURE_PANEL,
        ),
    ] = 10.0,
    no_system_metrics: Annotated[
        bool,
        typer.Option(
            "--no-system-metrics",
            help="Do not sample system metrics.",
            rich_help_panel=CAPTURE_PANEL,
        ),
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

    Lines such as 'loss: 0.5' in its output become metrics, its processes'
    CPU, memory and I/O are sampled as system/... metrics, and the packages
    of its environment are saved as environment/requirements.txt (see
    docs/capture.md).

    A list or a distribution as a -P value makes a sweep: a parent run and
    one child run per trial (see docs/sweeps.md).

    With --backend slurm the run is created SCHEDULED and its entry point
    runs as a Slurm job (a sweep: one job array), followed until it ends;
    with --backend kubernetes, as a Kubernetes Job (a sweep: one Indexed
    Job). See docs/clusters.md.

    Example: mlcli run . -e train -P alpha=0.5 --experiment demo
    """
    from mlcli.assignments import parse_assignments
    from mlcli.projects import RunRequest, run_project
    from mlcli.projects.capture import CaptureOptions
    from mlcli.sweeps.choice import SweepRequest, wants_sweep
    from mlcli.sweeps.spec import parse_sweep

    out = Output(json_mode=json_, quiet=quiet)
    capture = CaptureOptions(
        output_scalars=tuple(output_scalars or ()),
        output_scalars_enabled=not no_output_scalars,
        system_metrics_interval=None if no_system_metrics else system_metrics_interval,
    )
    if test_output_scalars is not None:
        _test_output_scalars(out, test_output_scalars, uri, capture)
        return
    spec = parse_sweep(parse_assignments(param or []))
    experiment = chosen_experiment(ctx, experiment, experiment_name, experiment_id)
    request = RunRequest(
        uri=uri,
        entry_point=entry_point,
        parameters=spec.fixed,
        env_manager=env_manager,
        experiment=experiment,
        run_name=run_name,
        version=version,
        docker_args=tuple(docker_args or ()),
        build_image=build_image,
        parent_run_id=parent_run,
        tags=parse_assignments(run_tag or [], "--run-tag"),
        capture=capture,
        mlflow_compat=mlflow_compat,
        run_id=run_id,
    )
    sweep_request = SweepRequest(
        request,
        spec,
        sampler=sweep,
        trials=trials,
        seed=seed,
        objective=objective,
        direction=direction,
        parallel=parallel,
        fail_fast=fail_fast,
    )
    sweeping = wants_sweep(sweep_request, planning=dry_run)
    _check_backend(backend, backend_config, detach, run_id, sweeping)
    if sweeping and backend == "slurm" and not dry_run:
        _sweep_on_slurm(ctx, out, sweep_request, backend_config or [], detach)
        return
    if sweeping and backend == "kubernetes" and not dry_run:
        _sweep_on_kubernetes(ctx, out, sweep_request, backend_config or [], detach)
        return
    if sweeping:
        _sweep(ctx, out, sweep_request, dry_run)
        return
    if backend == "slurm":
        _run_on_slurm(ctx, out, request, backend_config or [], detach)
        return
    if backend == "kubernetes":
        _run_on_kubernetes(ctx, out, request, backend_config or [], detach)
        return
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


def _check_backend(
    backend: str,
    config: list[str] | None,
    detach: bool,
    run_id: str | None,
    sweeping: bool,
) -> None:
    from mlcli.errors import InvalidInputError

    if backend not in ("local", "slurm", "kubernetes"):
        raise InvalidInputError(
            f"unknown --backend {backend!r}: expected local, slurm or kubernetes"
        )
    if backend == "local" and (config or detach):
        raise InvalidInputError(
            "--backend-config and --detach go with --backend slurm or kubernetes"
        )
    if run_id and (backend != "local" or sweeping):
        raise InvalidInputError("--run-id attaches one local run: not with --backend or a sweep")


def _run_on_slurm(
    ctx: typer.Context, out: Output, request: Any, config_items: list[str], detach: bool
) -> None:
    from mlcli.clusters.slurm_config import load_slurm_config
    from mlcli.clusters.slurm_follow import follow_job
    from mlcli.clusters.slurm_submit import submit_run

    config = load_slurm_config(config_items)
    client = get_client(ctx)
    job = submit_run(request, config, client=client, feedback=out)
    shown = {
        "run_id": job.run_id,
        "run_name": job.run_name,
        "experiment_id": job.experiment_id,
        "job_id": job.job_id,
    }
    if detach:
        if out.json_mode:
            out.json({**shown, "status": "SCHEDULED"})
        else:
            out.line(job.run_id)
        return
    sys.stdout.flush()
    ended = follow_job(
        client,
        job.run_id,
        job.job_id,
        (job.output, job.error),
        feedback=out,
        stdout=_binary(sys.stderr if out.quiet or out.json_mode else sys.stdout),
        stderr=_binary(sys.stderr),
    )
    if out.json_mode:
        out.json(
            {
                **shown,
                "status": ended.status,
                "exit_code": ended.exit_code,
                "slurm_state": ended.state,
            }
        )
    else:
        out.line(job.run_id)
    if ended.exit_code:
        raise typer.Exit(ended.exit_code)


def _run_on_kubernetes(
    ctx: typer.Context, out: Output, request: Any, config_items: list[str], detach: bool
) -> None:
    from mlcli.clusters.kubernetes_config import load_kubernetes_config
    from mlcli.clusters.kubernetes_follow import follow_submission
    from mlcli.clusters.kubernetes_submit import submit_kubernetes

    config = load_kubernetes_config(config_items)
    client = get_client(ctx)
    job = submit_kubernetes(request, config, client, feedback=out)
    shown: dict[str, Any] = {"run_id": job.run_id, "run_name": job.run_name, "job": job.label}
    exit_code = 0
    if detach:
        shown["status"] = "SCHEDULED"
    else:
        sys.stdout.flush()
        echo = _binary(sys.stderr if out.quiet or out.json_mode else sys.stdout)
        ended = follow_submission(client, job, feedback=out, echo=echo)
        shown.update(status=ended.status, exit_code=ended.exit_code, reason=ended.code)
        exit_code = ended.exit_code
    if out.json_mode:
        out.json(shown)
    else:
        out.line(job.run_id)
    if exit_code:
        raise typer.Exit(exit_code)


def _sweep_on_slurm(
    ctx: typer.Context, out: Output, request: SweepRequest, config_items: list[str], detach: bool
) -> None:
    from mlcli.clusters.slurm_sweep import ArraySweep
    from mlcli.clusters.slurm_sweep_run import run_sweep_on_slurm

    sys.stdout.flush()
    client = get_client(ctx)
    echo = _binary(sys.stderr if out.quiet or out.json_mode else sys.stdout)
    result = run_sweep_on_slurm(
        request, config_items, client=client, feedback=out, detach=detach, echo=echo
    )
    if not isinstance(result, ArraySweep):
        _show_sweep(out, result)
        return
    _show_submitted_sweep(out, result, {"job_id": result.job_id})


def _sweep_on_kubernetes(
    ctx: typer.Context, out: Output, request: SweepRequest, config_items: list[str], detach: bool
) -> None:
    from mlcli.clusters.kubernetes_sweep import IndexedSweep
    from mlcli.clusters.kubernetes_sweep_run import run_sweep_on_kubernetes

    sys.stdout.flush()
    result = run_sweep_on_kubernetes(
        request,
        config_items,
        client=get_client(ctx),
        feedback=out,
        detach=detach,
        echo=_binary(sys.stderr if out.quiet or out.json_mode else sys.stdout),
    )
    if not isinstance(result, IndexedSweep):
        _show_sweep(out, result)
        return
    _show_submitted_sweep(out, result, {"job": result.label})


def _show_submitted_sweep(out: Output, sweep: Any, job: dict[str, str]) -> None:
    """A detached sweep: its parent's id, or (--json) the parent, its job and trials."""
    if not out.json_mode:
        out.line(sweep.parent.run_id)
        return
    out.json(
        {
            "run_id": sweep.parent.run_id,
            "run_name": sweep.parent.info.run_name,
            "experiment_id": sweep.experiment_id,
            **job,
            "status": "SCHEDULED",
            "trials": [{"trial": t.trial.number, "run_id": t.run_id} for t in sweep.trials],
        }
    )


def _sweep(ctx: typer.Context, out: Output, request: SweepRequest, dry_run: bool) -> None:
    from mlcli.sweeps import plan_sweep, run_sweep

    if dry_run:
        _render_plan(out, plan_sweep(request))
        return
    sys.stdout.flush()
    result = run_sweep(
        request,
        client=get_client(ctx),
        feedback=out,
        echo=_binary(sys.stderr if out.quiet or out.json_mode else sys.stdout),
    )
    _show_sweep(out, result)


def _show_sweep(out: Output, result: SweepResult) -> None:
    if out.json_mode:
        out.json(result.to_dict())
    elif out.quiet:
        out.line(result.run_id)
    else:
        _render_result(out, result)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _render_plan(out: Output, plan: SweepPlan) -> None:
    if out.json_mode:
        out.json(plan.to_dict())
        return
    trials = plan.preview()
    names = list(trials[0].params) if trials else []
    out.table(["TRIAL", *names], [[t.number, *(t.params[n] for n in names)] for t in trials])
    what = f"{plan.total} trial(s), {plan.sampler.name}"
    if plan.adaptive:
        what += ", values chosen by the sampler as results come in"
    if plan.sampler.seed is not None and plan.request.seed is None:
        what += f"; seed {plan.sampler.seed} (pass --seed {plan.sampler.seed} to run these)"
    out.info(f"Dry run: {what}; nothing was run")


def _render_result(out: Output, result: SweepResult) -> None:
    names = list(result.trials[0].trial.params) if result.trials else []
    metric = result.objective.metric if result.objective else None
    best = result.best.run_id if result.best else None
    rows = []
    for outcome in result.trials:
        row: list[Any] = [outcome.trial.number, (outcome.run_id or "")[:8], outcome.status]
        row += [outcome.trial.params.get(name) for name in names]
        if metric is not None:
            value = "" if outcome.value is None else f"{outcome.value:g}"
            row.append(f"{value} *" if outcome.run_id and outcome.run_id == best else value)
        rows.append(row)
    columns = ["TRIAL", "RUN", "STATUS", *names, *([metric] if metric else [])]
    out.table(columns, rows)
    out.line(result.run_id)


def _test_output_scalars(out: Output, path: str, uri: str, capture: Any) -> None:
    from pathlib import Path

    from mlcli.cli.inputs import read_input
    from mlcli.projects.capture import scalars_of_output

    text = read_input(path, "an output file", replace_undecodable=True)
    scalars = scalars_of_output(text, capture, Path(uri))
    if out.json_mode:
        out.json([s.to_dict() for s in scalars])
        return
    rows = [[s.line, s.key, f"{s.value:.10g}", s.step] for s in scalars]
    out.table(["LINE", "KEY", "VALUE", "STEP"], rows)
    out.info(f"{len(scalars)} metric point(s) from {len(text.splitlines())} line(s)")


def _binary(stream: Any) -> IO[bytes] | None:
    stream.flush()
    return getattr(stream, "buffer", None)
