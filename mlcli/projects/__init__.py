"""Projects: run an MLproject entry point as a tracked run (``mlcli run``).

    from mlcli.projects import RunRequest, run_project

    result = run_project(RunRequest(uri=".", entry_point="train",
                                    parameters={"alpha": "0.5"}))
    print(result.run_id, result.status, result.exit_code)

Modules, one idea each: ``spec`` (the MLproject file), ``parameters`` (types,
validation, the command line), ``fetch`` (local directory or git checkout),
``lineage`` (git commit, branch, remote, uncommitted changes), ``envs`` (the
environment managers), ``execution`` (the child process, its output, signals), ``capture`` (what
``mlcli run`` records beside the output: scalars, system metrics, environment),
``runner`` (the whole run), ``api`` (MLflow's ``mlflow.projects.run``: :func:`run`).
"""

from mlcli.projects.api import ExecutionException, SubmittedRun, run
from mlcli.projects.lineage import GitLineage, collect_lineage, strip_credentials
from mlcli.projects.parameters import Parameter, ResolvedParameters
from mlcli.projects.runner import ProjectRun, RunPlan, RunRequest, plan_run, run_project
from mlcli.projects.spec import DockerEnv, EntryPoint, Project, load_project

__all__ = [
    "DockerEnv",
    "EntryPoint",
    "ExecutionException",
    "GitLineage",
    "Parameter",
    "Project",
    "ProjectRun",
    "ResolvedParameters",
    "RunPlan",
    "RunRequest",
    "SubmittedRun",
    "collect_lineage",
    "load_project",
    "plan_run",
    "run",
    "run_project",
    "strip_credentials",
]
