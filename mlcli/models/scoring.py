"""One scoring request, without a server: parse the body, predict, shape the answer.

The answer has the shape MLflow's scoring server gives (``predictions_to_json``):
``{"predictions": ...}`` holding a DataFrame as a list of records, a Series as the
records of a one-column frame (``[{"score": 0}, ...]``, the column ``"0"`` when the
Series has no name), an array as (nested) lists, and anything else (a list, a dict,
a string, a number) as it is, numpy values inside it as Python ones. One deliberate
difference: NaN and infinity are null (MLflow writes ``NaN``, which is not JSON).
``mlcli models predict`` uses this, and so does the scoring server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlcli.errors import MlcliError
from mlcli.models.errors import ModelPredictionError
from mlcli.models.input_example import jsonable
from mlcli.models.scoring_input import ScoringInput, parse_input

if TYPE_CHECKING:
    from mlcli.models.pyfunc_model import PyFuncModel
    from mlcli.tracking import TrackingClient


def score_request(model: PyFuncModel, body: str | bytes, content_type: str) -> dict[str, Any]:
    """``{"predictions": ...}`` for a JSON or CSV request body."""
    signature = model.signature
    request = parse_input(body, content_type, None if signature is None else signature.inputs)
    return {"predictions": predictions_to_jsonable(predict(model, request))}


def predict(model: PyFuncModel, request: ScoringInput) -> Any:
    """The model's predictions for a parsed request; its own failure (any exception
    from its code, on input a client sent) is a one-line ModelPredictionError."""
    try:
        return model.predict(request.data, request.params)
    except MlcliError:
        raise
    except Exception as exc:
        raise ModelPredictionError(f"the model failed on this input: {one_line(exc)}") from exc


def predict_body(
    model_uri: str,
    body: str | bytes,
    content_type: str,
    client: TrackingClient | None = None,
    allow_pickle: bool = False,
) -> dict[str, Any]:
    """Load the model at ``model_uri`` and score one request body with it."""
    from mlcli.models.pyfunc_model import load_model

    model = load_model(model_uri, client=client, allow_pickle=allow_pickle)
    return score_request(model, body, content_type)


def predictions_to_jsonable(predictions: Any) -> Any:
    """The value under ``"predictions"`` (see the module docstring)."""
    if is_series(predictions):
        predictions = predictions.to_frame()
    if hasattr(predictions, "to_dict") and hasattr(predictions, "columns"):
        return [jsonable(row) for row in predictions.to_dict(orient="records")]
    if hasattr(predictions, "tolist"):
        return jsonable(predictions.tolist())
    return jsonable(predictions)


def is_series(value: Any) -> bool:
    """Whether ``value`` is a pandas Series (without importing pandas)."""
    return hasattr(value, "to_frame") and not hasattr(value, "columns")


def one_line(exc: BaseException) -> str:
    """An exception as one line of at most ~300 characters, with its type."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
