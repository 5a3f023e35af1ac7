"""``PyFuncModel``: any model behind one interface, ``predict(data, params=None)``.

``load_model(uri)`` reads ``MLmodel``, finds the flavor through the python_function
``loader_module`` (MLflow's names included), loads the implementation and wraps it.
``predict`` enforces the signature first: the model sees input of the types it was
trained on, and bad input fails with a :class:`SchemaEnforcementError` naming the
column, never deep inside the model.

Loading never runs code nobody trusted: pickles and ``code/`` folders go through
:mod:`mlcli.models.trust` (files mlcli wrote, or ``allow_pickle=True``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcli.models.code_paths import add_code_to_sys_path, checked_code, code_folder_of
from mlcli.models.enforcement import enforce_params, enforce_schema
from mlcli.models.flavors import Predictor, pyfunc_flavor_of
from mlcli.models.input_example import load_input_example
from mlcli.models.mlmodel import Model
from mlcli.models.signature import ModelSignature
from mlcli.models.trust import ModelTrust, trust_for
from mlcli.models.uri import ModelUri, resolve_model_uri

if TYPE_CHECKING:
    from mlcli.models.registry_link import RegistryLink
    from mlcli.tracking import TrackingClient


class PyFuncModel:
    """A loaded model: its ``MLmodel`` metadata and its implementation."""

    def __init__(self, metadata: Model, implementation: Predictor, directory: Path) -> None:
        self.metadata = metadata
        self.implementation = implementation
        self.model_dir = directory

    @property
    def signature(self) -> ModelSignature | None:
        return self.metadata.signature

    @property
    def input_example(self) -> Any:
        return load_input_example(self.model_dir, self.metadata.saved_input_example_info)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """The model's output for ``data``, after enforcing the signature's input schema
        and params schema, when the model has them."""
        data, params = self._prepare(data, params)
        return self.implementation.predict(data, params=params)

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities, or None when the model does not give them."""
        method = getattr(self.implementation, "predict_proba", None)
        if method is None:
            return None
        return method(self._prepare(data, None)[0])

    @property
    def classes(self) -> list[Any] | None:
        """The class labels in the order of ``predict_proba``'s columns, if known."""
        return getattr(self.implementation, "classes", None)

    def get_raw_model(self) -> Any:
        """The underlying object: the estimator, or the custom PythonModel."""
        return getattr(self.implementation, "raw_model", self.implementation)

    def unwrap_python_model(self) -> Any:
        """The custom PythonModel instance (MLflow's name for it)."""
        return self.implementation.python_model  # type: ignore[attr-defined]

    def _prepare(self, data: Any, params: dict[str, Any] | None) -> tuple[Any, Any]:
        signature = self.metadata.signature
        if signature is None:
            return data, params
        if signature.inputs is not None:
            data = enforce_schema(data, signature.inputs)
        return data, enforce_params(params, signature.params)

    def __repr__(self) -> str:
        flavors = ", ".join(self.metadata.flavors)
        return f"<PyFuncModel {self.model_dir} flavors=[{flavors}]>"


def load_model(
    model_uri: str | ModelUri,
    *,
    client: TrackingClient | None = None,
    registry: RegistryLink | None = None,
    allow_pickle: bool = False,
    **options: Any,
) -> PyFuncModel:
    """Load the model at ``model_uri`` (a path, ``runs:/`` or ``models:/`` URI) as a
    PyFuncModel. ``allow_pickle=True`` trusts its pickles and code even when mlcli did
    not write them (only for models from a source you trust). ``options`` go to the
    flavor's loader (``skops_trusted_types`` for sklearn, ``model_config`` for custom
    models)."""
    resolved = resolve_model_uri(model_uri, client=client, registry=registry)
    directory = resolved.directory
    trust = trust_for(directory, store_root=resolved.store_root, allow_pickle=allow_pickle)
    metadata = Model.load(directory)
    flavor = pyfunc_flavor_of(metadata, str(resolved.uri))
    _add_code_paths(directory, [metadata.pyfunc_conf], trust)
    implementation = flavor.load_pyfunc(
        directory=directory, mlmodel=metadata, trust=trust, **options
    )
    return PyFuncModel(metadata, implementation, directory)


def load_native_model(
    model_uri: str | ModelUri,
    flavor_name: str,
    *,
    client: TrackingClient | None = None,
    registry: RegistryLink | None = None,
    allow_pickle: bool = False,
    **options: Any,
) -> Any:
    """The model as the object its flavor saved (``mlcli.sklearn.load_model``)."""
    from mlcli.errors import InvalidInputError
    from mlcli.models.flavors import get_flavor

    resolved = resolve_model_uri(model_uri, client=client, registry=registry)
    metadata = Model.load(resolved.directory)
    if flavor_name not in metadata.flavors:
        raise InvalidInputError(
            f"the model at {resolved.uri} has no {flavor_name} flavor "
            f"(it has: {', '.join(metadata.flavors) or 'none'})"
        )
    flavor = get_flavor(flavor_name)
    trust = trust_for(resolved.directory, store_root=resolved.store_root, allow_pickle=allow_pickle)
    _add_code_paths(resolved.directory, [metadata.flavors[flavor_name]], trust)
    return flavor.load_native(
        directory=resolved.directory, mlmodel=metadata, trust=trust, **options
    )


def check_trusted(directory: Path, trust: ModelTrust) -> list[str]:
    """Check, without loading anything, that the python_function model in ``directory``
    would load under ``trust``: UntrustedModelError otherwise. Returns the digests of
    its files that ``trust`` vouches for by a record (all of them: pickles, skops files,
    the rest), which a container image carries as its own records."""
    from mlcli.models.trust import digest_of, read_model_file

    metadata = Model.load(directory)
    flavor = pyfunc_flavor_of(metadata, str(directory))
    code_folder = code_folder_of(directory, [metadata.pyfunc_conf])
    if code_folder is not None:
        checked_code(code_folder, trust)
    for path in flavor.code_files(directory=directory, mlmodel=metadata):
        what = "a Python file" if path.suffix == ".py" else "a pickle file"
        trust.code_bytes(path, what)
    recorded = set()
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest = digest_of(read_model_file(path))
            if trust.is_recorded(digest):
                recorded.add(digest)
    return sorted(recorded)


def _add_code_paths(directory: Path, confs: list[dict[str, Any] | None], trust: ModelTrust) -> None:
    """A model saved with ``code_paths`` carries modules in ``code/``; like MLflow, put
    that folder first on ``sys.path`` so that the model can import them, once they are
    trusted (a module there could shadow any package imported later): see
    :mod:`mlcli.models.code_paths`."""
    folder = code_folder_of(directory, confs)
    if folder is not None:
        add_code_to_sys_path(folder, trust)
