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

    def __post_init__(self) -> None:  # MLflow's DataType.double (or mlcli.types') is "double"
        if type(self.type) is not str:
            object.__setattr__(self, "type", type_name(self.type))

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


@dataclass(frozen=True, init=False)
class TensorSpec:
    """One tensor: a numpy dtype name and a shape in which -1 means any size. Built as
    MLflow's too: ``TensorSpec(np.dtype(np.float32), (-1, 4))``, or ``type=``."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def __init__(
        self,
        dtype: Any = None,
        shape: Sequence[int] = (),
        name: str | None = None,
        *,
        type: Any = None,  # MLflow's name of dtype
    ) -> None:
        if (dtype is None) == (type is None):
            raise InvalidInputError("a tensor spec needs a dtype (or MLflow's type=), once")
        given = dtype if dtype is not None else type
        object.__setattr__(self, "dtype", given if given.__class__ is str else dtype_name(given))
        object.__setattr__(self, "shape", tuple(int(d) for d in shape))
        object.__setattr__(self, "name", name)

    @property
    def type(self) -> str:
        """MLflow's name of the dtype attribute."""
        return self.dtype

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


@dataclass(frozen=True, init=False)
class Schema:
    """An ordered list of column specs, or of tensor specs (never both); built as
    MLflow's too: ``Schema([ColSpec("double", "x")])`` or ``Schema(inputs=[...])``."""

    specs: tuple[Spec, ...]

    def __init__(self, specs: Sequence[Spec] = (), *, inputs: Sequence[Spec] | None = None):
        object.__setattr__(self, "specs", tuple(inputs if inputs is not None else specs))
        self.__post_init__()

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

    @property
    def inputs(self) -> list[Spec]:
        """MLflow's name of the specs."""
        return list(self.specs)

    def input_names(self) -> list[str | int]:
        """MLflow's: the names of the specs, or their positions when unnamed."""
        return [s.name if s.name is not None else i for i, s in enumerate(self.specs)]

    def to_dict(self) -> list[dict[str, Any]]:
        """MLflow's: one dict per spec (a tensor's shape as a list, as in its JSON)."""
        return [s.to_dict() for s in self.specs]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str | Sequence[Any]) -> Schema:
        specs = _json_list(text, "schema")
        return cls(
            tuple(
                TensorSpec.from_dict(s) if s.get("type") == "tensor" else ColSpec.from_dict(s)
                for s in specs
            )
        )


@dataclass(frozen=True, init=False)
class ParamSpec:
    """An inference parameter: a name, a type from DATA_TYPES and a default value;
    MLflow's ``ParamSpec(name, dtype, default, shape)`` too."""

    name: str
    type: str
    default: Any = None
    shape: tuple[int, ...] | None = None

    def __init__(
        self,
        name: str,
        type: Any = None,
        default: Any = None,
        shape: Sequence[int] | None = None,
        *,
        dtype: Any = None,  # MLflow's name of type
    ) -> None:
        if (type is None) == (dtype is None):
            raise InvalidInputError(f"param {name!r} needs a type (or MLflow's dtype=), once")
        given = type if type is not None else dtype
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "type", given if given.__class__ is str else type_name(given))
        object.__setattr__(self, "default", default)
        object.__setattr__(self, "shape", None if shape is None else tuple(shape))

    @property
    def dtype(self) -> str:
        """MLflow's name of the type attribute."""
        return self.type

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


@dataclass(frozen=True, init=False)
class ParamSchema:
    """Inference parameters; MLflow's ``ParamSchema([ParamSpec(...)])`` or ``params=``."""

    specs: tuple[ParamSpec, ...]

    def __init__(
        self, specs: Sequence[ParamSpec] = (), *, params: Sequence[ParamSpec] | None = None
    ) -> None:
        object.__setattr__(self, "specs", tuple(params if params is not None else specs))

    @property
    def params(self) -> list[ParamSpec]:
        """MLflow's name of the specs."""
        return list(self.specs)

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


def type_name(given: Any) -> str:
    """A column type's name: ``"double"`` for MLflow's ``DataType.double`` (an enum
    whose member names are the types) or mlcli's ``mlcli.types.DataType.double``."""
    name = getattr(given, "name", given)
    if not isinstance(name, str):
        raise InvalidInputError(f"invalid column type {given!r}: expected a type's name")
    return str(name)


def dtype_name(given: Any) -> str:
    """A numpy dtype's name (``float32``) from a dtype, a numpy type or a string."""
    name = getattr(given, "name", None)  # numpy.dtype
    if not isinstance(name, str):
        name = getattr(given, "__name__", given)  # numpy.float32, or a builtin (float)
    if not isinstance(name, str):
        raise InvalidInputError(f"invalid tensor dtype {given!r}: expected a numpy dtype")
    return {"float": "float64", "int": "int64", "bool": "bool", "str": "str"}.get(name, name)


def __getattr__(name: str) -> Any:
    if name == "infer_signature":  # MLflow's mlflow.models.signature.infer_signature
        from mlcli.models.signature_inference import infer_signature

        return infer_signature
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
