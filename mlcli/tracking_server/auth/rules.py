"""What each route of the tracking server touches and the level it needs.

Reads need READ, writes EDIT, deletes MANAGE (MLflow's rules). A rule names where the
request's target is found:

    experiment_id / experiment_name    an experiment, by a field
    experiment_ids                     each experiment a search names (403 if any is unreadable)
    run_id / source_run_id             the experiment of the run
    model_id                           the experiment of the logged model
    name                               a registered model
    rename_model                       the registered model ``name``; grants move to ``new_name``
    artifact                           the run (or the model version) of an artifact path
    create_experiment / create_model   anyone signed in; the creator gets MANAGE
    signed_in                          anyone signed in

``filter`` names the list in a search's reply that is cut to what the user can READ.
Every route of the app must have a rule (tests/tracking_server/test_server_auth.py
walks them all): :func:`rule_for` raises KeyError for one without.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlcli.tracking_server.auth.levels import Level

R, E, M = Level.READ, Level.EDIT, Level.MANAGE
API_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
MLCLI_PREFIX = "/api/2.0/mlcli"
ARTIFACT_PREFIXES = (
    "/api/2.0/mlflow-artifacts/artifacts",
    "/ajax-api/2.0/mlflow-artifacts/artifacts",
)
MULTIPART_ROUTES = tuple(  # MLflow's multipart uploads (tracking_server/multipart.py)
    f"{prefix}/{action}/{{path:path}}"
    for prefix in ("/api/2.0/mlflow-artifacts/mpu", "/ajax-api/2.0/mlflow-artifacts/mpu")
    for action in ("create", "complete", "abort")
)


@dataclass(frozen=True)
class Rule:
    target: str
    level: Level = Level.READ
    filter: str | None = None  # experiments | runs | logged_models | models | versions


SIGNED_IN = Rule("signed_in")

# (method, path under /api/2.0/mlflow) -> rule
API_RULES: dict[tuple[str, str], Rule] = {
    ("POST", "/experiments/create"): Rule("create_experiment"),
    ("GET", "/experiments/get"): Rule("experiment_id", R),
    ("GET", "/experiments/get-by-name"): Rule("experiment_name", R),
    ("POST", "/experiments/search"): Rule("signed_in", R, "experiments"),
    ("GET", "/experiments/search"): Rule("signed_in", R, "experiments"),
    ("POST", "/experiments/update"): Rule("experiment_id", E),
    ("POST", "/experiments/delete"): Rule("experiment_id", M),
    ("POST", "/experiments/restore"): Rule("experiment_id", M),
    ("POST", "/experiments/set-experiment-tag"): Rule("experiment_id", E),
    ("POST", "/experiments/delete-experiment-tag"): Rule("experiment_id", E),
    ("POST", "/runs/create"): Rule("experiment_id", E),
    ("GET", "/runs/get"): Rule("run_id", R),
    ("POST", "/runs/update"): Rule("run_id", E),
    ("POST", "/runs/delete"): Rule("run_id", M),
    ("POST", "/runs/restore"): Rule("run_id", M),
    ("POST", "/runs/log-metric"): Rule("run_id", E),
    ("POST", "/runs/log-parameter"): Rule("run_id", E),
    ("POST", "/runs/set-tag"): Rule("run_id", E),
    ("POST", "/runs/delete-tag"): Rule("run_id", E),
    ("POST", "/runs/log-batch"): Rule("run_id", E),
    ("POST", "/runs/log-inputs"): Rule("run_id", E),
    ("POST", "/runs/search"): Rule("experiment_ids", R, "runs"),
    ("GET", "/metrics/get-history"): Rule("run_id", R),
    ("GET", "/artifacts/list"): Rule("run_id", R),
    ("POST", "/logged-models"): Rule("source_run_id", E),
    ("POST", "/logged-models/search"): Rule("experiment_ids", R, "logged_models"),
    ("GET", "/logged-models/{model_id}"): Rule("model_id", R),
    ("PATCH", "/logged-models/{model_id}"): Rule("model_id", E),
    ("DELETE", "/logged-models/{model_id}"): Rule("model_id", M),
    ("PATCH", "/logged-models/{model_id}/tags"): Rule("model_id", E),
    ("DELETE", "/logged-models/{model_id}/tags/{tag_key}"): Rule("model_id", E),
    ("POST", "/logged-models/{model_id}/params"): Rule("model_id", E),
    ("GET", "/logged-models/{model_id}/artifacts/directories"): Rule("model_id", R),
    ("POST", "/runs/outputs"): Rule("run_id", E),
    ("POST", "/registered-models/create"): Rule("create_model"),
    ("GET", "/registered-models/get"): Rule("name", R),
    ("PATCH", "/registered-models/update"): Rule("name", E),
    ("POST", "/registered-models/rename"): Rule("rename_model", E),
    ("DELETE", "/registered-models/delete"): Rule("name", M),
    ("GET", "/registered-models/search"): Rule("signed_in", R, "models"),
    ("POST", "/registered-models/get-latest-versions"): Rule("name", R),
    ("GET", "/registered-models/get-latest-versions"): Rule("name", R),
    ("POST", "/registered-models/set-tag"): Rule("name", E),
    ("DELETE", "/registered-models/delete-tag"): Rule("name", E),
    ("POST", "/registered-models/alias"): Rule("name", E),
    ("DELETE", "/registered-models/alias"): Rule("name", E),
    ("GET", "/registered-models/alias"): Rule("name", R),
    ("POST", "/model-versions/create"): Rule("name", E),
    ("GET", "/model-versions/get"): Rule("name", R),
    ("PATCH", "/model-versions/update"): Rule("name", E),
    ("DELETE", "/model-versions/delete"): Rule("name", M),
    ("POST", "/model-versions/transition-stage"): Rule("name", E),
    ("GET", "/model-versions/search"): Rule("signed_in", R, "versions"),
    ("GET", "/model-versions/get-download-uri"): Rule("name", R),
    ("POST", "/model-versions/set-tag"): Rule("name", E),
    ("DELETE", "/model-versions/delete-tag"): Rule("name", E),
}

# (method, path under /api/2.0/mlcli) -> rule: mlcli's own endpoints
MLCLI_RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/experiments/activity"): Rule("signed_in", R, "experiments"),
    ("GET", "/registered-models/events"): Rule("name", R),
    ("POST", "/model-versions/finish"): Rule("name", E),
}

# the app's other routes, by their full path template
OTHER_RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/health"): SIGNED_IN,  # public in fact: the probes pass before authentication
    ("GET", "/ready"): SIGNED_IN,
    ("GET", "/metrics"): SIGNED_IN,
    ("GET", "/version"): SIGNED_IN,
    ("GET", "/api/3.0/mlflow/server-info"): SIGNED_IN,
    **{("GET", prefix): Rule("artifact", R) for prefix in ARTIFACT_PREFIXES},
    **{("GET", prefix + "/{path:path}"): Rule("artifact", R) for prefix in ARTIFACT_PREFIXES},
    **{("PUT", prefix + "/{path:path}"): Rule("artifact", E) for prefix in ARTIFACT_PREFIXES},
    **{("POST", route): Rule("artifact", E) for route in MULTIPART_ROUTES},
}


def endpoint_rule(api: str, method: str, path: str) -> Rule:
    """The rule of an endpoint of ``api`` ("mlflow" or "mlcli")."""
    return (MLCLI_RULES if api == "mlcli" else API_RULES)[(method, path)]


def rule_for(method: str, route_path: str) -> Rule:
    """The rule of a route (``route_path`` as the app declares it); KeyError if none."""
    for prefix in API_PREFIXES:
        if route_path.startswith(prefix + "/"):
            return API_RULES[(method, route_path[len(prefix) :])]
    if route_path.startswith(MLCLI_PREFIX + "/"):
        return MLCLI_RULES[(method, route_path[len(MLCLI_PREFIX) :])]
    return OTHER_RULES[(method, route_path)]
