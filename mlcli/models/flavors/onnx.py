"""The ``onnx`` flavor: ONNX graphs, run by onnxruntime.

A served ONNX model needs neither the framework it was trained with nor mlcli: its
requirements are ``onnx`` and ``onnxruntime`` (MLflow's, for ``mlflow models serve``).
The ``MLmodel`` sections are MLflow 3.18's: ``onnx`` names the file (``data``), the
``onnx_version``, the onnxruntime execution ``providers`` in order of preference
(MLflow's default: CUDA, then CPU) and the ``onnx_session_options``; ``python_function``
says ``loader_module: mlflow.onnx``, which mlcli maps back here.

Loading keeps the declared providers that this onnxruntime build has, in their order,
and runs on the CPU when it has none of them (with a warning). Prediction is MLflow's:
a dict of named arrays, an array for a single-input graph, or a DataFrame (its values
for a single input, a column per input otherwise); float64 is cast to float32 where the
graph takes floats; the answer is a dict of output arrays, or a DataFrame of them for a
DataFrame.

An ONNX file runs no Python when it loads, so there is nothing to trust before it does.
Without a signature, the graph's own inputs and outputs are the signature (tensor
specs; unnamed for a single input, as a single-input graph takes a bare array).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from mlcli.errors import InvalidInputError
from mlcli.models.flavors.base import Flavor, SavedFlavor
from mlcli.models.mlmodel import PYFUNC, Model
from mlcli.models.packages import require
from mlcli.models.signature import ModelSignature, Schema, TensorSpec
from mlcli.models.trust import ModelTrust, digest_of

FLAVOR_NAME = "onnx"
MODEL_FILE = "model.onnx"
DEFAULT_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")
CPU = "CPUExecutionProvider"
_EXECUTION_MODES = ("SEQUENTIAL", "PARALLEL")
_OPTIMIZATION_LEVELS = (0, 1, 2, 99)

_logger = logging.getLogger(__name__)


class OnnxFlavor(Flavor):
    name: ClassVar[str] = FLAVOR_NAME
    loader_modules: ClassVar[tuple[str, ...]] = ("mlflow.onnx", "mlcli.onnx")

    def accepts(self, model: object) -> bool:
        onnx = sys.modules.get("onnx")  # loaded if model is an ONNX graph
        return onnx is not None and isinstance(model, onnx.ModelProto)

    def save(
        self,
        model: Any,
        directory: Path,
        *,
        onnx_execution_providers: Sequence[Any] | None = None,
        onnx_session_options: Mapping[str, Any] | None = None,
        save_as_external_data: bool = True,
    ) -> SavedFlavor:
        onnx = require("onnx", "saving an ONNX model")
        if not isinstance(model, onnx.ModelProto):
            raise InvalidInputError(f"expected an onnx.ModelProto, got {type(model).__name__}")
        providers = _providers_to_save(onnx_execution_providers)
        options = _checked_session_options(onnx_session_options)
        path = directory / MODEL_FILE
        if save_as_external_data:  # onnx moves the weights of the proto it saves out of it
            model, given = onnx.ModelProto(), model
            model.CopyFrom(given)
        onnx.save_model(model, str(path), save_as_external_data=save_as_external_data)
        flavors: dict[str, dict[str, Any]] = {
            PYFUNC: {"loader_module": "mlflow.onnx", "data": MODEL_FILE},
            FLAVOR_NAME: {
                "code": None,
                "data": MODEL_FILE,
                "onnx_session_options": options,
                "onnx_version": onnx.__version__,
                "providers": providers,
            },
        }
        digests = [digest_of(p.read_bytes()) for p in sorted(directory.iterdir()) if p.is_file()]
        return SavedFlavor(
            flavors,
            ["onnx", "onnxruntime"],
            predict=lambda data: OnnxPredictor(str(path), [CPU], options).predict(data),
            digests=digests,
            signature=graph_signature(model),
        )

    def load_native(self, *, directory: Path, mlmodel: Model, trust: ModelTrust) -> Any:
        """The ``onnx.ModelProto``, checked by onnx's checker (as MLflow loads it)."""
        onnx = require("onnx", "loading an ONNX model")
        path = str(_model_file(directory, mlmodel))
        try:
            onnx.checker.check_model(path)
        except onnx.checker.ValidationError as exc:
            raise InvalidInputError(
                f"{path} is not a valid ONNX model: {_first_line(exc)}"
            ) from None
        return onnx.load(path)

    def load_pyfunc(self, *, directory: Path, mlmodel: Model, trust: ModelTrust) -> OnnxPredictor:
        conf = mlmodel.flavors.get(FLAVOR_NAME, {})
        providers = conf.get("providers") or list(DEFAULT_PROVIDERS)
        if isinstance(providers, str):
            providers = [providers]
        options = conf.get("onnx_session_options") or None
        return OnnxPredictor(str(_model_file(directory, mlmodel)), providers, options)


