"""Model signatures: what a model takes and returns, in MLflow's JSON column specs.

A signature holds up to three schemas, each stored in ``MLmodel`` as a JSON string:

    inputs:  '[{"type": "double", "name": "x", "required": true}]'        column specs
    outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
    params:  '[{"name": "predict_method", "default": "predict", "shape": null, "type": "string"}]'

A schema is either columns (``ColSpec``: a name and one of :data:`DATA_TYPES`) or tensors
(``TensorSpec``: a numpy dtype and a shape, -1 for any size). MLflow's composite column
types (array, object, map, any) are read and written back verbatim but not enforced.
Nothing here imports pandas or numpy; see ``signature_inference`` and ``enforcement``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlcli.errors import InvalidInputError

DATA_TYPES = ("boolean", "integer", "long", "float", "double", "string", "binary", "datetime")


@dataclass(frozen=True)
class ColSpec:
    """One column: its type (one of DATA_TYPES, or an MLflow composite type), its name
    (None in an unnamed, positional schema) and whether it must be present."""

    type: str
    name: str | None = None
    required: bool = True
    composite: Mapping[str, Any] | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        spec: dict[str, Any] = dict(self.composite or {})
        spec["type"] = self.type
        if self.name is not None:
            spec["name"] = self.name
        spec["required"] = self.required
        return spec

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> ColSpec:
        kind = spec.get("type")
        if not isinstance(kind, str):
            raise InvalidInputError(f"invalid column spec {dict(spec)!r}: no type")
        extra = {k: v for k, v in spec.items() if k not in ("type", "name", "required")}
        if kind not in DATA_TYPES and not extra and kind != "any":
            raise InvalidInputError(
                f"invalid column type {kind!r}: expected one of {', '.join(DATA_TYPES)}"
            )
        return cls(kind, spec.get("name"), bool(spec.get("required", True)), extra or None)

    @property
    def enforceable(self) -> bool:
        return self.type in DATA_TYPES

    def describe(self) -> str:
        return f"{self.name!r} ({self.type})" if self.name is not None else self.type


@dataclass(frozen=True)
class TensorSpec:
    """One tensor: a numpy dtype name and a shape in which -1 means any size."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"type": "tensor"}
        spec["tensor-spec"] = {"dtype": self.dtype, "shape": list(self.shape)}
        if self.name is not None:
            spec["name"] = self.name
        return spec

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> TensorSpec:
        tensor = spec.get("tensor-spec")
        if not isinstance(tensor, Mapping) or "dtype" not in tensor:
            raise InvalidInputError(f"invalid tensor spec {dict(spec)!r}")
        shape = tensor.get("shape") or []
        return cls(str(tensor["dtype"]), tuple(int(d) for d in shape), spec.get("name"))

    def describe(self) -> str:
        return f"{self.dtype} tensor of shape {shape_text(self.shape)}"


Spec = ColSpec | TensorSpec


@dataclass(frozen=True)
class Schema:
    """An ordered list of column specs, or of tensor specs (never both)."""

    specs: tuple[Spec, ...]

    def __post_init__(self) -> None:
        kinds = {type(s) for s in self.specs}
        if len(kinds) > 1:
            raise InvalidInputError("a schema cannot mix column and tensor specs")
        named = {s.name is not None for s in self.specs}
        if len(named) > 1:
            raise InvalidInputError("in a schema, either every spec has a name or none has")

    @property
    def is_tensor(self) -> bool:
        return bool(self.specs) and isinstance(self.specs[0], TensorSpec)

    @property
    def has_names(self) -> bool:
        return bool(self.specs) and self.specs[0].name is not None

    def names(self) -> list[str]:
        return [s.name for s in self.specs if s.name is not None]

    def to_json(self) -> str:
        return json.dumps([s.to_dict() for s in self.specs])

    @classmethod
    def from_json(cls, text: str | Sequence[Any]) -> Schema:
        specs = _json_list(text, "schema")
        return cls(
            tuple(
                TensorSpec.from_dict(s) if s.get("type") == "tensor" else ColSpec.from_dict(s)
                for s in specs
            )
        )


@dataclass(frozen=True)
class ParamSpec:
    """An inference parameter: a name, a type from DATA_TYPES and a default value."""

    name: str
    type: str
    default: Any = None
    shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        shape = None if self.shape is None else list(self.shape)
        return {"name": self.name, "default": self.default, "shape": shape, "type": self.type}

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> ParamSpec:
        if not isinstance(spec.get("name"), str) or not isinstance(spec.get("type"), str):
            raise InvalidInputError(f"invalid param spec {dict(spec)!r}")
        shape = spec.get("shape")
        return cls(
            spec["name"], spec["type"], spec.get("default"), None if shape is None else tuple(shape)
        )


@dataclass(frozen=True)
class ParamSchema:
    specs: tuple[ParamSpec, ...]

    def to_json(self) -> str:
        return json.dumps([s.to_dict() for s in self.specs])

    @classmethod
    def from_json(cls, text: str | Sequence[Any]) -> ParamSchema:
        return cls(tuple(ParamSpec.from_dict(s) for s in _json_list(text, "params schema")))


@dataclass(frozen=True)
class ModelSignature:
    """Inputs, outputs and params of a model; any of them may be missing."""

    inputs: Schema | None = None
    outputs: Schema | None = None
    params: ParamSchema | None = None

    def to_dict(self) -> dict[str, str | None]:
        """The ``signature`` mapping of ``MLmodel``: each schema as a JSON string."""
        return {
            "inputs": None if self.inputs is None else self.inputs.to_json(),
            "outputs": None if self.outputs is None else self.outputs.to_json(),
            "params": None if self.params is None else self.params.to_json(),
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> ModelSignature:
        inputs, outputs, params = (document.get(k) for k in ("inputs", "outputs", "params"))
        return cls(
            None if inputs is None else Schema.from_json(inputs),
            None if outputs is None else Schema.from_json(outputs),
            None if params is None else ParamSchema.from_json(params),
        )


def shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _json_list(text: str | Sequence[Any], what: str) -> list[Mapping[str, Any]]:
    try:
        specs = json.loads(text) if isinstance(text, str) else list(text)
    except ValueError as exc:
        raise InvalidInputError(f"invalid {what}: not JSON ({exc})") from None
    if not isinstance(specs, list) or not all(isinstance(s, Mapping) for s in specs):
        raise InvalidInputError(f"invalid {what}: expected a JSON list of objects")
    return specs
