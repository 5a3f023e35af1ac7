"""``PythonModel``: the base class of custom models (``mlcli.pyfunc.PythonModel``).

Subclass it, implement :meth:`PythonModel.predict`, and read any files the model needs
in :meth:`PythonModel.load_context` from ``context.artifacts``, which maps the names
given to ``log_model(artifacts={name: path})`` to the files' paths inside the model::

    class AddN(mlcli.pyfunc.PythonModel):
        def load_context(self, context):
            self.n = float(open(context.artifacts["n"]).read())

        def predict(self, context, model_input, params=None):
            return model_input["x"] + self.n

The instance is stored with cloudpickle: its class is stored by reference when it is
importable (defined in a module), by value when defined in ``__main__``. This module
is always stored by value, so that a model whose class is defined in ``__main__``
loads without mlcli installed (MLflow's ``mlflow.pyfunc.load_model`` loads it with its
own loader): nothing here may import mlcli.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any


@dataclass(frozen=True)
class PythonModelContext:
    """What a custom model gets at load time: its artifacts' local paths, and an
    optional configuration mapping."""

    artifacts: Mapping[str, str] = field(default_factory=dict)
    model_config: Mapping[str, Any] = field(default_factory=dict)


class PythonModel(ABC):
    """A custom model; see the module docstring."""

    @property
    def predict_type_hints(self) -> Any:
        """What MLflow's loader asks of a model before calling ``predict``: this base class
        declares no type hints, so inputs reach ``predict`` as they come."""
        return SimpleNamespace(input=None, output=None)

    def load_context(self, context: PythonModelContext) -> None:  # noqa: B027 (optional hook)
        """Prepare the model after loading (read artifacts); does nothing by default."""

    @abstractmethod
    def predict(
        self, context: PythonModelContext, model_input: Any, params: dict[str, Any] | None = None
    ) -> Any:
        """The model's output for ``model_input`` (a DataFrame when the model has a
        column signature)."""
