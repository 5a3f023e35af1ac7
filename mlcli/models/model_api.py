"""MLflow's model helpers: ``mlflow.models.get_model_info``, ``mlflow.models.predict``
and ``mlflow.pyfunc.get_model_dependencies``, for every model URI mlcli takes
(``models:/m-<id>`` included). Predictions run in this process's environment
(MLflow's ``env_manager="local"``); mlcli builds no environments for them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.models.log import ModelInfo


def get_model_info(model_uri: str) -> ModelInfo:
    """The ModelInfo of the model at ``model_uri`` (its MLmodel, and its logged model's
    id when it is one): ``model_uri`` is ``models:/m-<id>`` for a logged model, else the
    run's URI, as MLflow 3's ``Model.get_model_info``."""
    from mlcli.models.mlmodel import Model
    from mlcli.models.uri import LoggedModelUri, resolve_model_uri
    from mlcli.tracking import TrackingClient

    client = TrackingClient()
    resolved = resolve_model_uri(model_uri, client=client)
    model = Model.load(resolved.directory)
    model_id = resolved.uri.model_id if isinstance(resolved.uri, LoggedModelUri) else None
    if model_id is None and isinstance(model.extra.get("model_id"), str):
        model_id = model.extra["model_id"]  # MLflow 3 writes it in MLmodel, as mlcli
    run_id = model.run_id or resolved.run_id
    artifact_path = model.artifact_path or ""
    if model_id is None and run_id and artifact_path:
        model_id = _logged_model_id(client, run_id, artifact_path)
    if model_id is not None:
        uri = f"models:/{model_id}"
    elif run_id and artifact_path:
        uri = f"runs:/{run_id}/{artifact_path}"
    else:
        uri = str(model_uri)
    return ModelInfo(
        run_id=run_id or "",
        artifact_path=artifact_path,
        model_uri=uri,
        model_uuid=model.model_uuid,
        flavors=model.flavors,
        signature=model.signature,
        utc_time_created=model.utc_time_created,
        mlcli_version=model.mlcli_version,
        model_id=model_id,
        name=artifact_path or None,
    )


def _logged_model_id(client: Any, run_id: str, artifact_path: str) -> str | None:
    from mlcli.errors import MlcliError

    try:
        models = client.store.logged_models.of_run(run_id)
    except MlcliError:
        return None
    found = [m for m in models if m.artifact_path == artifact_path and not m.deleted]
    return found[-1].model_id if found else None


def predict(
    model_uri: str,
    input_data: Any = None,
    input_path: str | None = None,
    content_type: str = "json",
    output_path: str | None = None,
    env_manager: str | None = None,
    install_mlflow: bool = False,
    pip_requirements_override: list[str] | None = None,
    extra_envs: dict[str, str] | None = None,
) -> None:
    """Predict with the model at ``model_uri`` on ``input_data`` (a Python value, or a
    request body as a string) or the file ``input_path`` (JSON or CSV, by
    ``content_type``), and write MLflow's answer ``{"predictions": ...}`` to
    ``output_path`` or stdout. Only ``env_manager="local"`` (the default here) is taken."""
    from mlcli.models.pyfunc_model import load_model
    from mlcli.models.scoring import predict as run_model
    from mlcli.models.scoring import predictions_to_jsonable, score_request
    from mlcli.models.scoring_input import ScoringInput

    if env_manager not in (None, "local"):
        raise InvalidInputError(
            f"env_manager={env_manager!r} is not supported: mlcli predicts in this "
            "environment (env_manager='local')"
        )
    if install_mlflow or pip_requirements_override or extra_envs:
        raise InvalidInputError(
            "install_mlflow, pip_requirements_override and extra_envs need an environment "
            "manager; mlcli predicts in this environment (env_manager='local')"
        )
    if content_type not in ("json", "csv"):
        raise InvalidInputError(f"content_type must be 'json' or 'csv', not {content_type!r}")
    if (input_data is None) == (input_path is None):
        raise InvalidInputError("give exactly one of input_data and input_path")
    model = load_model(model_uri)
    if input_path is not None:
        try:
            body: str | bytes = Path(input_path).read_bytes()
        except OSError as exc:
            raise NotFoundError(f"cannot read {input_path}: {exc.strerror}") from None
        answer = score_request(model, body, content_type)
    elif isinstance(input_data, (str, bytes)):
        answer = score_request(model, input_data, content_type)
    else:
        predictions = run_model(model, ScoringInput(input_data))
        answer = {"predictions": predictions_to_jsonable(predictions)}
    text = json.dumps(answer)
    if output_path is None:
        sys.stdout.write(text + "\n")
    else:
        Path(output_path).write_text(text)


def get_model_dependencies(model_uri: str, format: str = "pip") -> str:
    """The path of the model's ``requirements.txt`` (``format="pip"``) or ``conda.yaml``
    (``format="conda"``), in the model's folder."""
    from mlcli.models.uri import resolve_model_uri

    names = {"pip": "requirements.txt", "conda": "conda.yaml"}
    if format not in names:
        raise InvalidInputError(f"format must be 'pip' or 'conda', not {format!r}")
    path = resolve_model_uri(model_uri).directory / names[format]
    if not path.is_file():
        raise NotFoundError(f"the model at {model_uri} has no {names[format]}")
    return str(path)
