"""The models the serving tests serve: a real scikit-learn classifier, a custom model
with params (including one that sleeps, for timeouts), registered in a real store."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import mlcli.pyfunc
from mlcli.client import MlcliClient
from mlcli.models.signature import ColSpec, ModelSignature, ParamSchema, ParamSpec, Schema

GIT_COMMIT = "0123456789abcdef0123456789abcdef01234567"


class ScaleModel(mlcli.pyfunc.PythonModel):
    """``x * scale + offset``; sleeps ``sleep`` seconds first (for --timeout tests)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        params = params or {}
        if params.get("sleep"):
            marker = os.environ.get("SCALE_MODEL_SLEEPING")  # tells a test it is in flight
            if marker:
                Path(marker).write_text("sleeping")
            time.sleep(float(params["sleep"]))
        return (model_input["x"] * float(params.get("scale", 1.0)) + self.offset).tolist()


SCALE_SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("double", "x")]),
    params=ParamSchema([ParamSpec("scale", "double", 1.0), ParamSpec("sleep", "double", 0.0)]),
)


def iris_classifier(max_iter: int = 1000, c: float = 1.0) -> tuple[Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, target = load_iris(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, C=c))
    return model.fit(features, target), features


def log_and_register(
    client: MlcliClient, save: Any, name: str, work: Path, commit: str = GIT_COMMIT
) -> int:
    """Save a model with ``save(path)``, log it to a new run (with a git commit tag) as
    ``model``, register it as the next version of ``name``; returns the version."""
    run = client.create_run(tags={"mlcli.source.git.commit": commit})
    directory = work / f"model-{run.run_id}"
    save(directory)
    client.log_artifacts(run.run_id, directory, "model")
    client.set_terminated(run.run_id)
    return client.register_model(f"runs:/{run.run_id}/model", name).version


def register_iris(client: MlcliClient, work: Path, c: float = 1.0) -> int:
    import mlcli.sklearn

    model, features = iris_classifier(c=c)
    return log_and_register(
        client,
        lambda path: mlcli.sklearn.save_model(model, path, input_example=features.head(2)),
        "iris",
        work,
    )


def register_scale(client: MlcliClient, work: Path, offset: float = 0.0) -> int:
    return log_and_register(
        client,
        lambda path: mlcli.pyfunc.save_model(
            path,
            python_model=ScaleModel(offset),
            signature=SCALE_SIGNATURE,
            input_example={"x": [1.0, 2.0]},
        ),
        "scale",
        work,
    )


class OffsetFromPackageModel(mlcli.pyfunc.PythonModel):
    """``x + mlcli_test_offset.OFFSET``: the package exists only in the environment
    built from the model's requirements (``--env-manager virtualenv``)."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        import mlcli_test_offset  # type: ignore[import-not-found]

        return (model_input["x"] + mlcli_test_offset.OFFSET).tolist()


def output_of_shape(shape: str, x: list[float]) -> Any:
    """An output of the type ``shape`` names, built from the column ``x``."""
    import numpy as np
    import pandas as pd

    outputs = {
        "series": lambda: pd.Series(x),
        "named-series": lambda: pd.Series([int(v) for v in x], name="score"),
        "frame": lambda: pd.DataFrame({"a": x, "b": [f"v{v:g}" for v in x]}),
        "ndarray": lambda: np.asarray(x),
        "ndarray-2d": lambda: np.column_stack([x, x]),
        "strings": lambda: np.asarray([f"v{v:g}" for v in x]),
        "list": lambda: [np.float64(v) for v in x],
        "dict": lambda: {"total": np.float64(sum(x)), "values": np.asarray(x)},
        "str": lambda: "ok",
        "scalar": lambda: np.int64(len(x)),
    }
    return outputs[shape]()


SHAPES = (
    "series",
    "named-series",
    "frame",
    "ndarray",
    "ndarray-2d",
    "strings",
    "list",
    "dict",
    "str",
    "scalar",
)


class ShapesModel(mlcli.pyfunc.PythonModel):
    """Answers an output of the type named by the param ``shape`` (see output_of_shape)."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return output_of_shape((params or {})["shape"], list(model_input["x"]))
