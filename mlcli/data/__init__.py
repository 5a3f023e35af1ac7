"""MLflow's ``mlflow.data``: ``from_pandas`` and ``from_numpy`` build dataset objects
with MLflow's attributes (``name``, ``digest``, ``source``, ``schema``, ``profile``,
``to_dict()``, ``to_json()``) that ``mlcli.log_input`` records as MLflow does.

The digest is MLflow's (the first 8 hex digits of an md5 over the first 10,000 rows'
hashes, the row count and the column names), so the same data logged by mlcli and by
MLflow has the same digest. pandas and numpy are imported when a dataset is built,
never at ``import mlcli``.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cached_property
from typing import Any

from mlcli.errors import InvalidInputError

MAX_ROWS = 10_000  # MLflow's: rows (or array elements) the digest reads

__all__ = ["DatasetSource", "NumpyDataset", "PandasDataset", "from_numpy", "from_pandas"]


class DatasetSource:
    """Where a dataset came from: MLflow's source types ``code`` (the script that built
    it, by default), ``local``, ``http`` and ``s3``/``gs``/... (a URI)."""

    def __init__(self, source_type: str, fields: dict[str, Any]) -> None:
        self.source_type = source_type
        self._fields = fields
        for key, value in fields.items():
            setattr(self, key, value)

    def _get_source_type(self) -> str:  # MLflow's name
        return self.source_type

    def to_dict(self) -> dict[str, Any]:
        return dict(self._fields)

    def to_json(self) -> str:
        return json.dumps(self._fields)

    def __repr__(self) -> str:
        return f"DatasetSource({self.source_type!r}, {self._fields!r})"


def _resolve_source(source: Any) -> DatasetSource:
    if source is None:  # MLflow's CodeDatasetSource: the tags of the code that built it
        from mlcli.tracking.context import current_user, script_source_tags

        tags = {"mlflow.user": current_user()}
        tags.update({f"mlflow.{k.split('.', 1)[1]}": v for k, v in script_source_tags().items()})
        return DatasetSource("code", {"tags": tags})
    if isinstance(source, DatasetSource):
        return source
    if hasattr(source, "_get_source_type") and hasattr(source, "to_dict"):  # MLflow's
        return DatasetSource(source._get_source_type(), dict(source.to_dict()))
    if not isinstance(source, str | os.PathLike):
        raise InvalidInputError(f"invalid dataset source {source!r}: give a path, a URI or a URL")
    text = os.fspath(source)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in ("http", "https"):
        return DatasetSource("http", {"url": text})
    if scheme in ("", "file"):
        return DatasetSource("local", {"uri": text})
    return DatasetSource(scheme, {"uri": text})


def _md5_digest(elements: list[Any]) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    for element in elements:
        md5.update(element)
    return md5.hexdigest()[:8]


def pandas_digest(df: Any) -> str:
    """MLflow's digest of a DataFrame: its text and numeric columns' row hashes (first
    10,000 rows), the row count and the column names."""
    import numpy as np
    import pandas as pd

    head = df.head(MAX_ROWS)
    text_columns = head.columns[
        [all(type(x) is str for x in column.to_numpy(dtype=object)) for _, column in df.items()]
    ]
    numeric_columns = head.select_dtypes(include=[np.number]).columns
    head = head[text_columns.union(numeric_columns)]
    return _md5_digest(
        [pd.util.hash_pandas_object(head).values, np.int64(len(df))]
        + [str(x).encode() for x in df.columns]
    )


def numpy_digest(features: Any, targets: Any = None) -> str:
    """MLflow's digest of arrays (or dicts of arrays): each one's first 10,000 elements'
    hashes and its shape."""
    import numpy as np
    import pandas as pd

    elements: list[Any] = []

    def add(array: Any) -> None:
        head = np.asarray(array).flatten()[:MAX_ROWS]
        try:
            elements.append(pd.util.hash_array(head))
        except TypeError:
            elements.append(np.int64(head.size))
        elements.extend(np.int64(n) for n in np.shape(array))

    for item in (features, targets):
        if isinstance(item, dict):
            for key in sorted(item):
                add(item[key])
        elif item is not None:
            add(item)
    return _md5_digest(elements)


class _Dataset:
    """What every MLflow dataset has: a name, a digest and a source."""

    def __init__(self, source: Any, name: str | None, digest: str | None) -> None:
        self._source = _resolve_source(source)
        self._name = name
        self._digest = digest or self._compute_digest()

    def _compute_digest(self) -> str:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self._name if self._name is not None else "dataset"  # MLflow's default

    @property
    def digest(self) -> str:
        return self._digest

    @property
    def source(self) -> DatasetSource:
        return self._source

    @property
    def profile(self) -> Any:
        return None

    def _schema_json(self) -> str | None:
        return None

    def to_dict(self) -> dict[str, str | None]:
        """MLflow's: name, digest, source (JSON), source_type, schema and profile (JSON)."""
        return {
            "name": self.name,
            "digest": self.digest,
            "source": self._source.to_json(),
            "source_type": self._source.source_type,
            "schema": self._schema_json(),
            "profile": json.dumps(self.profile),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def _to_mlflow_entity(self) -> Any:
        """The record ``log_input`` keeps (mlcli's ``Dataset`` entity)."""
        from mlcli.store import Dataset

        fields = self.to_dict()
        return Dataset(
            name=self.name,
            digest=self.digest,
            source_type=self._source.source_type,
            source=self._source.to_json(),
            schema=fields["schema"],
            profile=fields["profile"],
        )


class PandasDataset(_Dataset):
    """MLflow's ``PandasDataset``: a DataFrame, its target and predictions columns."""

    def __init__(
        self,
        df: Any,
        source: Any = None,
        targets: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        predictions: str | None = None,
    ) -> None:
        for what, column in (("targets", targets), ("predictions", predictions)):
            if column is not None and column not in df.columns:
                raise InvalidInputError(
                    f"the DataFrame has no {what} column {column!r}; its columns: "
                    + ", ".join(map(str, df.columns))
                )
        self._df = df
        self._targets = targets
        self._predictions = predictions
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return pandas_digest(self._df)

    @property
    def df(self) -> Any:
        return self._df

    @property
    def targets(self) -> str | None:
        return self._targets

    @property
    def predictions(self) -> str | None:
        return self._predictions

    @property
    def profile(self) -> Any:
        return {"num_rows": len(self._df), "num_elements": int(self._df.size)}

    @cached_property
    def schema(self) -> Any:
        """The DataFrame's ``Schema`` (None when it cannot be inferred, as MLflow's)."""
        from mlcli.models.signature_inference import infer_schema

        try:
            return infer_schema(self._df)
        except Exception:
            return None

    def _schema_json(self) -> str | None:
        schema = self.schema
        return None if schema is None else json.dumps({"mlflow_colspec": schema.to_dict()})


class NumpyDataset(_Dataset):
    """MLflow's ``NumpyDataset``: feature and target arrays (or dicts of arrays)."""

    def __init__(
        self,
        features: Any,
        source: Any = None,
        targets: Any = None,
        name: str | None = None,
        digest: str | None = None,
    ) -> None:
        self._features = features
        self._targets = targets
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return numpy_digest(self._features, self._targets)

    @property
    def features(self) -> Any:
        return self._features

    @property
    def targets(self) -> Any:
        return self._targets

    @property
    def profile(self) -> Any:
        def attribute(data: Any, name: str) -> Any:
            if isinstance(data, dict):
                return {key: getattr(array, name) for key, array in data.items()}
            return getattr(data, name)

        profile = {f"features_{a}": attribute(self._features, a) for a in _PROFILED}
        if self._targets is not None:
            profile.update({f"targets_{a}": attribute(self._targets, a) for a in _PROFILED})
        return profile

    @cached_property
    def schema(self) -> Any:
        """MLflow's ``TensorDatasetSchema``-like pair: ``features`` and ``targets``."""
        from mlcli.models.signature_inference import infer_schema

        try:
            features = infer_schema(self._features)
            targets = None if self._targets is None else infer_schema(self._targets)
        except Exception:
            return None
        return TensorDatasetSchema(features, targets)

    def _schema_json(self) -> str | None:
        return None if self.schema is None else json.dumps(self.schema.to_dict())


_PROFILED = ("shape", "size", "nbytes")


class TensorDatasetSchema:
    """The schemas of a NumPy dataset's features and targets (MLflow's)."""

    def __init__(self, features: Any, targets: Any = None) -> None:
        self.features = features
        self.targets = targets

    def to_dict(self) -> dict[str, Any]:
        return {
            "mlflow_tensorspec": {
                "features": self.features.to_json(),
                "targets": None if self.targets is None else self.targets.to_json(),
            }
        }


def from_pandas(
    df: Any,
    source: Any = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> PandasDataset:
    """MLflow's ``mlflow.data.from_pandas``: a dataset of a DataFrame; ``source`` a
    path, URI or URL it was read from (default: the code that built it)."""
    return PandasDataset(df, source, targets, name, digest, predictions)


def from_numpy(
    features: Any,
    source: Any = None,
    targets: Any = None,
    name: str | None = None,
    digest: str | None = None,
) -> NumpyDataset:
    """MLflow's ``mlflow.data.from_numpy``: a dataset of feature (and target) arrays."""
    return NumpyDataset(features, source, targets, name, digest)
