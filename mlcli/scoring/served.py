"""The model a server answers with, and what ``/metadata`` says about it.

A :class:`ServedModel` is immutable: the server holds a reference to the current one
and a request keeps the reference it started with, so swapping in a new version
(``--watch``) never changes a model under a request that is using it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlcli.scoring.origin import ModelOrigin, locate_model

if TYPE_CHECKING:
    from mlcli.client import MlcliClient
    from mlcli.models.pyfunc_model import PyFuncModel


@dataclass(frozen=True)
class ServedModel:
    origin: ModelOrigin
    model: PyFuncModel
    loaded_at: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat())

    @property
    def version_header(self) -> bytes | None:
        """The ``x-mlcli-model-version`` response header, for registered models."""
        version = self.origin.version
        return None if version is None else str(version).encode()

    def metadata(self) -> dict[str, Any]:
        """The body of ``GET /metadata``."""
        from mlcli.version import __version__

        meta = self.model.metadata
        signature = meta.signature
        return {
            **self.origin.to_dict(),
            "flavors": meta.flavors,
            "signature": None if signature is None else _parsed(signature.to_dict()),
            "input_example": self.serving_input_example(),
            "model_uuid": meta.model_uuid or None,
            "utc_time_created": meta.utc_time_created,
            "loaded_at": self.loaded_at,
            "mlcli_version": __version__,
        }

    def warm_up(self) -> None:
        """Predict the input example once, so that the first request does not pay for
        lazy imports and caches (30 ms for a scikit-learn pipeline). Best effort."""
        import contextlib
        import warnings

        example = self.serving_input_example()
        if example is None:
            return
        from mlcli.scoring.protocol import encode, score

        # a model that fails on its own example fails on requests too: they will say so
        with warnings.catch_warnings(), contextlib.suppress(Exception):
            warnings.simplefilter("ignore")
            score(self.model, encode(example), "json")

    def serving_input_example(self) -> Any:
        """The saved example as a request body ready to POST, or None."""
        info = self.model.metadata.saved_input_example_info or {}
        name = info.get("serving_input_path")
        if not name:
            return None
        try:
            return json.loads((self.model.model_dir / name).read_text())
        except (OSError, ValueError):
            return None


def load_served_model(uri: str, client: MlcliClient) -> ServedModel:
    """Locate (pinning a stage or alias to its version) and load the model."""
    from mlcli.errors import EnvironmentFailure, MlcliError
    from mlcli.models.pyfunc_model import load_model
    from mlcli.models.uri import LocalModelUri
    from mlcli.scoring.protocol import one_line

    origin = locate_model(uri, client)
    try:
        model = load_model(LocalModelUri(origin.directory), client=client)
    except MlcliError:
        raise
    except Exception as exc:  # a corrupt file, a class that no longer imports...
        version = "" if origin.version is None else f" (version {origin.version})"
        raise EnvironmentFailure(f"cannot load the model {uri}{version}: {one_line(exc)}") from exc
    served = ServedModel(origin, model)
    served.warm_up()
    return served


def _parsed(signature: dict[str, str | None]) -> dict[str, Any]:
    return {key: None if text is None else json.loads(text) for key, text in signature.items()}