class OnnxPredictor:
    """An onnxruntime session behind ``PyFuncModel`` (see the module's docstring)."""

    def __init__(
        self, path: str, providers: Sequence[Any], options: Mapping[str, Any] | None = None
    ) -> None:
        ort = require("onnxruntime", "running an ONNX model")
        available = set(ort.get_available_providers())
        wanted = [tuple(p) if isinstance(p, list) else p for p in providers]
        usable = [p for p in wanted if _provider_name(p) in available]
        if not usable:
            _logger.warning(
                "none of the ONNX model's execution providers (%s) is in this onnxruntime "
                "build; running it on the CPU",
                ", ".join(str(_provider_name(p)) for p in wanted),
            )
            usable = [CPU]
        state = ort.capi.onnxruntime_pybind11_state
        try:
            self.session = ort.InferenceSession(
                path, sess_options=_session_options(ort, options), providers=usable
            )
        except (state.InvalidProtobuf, state.InvalidGraph, state.NoSuchFile) as exc:
            raise InvalidInputError(f"onnxruntime cannot load {path}: {_first_line(exc)}") from None
        self.inputs = [(i.name, i.type) for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        np = require("numpy", "running an ONNX model")
        pd = sys.modules.get("pandas")
        frame = pd is not None and isinstance(data, pd.DataFrame)
        if isinstance(data, Mapping):
            feeds = {name: np.asarray(value) for name, value in data.items()}
        elif frame:
            if len(self.inputs) == 1:
                feeds = {self.inputs[0][0]: data.to_numpy()}
            else:
                feeds = {name: data[name].to_numpy() for name, _ in self.inputs}
        elif isinstance(data, np.ndarray | list):
            if len(self.inputs) != 1:
                names = ", ".join(repr(name) for name, _ in self.inputs)
                raise InvalidInputError(
                    f"the ONNX model takes {len(self.inputs)} inputs ({names}): pass a dict of "
                    "arrays or a DataFrame with those columns, not a single array"
                )
            feeds = {self.inputs[0][0]: np.asarray(data)}
        else:
            raise InvalidInputError(
                f"an ONNX model takes a dict of arrays, an array or a DataFrame, "
                f"not {type(data).__name__}"
            )
        for name, kind in self.inputs:  # JSON numbers arrive as float64 (as MLflow casts)
            feed = feeds.get(name)
            if kind == "tensor(float)" and feed is not None and feed.dtype == np.float64:
                feeds[name] = feed.astype(np.float32)
        outputs = self.session.run(self.output_names, feeds)
        if frame:
            named = zip(self.output_names, outputs, strict=True)
            return pd.DataFrame({n: _column(np, v, len(data)) for n, v in named})  # type: ignore[union-attr]
        return dict(zip(self.output_names, outputs, strict=True))

    @property
    def raw_model(self) -> Any:
        """The onnxruntime InferenceSession (MLflow's ``get_raw_model``)."""
        return self.session


def _column(np: Any, output: Any, rows: int) -> Any:
    """An output as a DataFrame column: flat, as MLflow's; an output of a row per input
    row and more than one value in each (a classifier's probabilities), which MLflow
    cannot fit into a column, as a list per row."""
    array = np.asarray(output)
    if array.ndim > 1 and array.shape[0] == rows and array.size != rows:
        return list(array)
    return array.reshape(-1)


def graph_signature(model: Any) -> ModelSignature | None:
    """The graph's inputs and outputs as tensor specs (-1 for a dimension without a
    fixed size); None when an input is not a tensor (a sequence, a map); no outputs
    part when an output is not one (a classifier's ZipMap of probabilities)."""
    inputs = _tensor_specs(model.graph.input, model.graph.initializer)
    if inputs is None or not inputs:
        return None
    if len(inputs) == 1:  # a single-input graph takes a bare array: an unnamed spec
        inputs = [TensorSpec(inputs[0].dtype, inputs[0].shape)]
    outputs = _tensor_specs(model.graph.output, ())
    return ModelSignature(Schema(inputs), Schema(outputs) if outputs else None)


def _tensor_specs(values: Any, initializers: Any) -> list[TensorSpec] | None:
    helper = require("onnx.helper", "reading an ONNX graph")
    constants = {i.name for i in initializers}  # old exporters list weights as inputs
    specs = []
    for value in values:
        if value.name in constants:
            continue
        kind = value.type
        if kind.WhichOneof("value") != "tensor_type" or not kind.tensor_type.HasField("shape"):
            return None
        dtype = helper.tensor_dtype_to_np_dtype(kind.tensor_type.elem_type)
        shape = [d.dim_value if d.HasField("dim_value") else -1 for d in kind.tensor_type.shape.dim]
        specs.append(TensorSpec(dtype, shape, value.name))
    return specs


def _providers_to_save(providers: Sequence[Any] | None) -> list[Any]:
    if providers is None:
        return list(DEFAULT_PROVIDERS)
    if isinstance(providers, str) or not providers:
        raise InvalidInputError(
            "onnx_execution_providers must be a non-empty list of provider names "
            "(or (name, options) pairs), e.g. ['CPUExecutionProvider']"
        )
    return [list(p) if isinstance(p, tuple) else p for p in providers]


def _checked_session_options(options: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """MLflow's checks of ``onnx_session_options``, as one-line errors."""
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise InvalidInputError(
            f"onnx_session_options must be a dict, not {type(options).__name__}"
        )
    ort = require("onnxruntime", "checking onnx_session_options")
    for key, value in options.items():
        if key == "extra_session_config":
            if not isinstance(value, Mapping):
                raise InvalidInputError("onnx_session_options['extra_session_config'] is a dict")
        elif not hasattr(ort.SessionOptions, key):
            raise InvalidInputError(f"{key!r} is not an onnxruntime SessionOptions attribute")
        elif key == "execution_mode" and str(value).upper() not in _EXECUTION_MODES:
            raise InvalidInputError(f"execution_mode is 'sequential' or 'parallel', not {value!r}")
        elif key == "graph_optimization_level" and value not in _OPTIMIZATION_LEVELS:
            raise InvalidInputError(f"graph_optimization_level is 0, 1, 2 or 99, not {value!r}")
        elif key.endswith("_num_threads") and (not isinstance(value, int) or value < 0):
            raise InvalidInputError(f"{key} is a number of threads >= 0, not {value!r}")
    return dict(options)


def _session_options(ort: Any, options: Mapping[str, Any] | None) -> Any:
    """onnxruntime's SessionOptions from MLmodel's ``onnx_session_options`` (the keys
    MLflow reads)."""
    session = ort.SessionOptions()
    options = options or {}
    for key in ("inter_op_num_threads", "intra_op_num_threads"):
        if options.get(key):
            setattr(session, key, int(options[key]))
    mode = str(options.get("execution_mode") or "").upper()
    if mode in _EXECUTION_MODES:
        session.execution_mode = getattr(ort.ExecutionMode, f"ORT_{mode}")
    if options.get("graph_optimization_level"):
        level = ort.GraphOptimizationLevel(options["graph_optimization_level"])
        session.graph_optimization_level = level
    for key, value in (options.get("extra_session_config") or {}).items():
        session.add_session_config_entry(key, value)
    return session


def _provider_name(entry: Any) -> str | None:
    if isinstance(entry, list | tuple):
        entry = entry[0] if entry else None
    return entry if isinstance(entry, str) else None


def _model_file(directory: Path, mlmodel: Model) -> Path:
    conf = mlmodel.flavors.get(FLAVOR_NAME) or {}
    name = conf.get("data") or (mlmodel.pyfunc_conf or {}).get("data") or MODEL_FILE
    return directory / name


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
