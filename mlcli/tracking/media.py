"""Tables and images as run artifacts, in MLflow's formats (``log_table``,
``log_image``).

A table is a pandas DataFrame written as MLflow writes it: JSON in pandas' "split"
layout without the index (``{"columns": [...], "data": [[...], ...]}``) or Parquet;
logged again to the same file, its rows are appended, as MLflow's. An image is a PIL
image or a numpy array (2-D, or 3-D with 1, 3 or 4 channels; integers in [0, 255],
floats in [0, 1], rescaled with a warning otherwise), saved by PIL in the format of
the file's extension. pandas, numpy and PIL are imported here only.
"""

from __future__ import annotations

import io
import posixpath
import warnings
from typing import Any

from mlcli.errors import InvalidInputError


def table_bytes(data: Any, artifact_file: str, existing: bytes | None) -> bytes:
    """The file's new content: ``data`` (a DataFrame or a dict of columns) after the
    rows already in ``existing``."""
    import pandas as pd

    if not artifact_file.endswith((".json", ".parquet")):
        raise InvalidInputError(
            f"invalid artifact file {artifact_file!r}: a table is logged to a .json or "
            ".parquet file"
        )
    if isinstance(data, dict):
        try:
            frame = pd.DataFrame(data)
        except ValueError:  # only scalars: one row, as MLflow's
            frame = pd.DataFrame([data])
    elif isinstance(data, pd.DataFrame):
        frame = data.copy()
    else:
        raise InvalidInputError(
            f"cannot log {type(data).__name__} as a table: give a pandas DataFrame or a dict"
        )
    for column in frame.columns:
        if any(callable(getattr(v, "save", None)) and hasattr(v, "resize") for v in frame[column]):
            raise InvalidInputError(
                f"log_table: column {column!r} holds images, which mlcli does not keep in "
                "tables; log each with log_image"
            )
    parquet = artifact_file.endswith(".parquet")
    if existing is not None:
        if parquet:
            before = pd.read_parquet(io.BytesIO(existing))
        else:
            before = pd.read_json(io.StringIO(existing.decode()), orient="split", dtype=False)
        frame = pd.concat([before, frame], ignore_index=True)
    buffer = io.BytesIO()
    if parquet:
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    text = frame.to_json(orient="split", index=False, date_format="iso")
    return (text or "").encode()


def image_bytes(image: Any, artifact_file: str) -> bytes:
    """The image saved by PIL in the format ``artifact_file``'s extension names."""
    if hasattr(image, "to_pil"):  # MLflow's mlflow.Image
        image = image.to_pil()
    if type(image).__module__ == "numpy" or (
        hasattr(image, "__array_interface__") and not hasattr(image, "save")
    ):
        image = pil_image(image)
    if not (callable(getattr(image, "save", None)) and hasattr(image, "mode")):
        raise InvalidInputError(
            f"cannot log {type(image).__name__} as an image: give a numpy array or a PIL image"
        )
    from PIL import Image

    extension = posixpath.splitext(artifact_file)[1].lower()
    image_format = Image.registered_extensions().get(extension)
    if image_format is None:
        raise InvalidInputError(
            f"invalid artifact file {artifact_file!r}: name an image file (.png, .jpg, ...)"
        )
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def pil_image(array: Any) -> Any:
    """A numpy array as a PIL image, as MLflow converts it."""
    import numpy as np

    try:
        from PIL import Image
    except ImportError:
        raise InvalidInputError(
            "logging a numpy array as an image needs Pillow: pip install Pillow"
        ) from None
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise InvalidInputError(
            f"invalid image array of {array.dtype}: pixels are booleans, integers or floats"
        )
    if array.ndim not in (2, 3):
        raise InvalidInputError(
            f"invalid image array of shape {array.shape}: an image is 2-D or 3-D"
        )
    if array.ndim == 3 and array.shape[2] not in (1, 3, 4):
        raise InvalidInputError(
            f"invalid image array of shape {array.shape}: 1, 3 or 4 channels, not {array.shape[2]}"
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    integers = array.dtype.kind in "iu"
    high = 255 if integers else 1
    if array.size and (array.min() < 0 or array.max() > high):
        if integers:
            raise InvalidInputError(
                f"invalid image: integer pixels are in [0, 255], these in "
                f"[{array.min()}, {array.max()}]"
            )
        warnings.warn(
            f"float pixels out of [0.0, 1.0] (from {array.min()} to {array.max()}): "
            "rescaled to [0.0, 1.0]",
            stacklevel=3,
        )
        span = array.max() - array.min()
        array = (array - array.min()) / (span if span else 1)
    if not integers:
        array = array * 255
    return Image.fromarray(array.astype(np.uint8))
