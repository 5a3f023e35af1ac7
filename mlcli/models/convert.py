"""``convert_model``: a scikit-learn or PyTorch model as an ONNX model, saved or logged.

The converted model runs in onnxruntime, without the framework that trained it (its
requirements are onnx and onnxruntime). Its inputs come from the source model:

- scikit-learn (skl2onnx): a signature of numeric columns, a tensor signature, or no
  signature (``n_features_in_``) give one float tensor of shape (-1, columns), so the
  requests that the source model took (``dataframe_split``, ``inputs``) still fit; a
  signature with text columns gives one (-1, 1) input per column, named by it.
  Classifiers answer ``label`` and ``probabilities`` (a tensor per row, no ZipMap).
- PyTorch (``torch.onnx``): the module is traced on zeros shaped as its signature or
  its input example says (a -1 dimension, the batch, stays free in the graph).

What the graph takes and answers is the converted model's signature; its ``metadata``
names the source (``converted_from``).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcli.errors import InvalidInputError
from mlcli.models.flavors import FLAVORS
from mlcli.models.mlmodel import Model
from mlcli.models.packages import require
from mlcli.models.signature import ColSpec, Schema, TensorSpec
from mlcli.models.uri import resolve_model_uri

if TYPE_CHECKING:
    from mlcli.models.log import ModelInfo
    from mlcli.tracking import TrackingClient

TARGETS = ("onnx",)
CONVERTIBLE = ("sklearn", "pytorch")
_NUMERIC_COLUMNS = ("integer", "long", "float", "double", "boolean")
_TORCH_DTYPES = {"float32": "float32", "float64": "float64", "int64": "int64", "int32": "int32"}


@dataclass(frozen=True)
class Conversion:
    """A converted model: the ONNX graph, where it came from, and where it went (a
    directory, or a logged model)."""

    onnx_model: Any
    source_uri: str
    source_flavor: str
    path: Path | None = None
    model_info: ModelInfo | None = None


def convert_model(
    model_uri: str,
    to: str = "onnx",
    *,
    output: str | Path | None = None,
    run_id: str | None = None,
    name: str = "onnx",
    registered_model_name: str | None = None,
    log: bool = False,
    client: TrackingClient | None = None,
    allow_pickle: bool = False,
) -> Conversion:
    """Convert the model at ``model_uri`` to ``to`` (``"onnx"``) and save it to
    ``output``, or log it (``log=True`` or ``registered_model_name``) as ``name`` in
    ``run_id``, by default the run that logged the source model."""
    if to not in TARGETS:
        raise InvalidInputError(f"cannot convert to {to!r}: mlcli converts to {', '.join(TARGETS)}")
    log = log or registered_model_name is not None
    if (output is None) == (not log):
        raise InvalidInputError("give either an output directory or --log/--register, once")
    resolved = resolve_model_uri(model_uri, client=client)
    source = Model.load(resolved.directory)
    onnx_model, flavor = to_onnx(model_uri, source, client=client, allow_pickle=allow_pickle)
    metadata = {"converted_from": str(model_uri), "converted_flavor": flavor}
    if output is not None:
        from mlcli.models.save import save_model

        save_model(onnx_model, output, flavor="onnx", metadata=metadata)
        return Conversion(onnx_model, str(model_uri), flavor, path=Path(output))
    from mlcli.models.log import log_model

    target_run = run_id or source.run_id or resolved.run_id
    if target_run is None:
        raise InvalidInputError(
            f"{model_uri} was not logged in a run: name the run to log the ONNX model to (--run)"
        )
    info = log_model(
        onnx_model,
        name,
        flavor="onnx",
        run_id=target_run,
        client=client,
        registered_model_name=registered_model_name,
        metadata=metadata,
    )
    return Conversion(onnx_model, str(model_uri), flavor, model_info=info)


def to_onnx(
    model_uri: str,
    source: Model,
    *,
    client: TrackingClient | None = None,
    allow_pickle: bool = False,
) -> tuple[Any, str]:
    """The ONNX graph of the model at ``model_uri`` (whose MLmodel is ``source``) and the
    flavor it was converted from."""
    from mlcli.models.pyfunc_model import load_native_model

    flavor = next((f for f in CONVERTIBLE if f in source.flavors), None)
    if flavor is None or flavor not in FLAVORS:
        raise InvalidInputError(
            f"cannot convert the model at {model_uri} to ONNX: it has the flavors "
            f"{', '.join(source.flavors) or 'none'}, and mlcli converts "
            f"{' and '.join(f for f in CONVERTIBLE if f in FLAVORS)} models"
        )
    native = load_native_model(model_uri, flavor, client=client, allow_pickle=allow_pickle)
    inputs = source.signature.inputs if source.signature else None
    if flavor == "sklearn":
        return sklearn_to_onnx(native, inputs), flavor
    return torch_to_onnx(native, inputs, _example_array(model_uri, source, client)), flavor


def sklearn_to_onnx(estimator: Any, inputs: Schema | None) -> Any:
    """skl2onnx's graph of ``estimator``, with inputs from its signature (see the
    module's docstring)."""
    skl2onnx = require("skl2onnx", "converting a scikit-learn model to ONNX")
    initial_types = _sklearn_inputs(estimator, inputs)
    options: dict[int, dict[str, Any]] | None = None
    if hasattr(estimator, "predict_proba"):  # probabilities as a tensor, not ZipMap's dicts
        options = {id(estimator): {"zipmap": False}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return skl2onnx.convert_sklearn(estimator, initial_types=initial_types, options=options)
    except (RuntimeError, ValueError, TypeError, NotImplementedError, KeyError) as exc:
        raise InvalidInputError(
            f"skl2onnx cannot convert this {type(estimator).__name__}: {_first_line(exc)}"
        ) from None


def _sklearn_inputs(estimator: Any, inputs: Schema | None) -> list[tuple[str, Any]]:
    types = require("skl2onnx.common.data_types", "converting a scikit-learn model to ONNX")
    if inputs is not None and inputs.is_tensor:
        spec = inputs.specs[0]
        assert isinstance(spec, TensorSpec)
        if len(inputs.specs) == 1:
            tensor = _tensor_type(types, spec.dtype)
            return [("input", tensor([None, *(d if d > 0 else None for d in spec.shape[1:])]))]
        raise InvalidInputError("cannot convert a scikit-learn model that takes several tensors")
    columns = [s for s in inputs.specs if isinstance(s, ColSpec)] if inputs is not None else []
    if columns and any(c.type not in _NUMERIC_COLUMNS for c in columns):
        return [(str(c.name), _column_type(types, c)([None, 1])) for c in columns]
    width = len(columns) or getattr(estimator, "n_features_in_", None)
    if not width:
        raise InvalidInputError(
            "cannot tell how many features the model takes: it has no signature and no "
            "n_features_in_"
        )
    return [("input", types.FloatTensorType([None, int(width)]))]


def _tensor_type(types: Any, dtype: str) -> Any:
    kinds = {
        "float32": types.FloatTensorType,
        "float64": types.DoubleTensorType,
        "int64": types.Int64TensorType,
        "int32": types.Int32TensorType,
        "bool": types.BooleanTensorType,
    }
    if dtype not in kinds:
        raise InvalidInputError(f"cannot convert a model that takes {dtype} tensors to ONNX")
    return kinds[dtype]


def _column_type(types: Any, column: ColSpec) -> Any:
    if column.type == "string":
        return types.StringTensorType
    if column.type in ("integer", "long"):
        return types.Int64TensorType
    if column.type in ("float", "double"):
        return types.FloatTensorType
    if column.type == "boolean":
        return types.BooleanTensorType
    raise InvalidInputError(f"cannot convert a model with a {column.type} column to ONNX")


def torch_to_onnx(module: Any, inputs: Schema | None, example: Any) -> Any:
    """torch.onnx's graph of ``module``, traced on zeros shaped as ``inputs`` (or as
    ``example``); a -1 dimension of the signature stays free."""
    torch = require("torch", "converting a PyTorch model to ONNX")
    onnx = require("onnx", "converting a PyTorch model to ONNX")
    shape, dtype = _torch_input(inputs, example)
    free = {i: f"dim{i}" for i, d in enumerate(shape) if d == -1}
    zeros = torch.zeros([1 if d == -1 else d for d in shape], dtype=getattr(torch, dtype))
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation
            torch.onnx.export(
                module,
                (zeros,),
                buffer,
                dynamo=False,  # the torch.export-based exporter needs onnxscript
                training=torch.onnx.TrainingMode.PRESERVE,  # an exported program cannot train()
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": free, "output": {0: "dim0"}} if 0 in free else None,
            )
    except (RuntimeError, ValueError, TypeError, NotImplementedError) as exc:
        raise InvalidInputError(
            f"torch.onnx cannot export this {type(module).__name__}: {_first_line(exc)}"
        ) from None
    return onnx.load_model_from_string(buffer.getvalue())


def _torch_input(inputs: Schema | None, example: Any) -> tuple[list[int], str]:
    if inputs is not None and inputs.is_tensor and len(inputs.specs) == 1:
        spec = inputs.specs[0]
        assert isinstance(spec, TensorSpec)
        if spec.dtype not in _TORCH_DTYPES:
            raise InvalidInputError(f"cannot convert a model that takes {spec.dtype} tensors")
        return list(spec.shape), _TORCH_DTYPES[spec.dtype]
    if inputs is not None and not inputs.is_tensor:  # a DataFrame goes in as float32
        return [-1, len(inputs.specs)], "float32"
    if example is not None:
        return [-1, *example.shape[1:]], _TORCH_DTYPES.get(str(example.dtype), "float32")
    raise InvalidInputError(
        "cannot tell the shape of the model's input: convert a PyTorch model logged with a "
        "signature (one tensor) or an input example"
    )


def _example_array(model_uri: str, source: Model, client: TrackingClient | None) -> Any:
    from mlcli.models.input_example import load_input_example

    if source.saved_input_example_info is None:
        return None
    directory = resolve_model_uri(model_uri, client=client).directory
    example = load_input_example(directory, source.saved_input_example_info)
    np = require("numpy", "converting a PyTorch model to ONNX")
    return np.asarray(example) if isinstance(example, list | np.ndarray) else None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__
