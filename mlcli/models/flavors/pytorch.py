"""The ``pytorch`` flavor: a ``torch.nn.Module`` as a ``torch.export`` program (the
default), as TorchScript, or pickled whole on request.

The files are laid out as MLflow 3.18 lays them out, so that each loads the other's
models: everything lives in ``data/``, ``model.pt2`` for an exported program,
``model.pth`` (with ``pickle_module_info.txt``) for TorchScript and pickles.

- ``pt2`` (the default, as MLflow's): ``torch.export`` traces the module on the input
  example, which is required; a dimension that the signature leaves free (-1, the
  batch) stays free. Loading runs no pickled code: an archive mlcli did not write is
  checked record by record first (:mod:`mlcli.models.flavors.torch_archive`).
- ``torchscript``: ``torch.jit.script`` (a ``ScriptModule``, traced or scripted, is
  saved as it is). TorchScript is code, so an archive mlcli did not write loads only
  with the opt-in, as a pickle (MLflow's loader gates it as a pickle too).
- ``pickle``: ``torch.save`` of the whole module with cloudpickle, MLflow's
  ``serialization_format="pickle"``; it loads through :class:`ModelTrust`.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path
from typing import Any, ClassVar

from mlcli.errors import InvalidInputError
from mlcli.models.errors import UntrustedModelError
from mlcli.models.flavors.base import Flavor, SavedFlavor
from mlcli.models.mlmodel import PYFUNC, Model
from mlcli.models.packages import installed_version, require
from mlcli.models.signature import ModelSignature
from mlcli.models.trust import OPT_IN_HINT, ModelTrust, digest_of, read_model_file

FLAVOR_NAME = "pytorch"
SERIALIZATION_FORMATS = ("pt2", "torchscript", "pickle")
DEFAULT_SERIALIZATION_FORMAT = "pt2"
DATA_FOLDER = "data"
EXPORTED_FILE = "model.pt2"
SAVED_FILE = "model.pth"
PICKLE_MODULE_FILE = "pickle_module_info.txt"
# The module MLflow unpickles model.pth with; mlcli writes its name (MLflow imports it on
# load) but never imports a name read from a model: it unpickles with Python's pickle.
MLFLOW_PICKLE_MODULE = "mlflow.pytorch.pickle_module"


class PytorchFlavor(Flavor):
    name: ClassVar[str] = FLAVOR_NAME
    loader_modules: ClassVar[tuple[str, ...]] = ("mlflow.pytorch", "mlcli.pytorch")
    needs_input_example: ClassVar[bool] = True

    def accepts(self, model: object) -> bool:
        nn = sys.modules.get("torch.nn")  # loaded if model is a module
        return nn is not None and isinstance(model, nn.Module)

    def save(
        self,
        model: Any,
        directory: Path,
        *,
        input_example: Any = None,
        signature: ModelSignature | None = None,
        serialization_format: str = DEFAULT_SERIALIZATION_FORMAT,
    ) -> SavedFlavor:
        torch = require("torch", "saving a PyTorch model")
        if serialization_format not in SERIALIZATION_FORMATS:
            raise InvalidInputError(
                f"unknown serialization format {serialization_format!r}: expected one of "
                + ", ".join(SERIALIZATION_FORMATS)
            )
        if not isinstance(model, torch.nn.Module):
            raise InvalidInputError(f"a {type(model).__name__} is not a torch.nn.Module")
        data = directory / DATA_FOLDER
        data.mkdir()
        if serialization_format == "pt2":
            path = _export(torch, model, data, input_example, signature)
        else:
            path = _save_module(torch, model, data, serialization_format)
        flavors: dict[str, dict[str, Any]] = {
            PYFUNC: {
                "loader_module": "mlflow.pytorch",
                "data": DATA_FOLDER,
                "pickle_module_name": MLFLOW_PICKLE_MODULE,
                "config": {"device": None},
            },
            FLAVOR_NAME: {
                "model_data": DATA_FOLDER,
                "pytorch_version": str(torch.__version__),
                "code": None,
            },
        }
        needs = ["torch", *(["cloudpickle"] if serialization_format == "pickle" else [])]
        if installed_version("pandas"):
            needs.append("pandas")  # scoring requests are read with it
        predictor = PytorchPredictor(model, "cpu")
        digest = digest_of(read_model_file(path))
        return SavedFlavor(flavors, needs, predict=predictor.predict, digests=[digest])

    def code_files(self, *, directory: Path, mlmodel: Model) -> list[Path]:
        saved = _data_folder(directory, mlmodel) / SAVED_FILE
        return [saved] if saved.exists() else []

    def load_native(
        self,
        *,
        directory: Path,
        mlmodel: Model,
        trust: ModelTrust,
        device: str | None = None,
    ) -> Any:
        torch = require("torch", "loading a PyTorch model")
        folder = _data_folder(directory, mlmodel)
        saved = folder / SAVED_FILE
        if saved.exists():
            model = _load_saved(torch, saved, trust)
            model.eval()
            return model.to(device) if device else model
        model = _load_exported(torch, folder / EXPORTED_FILE, trust)
        return model

    def load_pyfunc(
        self,
        *,
        directory: Path,
        mlmodel: Model,
        trust: ModelTrust,
        model_config: dict[str, Any] | None = None,
    ) -> PytorchPredictor:
        torch = require("torch", "loading a PyTorch model")
        config = {**((mlmodel.pyfunc_conf or {}).get("config") or {}), **(model_config or {})}
        device = config.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
        model = self.load_native(directory=directory, mlmodel=mlmodel, trust=trust)
        if (_data_folder(directory, mlmodel) / SAVED_FILE).exists():
            model = model.to(device)
        return PytorchPredictor(model, device)


class PytorchPredictor:
    """A module behind ``PyFuncModel``, as MLflow's wrapper: a DataFrame goes in as
    float32, a numpy array as it is; the output tensor comes back as a numpy array, or
    as a DataFrame (with the input's index) for a DataFrame. ``params`` are keyword
    arguments of ``forward``."""

    def __init__(self, model: Any, device: str) -> None:
        self.model = model
        self.device = device

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import torch

        if params and "device" in params:
            raise InvalidInputError(
                "'device' is not a predict parameter: give it when loading the model, "
                "model_config={'device': 'cuda'}"
            )
        pandas = sys.modules.get("pandas")
        is_frame = pandas is not None and isinstance(data, pandas.DataFrame)
        if is_frame:
            array = data.to_numpy(dtype=np.float32)
        elif isinstance(data, np.ndarray):
            array = data if data.flags.writeable else data.copy()
        else:
            raise InvalidInputError(
                f"a PyTorch model predicts on a pandas DataFrame or a numpy array, "
                f"not a {type(data).__name__}"
            )
        with torch.no_grad():
            output = self.model(torch.from_numpy(array).to(self.device), **(params or {}))
        if not isinstance(output, torch.Tensor):
            raise InvalidInputError(
                f"the PyTorch model returned a {type(output).__name__}, not one tensor"
            )
        result = output.to("cpu").numpy()
        if pandas is not None and is_frame:
            return pandas.DataFrame(result, index=data.index)
        return result

    @property
    def raw_model(self) -> Any:
        return self.model


def _export(
    torch: Any, model: Any, folder: Path, example: Any, signature: ModelSignature | None
) -> Path:
    """Save ``model`` as ``torch.export`` traces it on ``example``; the dimensions left
    free (-1) by the signature's tensor spec (the batch, for an inferred one) stay free."""
    import numpy as np

    if isinstance(model, torch.jit.ScriptModule):
        raise InvalidInputError(
            "a TorchScript module cannot be exported as pt2: use serialization_format='torchscript'"
        )
    pandas = sys.modules.get("pandas")
    if isinstance(example, torch.Tensor):
        example = example.detach().cpu().numpy()
    elif pandas is not None and isinstance(example, pandas.DataFrame):
        example = example.to_numpy(dtype=np.float32)  # what predict gives the model
    if not isinstance(example, np.ndarray):
        raise InvalidInputError(
            "saving a PyTorch model as pt2 (the default) traces it on its input example: "
            "pass input_example= a numpy array, a tensor or a DataFrame of numbers, "
            "or use serialization_format='torchscript'"
        )
    free = _free_dimensions(signature, example.ndim)
    dim = torch.export.Dim
    dynamic = {index: dim.AUTO for index in free}
    training = model.training
    model.eval()  # what is saved predicts: dropout off, batch norm's running statistics
    try:
        program = torch.export.export(
            model, (torch.from_numpy(np.array(example)),), dynamic_shapes=[dynamic or None]
        )
    except Exception as exc:  # torch's tracer fails in many ways: one line, not its trace
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(
            f"torch.export could not trace the model on its input example: {first}; "
            "try serialization_format='torchscript'"
        ) from None
    finally:
        model.train(training)
    path = folder / EXPORTED_FILE
    torch.export.save(program, str(path))
    return path


def _free_dimensions(signature: ModelSignature | None, ndim: int) -> list[int]:
    inputs = signature.inputs if signature else None
    if inputs is None or not inputs.is_tensor or len(inputs.inputs) != 1:
        return [0] if ndim else []
    shape = getattr(inputs.inputs[0], "shape", None) or ()
    return [index for index, size in enumerate(shape) if size == -1]


def _save_module(torch: Any, model: Any, folder: Path, serialization_format: str) -> Path:
    (folder / PICKLE_MODULE_FILE).write_text(MLFLOW_PICKLE_MODULE)
    path = folder / SAVED_FILE
    if serialization_format == "torchscript" or isinstance(model, torch.jit.ScriptModule):
        if not isinstance(model, torch.jit.ScriptModule):
            try:
                model = torch.jit.script(model)
            except Exception as exc:  # the TorchScript compiler's error, in one line
                first = str(exc).strip().splitlines()[0]
                raise InvalidInputError(
                    f"torch.jit.script cannot compile the model ({first}); trace it with "
                    "torch.jit.trace and save the result, or use the pt2 format"
                ) from None
        torch.jit.save(model, str(path))
    else:
        pickler = require("cloudpickle", "saving a PyTorch model with pickle")
        torch.save(model, str(path), pickle_module=_CloudPickleModule(pickler))
    return path


class _CloudPickleModule:
    """What ``torch.save`` needs of a pickle module, pickling with cloudpickle (classes
    defined in ``__main__`` are stored by value), as MLflow's pickle module does."""

    def __init__(self, cloudpickle: Any) -> None:
        import pickle

        self.Pickler = cloudpickle.CloudPickler
        self.Unpickler = pickle.Unpickler
        self.__name__ = MLFLOW_PICKLE_MODULE


def _load_saved(torch: Any, path: Path, trust: ModelTrust) -> Any:
    """A ``model.pth``: TorchScript or a pickle, either only when trusted."""
    import pickle

    data = read_model_file(path)
    kind = "a TorchScript file" if _is_torchscript(data) else "a pickle file"
    data = trust.code_bytes(path, f"{kind} (PyTorch)")
    if kind == "a TorchScript file":
        return torch.jit.load(io.BytesIO(data), map_location="cpu")
    return torch.load(
        io.BytesIO(data), map_location="cpu", weights_only=False, pickle_module=pickle
    )


def _is_torchscript(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return False
    return any(
        name.split("/")[1:2] == ["code"] or name.endswith("/constants.pkl") for name in names
    )


def _load_exported(torch: Any, path: Path, trust: ModelTrust) -> Any:
    from mlcli.models.flavors.torch_archive import unsafe_reason

    data = read_model_file(path)
    if not trust.allow_pickle and not trust.is_recorded(digest_of(data)):
        reason = unsafe_reason(data)
        if reason is not None:
            raise UntrustedModelError(
                f"refusing to load {path}: {reason}, and mlcli did not write it; {OPT_IN_HINT}"
            )
    return torch.export.load(io.BytesIO(data)).module()


def _data_folder(directory: Path, mlmodel: Model) -> Path:
    conf = mlmodel.flavors.get(FLAVOR_NAME) or {}
    pyfunc = mlmodel.pyfunc_conf or {}
    folder = conf.get("model_data") or pyfunc.get("data")
    if not folder:
        raise InvalidInputError(f"{directory}/MLmodel does not say where the model's data is")
    return directory / folder
