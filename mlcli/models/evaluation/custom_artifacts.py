"""The caller's artifact functions (MLflow's ``custom_artifacts``): each is called as
``fn(eval_df, builtin_metrics, artifacts_dir)`` and returns artifacts by name, as a
path to a file it wrote, a JSON string, a DataFrame, a numpy array, a matplotlib
figure or a JSON-able object; mlcli logs each under its name and the inferred suffix."""

from __future__ import annotations

import copy
import io
import json
import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.models.packages import require

_logger = logging.getLogger(__name__)
SUFFIXES = (".png", ".jpg", ".jpeg", ".json", ".npy", ".csv", ".parquet", ".txt")


def custom_artifact_files(
    functions: Sequence[Callable[..., Any]],
    predictions: Any,
    targets: Any,
    metrics: Mapping[str, Any],
) -> dict[str, tuple[str, bytes]]:
    """Artifacts by name to ``(file name, content)``."""
    pd = require("pandas", "evaluating a model")
    frame = pd.DataFrame({"prediction": list(predictions)})
    if targets is not None:
        frame["target"] = list(targets)
    files: dict[str, tuple[str, bytes]] = {}
    for index, function in enumerate(functions):
        label = f"custom artifact function {getattr(function, '__name__', repr(function))!r} " + (
            f"(at index {index} of custom_artifacts)"
        )
        with tempfile.TemporaryDirectory() as folder:
            try:
                produced = function(frame.copy(), copy.deepcopy(dict(metrics)), folder)
            except Exception as exc:  # the caller's code: say which function failed
                raise InvalidInputError(f"{label} failed: {type(exc).__name__}: {exc}") from exc
            if produced is None:
                _logger.warning("%s returned None", label)
                continue
            if not isinstance(produced, dict) or not all(isinstance(k, str) for k in produced):
                _logger.warning("%s did not return a dict of artifacts by name", label)
                continue
            for name, raw in produced.items():
                suffix, content = _encoded(f"{label} produced {name!r}", raw)
                if name in files:
                    raise InvalidInputError(
                        f"{label} produced an artifact {name!r}, a name already taken"
                    )
                files[name] = (name + suffix, content)
    return files


def _encoded(what: str, raw: Any) -> tuple[str, bytes]:
    if isinstance(raw, str):
        if Path(raw).exists():
            raw = Path(raw)
        else:
            try:
                json.loads(raw)
            except ValueError:
                raise InvalidInputError(
                    f"{what}: {raw!r} is neither a path to a file nor a JSON string"
                ) from None
            return ".json", raw.encode()
    if isinstance(raw, Path):
        if not raw.is_file():
            raise InvalidInputError(f"{what}: {raw} is not a file")
        if raw.suffix not in SUFFIXES:
            raise InvalidInputError(f"{what}: {raw} has none of the suffixes {', '.join(SUFFIXES)}")
        return raw.suffix, raw.read_bytes()
    if type(raw).__name__ == "DataFrame" and hasattr(raw, "to_csv"):
        return ".csv", raw.to_csv(index=False).encode()
    if type(raw).__name__ == "ndarray":
        np = require("numpy", "saving an array artifact")
        buffer = io.BytesIO()
        np.save(buffer, raw, allow_pickle=False)
        return ".npy", buffer.getvalue()
    if callable(getattr(raw, "savefig", None)):
        buffer = io.BytesIO()
        raw.savefig(buffer, format="png")
        return ".png", buffer.getvalue()
    try:
        return ".json", json.dumps(raw, default=_plain).encode()
    except TypeError:
        raise InvalidInputError(
            f"{what}: a {type(raw).__name__} is not a path, a JSON string, a DataFrame, an "
            "array, a figure or JSON-able (mlcli does not log pickles)"
        ) from None


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(type(value).__name__)
