"""The ``MLmodel`` file: the YAML document at the top of every model directory.

Its keys follow MLflow's (``flavors``, ``run_id``, ``artifact_path``,
``utc_time_created``, ``model_uuid``, ``signature``, ``saved_input_example_info``,
``model_size_bytes``, ``metadata``) so that either tool reads the other's models;
mlcli records its own version as ``mlcli_version`` where MLflow writes
``mlflow_version``. Keys this module does not know (``mlflow_version``, ``model_id``,
``prompts``...) are kept and written back unchanged.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.models.signature import ModelSignature, ParamSchema, Schema
from mlcli.version import __version__

MLMODEL_FILE = "MLmodel"
PYFUNC = "python_function"

_KNOWN = (
    "artifact_path",
    "flavors",
    "mlcli_version",
    "model_size_bytes",
    "model_uuid",
    "metadata",
    "run_id",
    "saved_input_example_info",
    "signature",
    "utc_time_created",
)


@dataclass
class Model:
    """The contents of one ``MLmodel`` file."""

    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_id: str | None = None
    artifact_path: str | None = None
    utc_time_created: str = field(default_factory=lambda: utc_now_text())
    model_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    signature: ModelSignature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    mlcli_version: str | None = __version__
    model_size_bytes: int | None = None
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pyfunc_conf(self) -> dict[str, Any] | None:
        return self.flavors.get(PYFUNC)

    def get_input_schema(self) -> Schema | None:
        """The signature's inputs, or None (MLflow's ``Model.get_input_schema``)."""
        return None if self.signature is None else self.signature.inputs

    def get_output_schema(self) -> Schema | None:
        """The signature's outputs, or None (MLflow's ``Model.get_output_schema``)."""
        return None if self.signature is None else self.signature.outputs

    def get_params_schema(self) -> ParamSchema | None:
        """The signature's inference params, or None (MLflow's ``Model.get_params_schema``)."""
        return None if self.signature is None else self.signature.params

    def add_flavor(self, name: str, **conf: Any) -> Model:
        self.flavors[name] = conf
        return self

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = dict(self.extra)
        document.update(
            {
                "artifact_path": self.artifact_path,
                "flavors": self.flavors,
                "mlcli_version": self.mlcli_version,
                "model_size_bytes": self.model_size_bytes,
                "model_uuid": self.model_uuid,
                "metadata": self.metadata,
                "run_id": self.run_id,
                "saved_input_example_info": self.saved_input_example_info,
                "signature": None if self.signature is None else self.signature.to_dict(),
                "utc_time_created": self.utc_time_created,
            }
        )
        return {k: v for k, v in sorted(document.items()) if v is not None or k in self.extra}

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), default_flow_style=False, sort_keys=True)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``MLmodel`` to ``path`` (a file path, or a directory to put it in)."""
        target = Path(path)
        if target.is_dir():
            target = target / MLMODEL_FILE
        target.write_text(self.to_yaml())
        return target

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Model:
        flavors = document.get("flavors") or {}
        if not isinstance(flavors, dict) or not all(isinstance(v, dict) for v in flavors.values()):
            raise InvalidInputError("invalid MLmodel: 'flavors' must map names to mappings")
        signature = document.get("signature")
        created = document.get("utc_time_created")
        return cls(
            flavors=flavors,
            run_id=document.get("run_id"),
            artifact_path=document.get("artifact_path"),
            utc_time_created=str(created) if created is not None else utc_now_text(),
            model_uuid=str(document.get("model_uuid") or ""),
            signature=ModelSignature.from_dict(signature) if isinstance(signature, dict) else None,
            saved_input_example_info=document.get("saved_input_example_info"),
            mlcli_version=document.get("mlcli_version"),
            model_size_bytes=document.get("model_size_bytes"),
            metadata=document.get("metadata"),
            extra={k: v for k, v in document.items() if k not in _KNOWN},
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Model:
        """Read ``MLmodel`` from a model directory (or the file itself), or from the
        model a URI names (``runs:/``, ``models:/``, ``file:``), as MLflow's
        ``Model.load`` does."""
        import yaml

        if isinstance(path, str) and path.startswith(("runs:", "models:", "file:")):
            from mlcli.models.uri import resolve_model_uri  # it imports this module

            path = resolve_model_uri(path).directory
        target = Path(path)
        if target.is_dir():
            target = target / MLMODEL_FILE
        try:
            document = yaml.safe_load(target.read_text())
        except FileNotFoundError:
            raise NotFoundError(f"no model at {target.parent}: it has no MLmodel file") from None
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"{target} is not valid YAML: {_first_line(exc)}") from None
        if not isinstance(document, dict):
            raise InvalidInputError(f"{target} is not an MLmodel document (not a mapping)")
        try:
            return cls.from_dict(document)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{target}: {exc.message}") from None


def utc_now_text() -> str:
    """MLflow's ``utc_time_created`` format: ``2026-11-23 13:02:09.573728``."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")


def directory_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
