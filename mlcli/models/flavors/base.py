"""What a flavor is: how one kind of model is saved into a directory and loaded back.

A flavor writes its files and its section of ``MLmodel`` (:meth:`Flavor.save`), and
loads a model either natively (the estimator itself) or as a :class:`Predictor`, the
object behind ``PyFuncModel.predict``. ``loader_modules`` lists the ``loader_module``
values of the ``python_function`` section that this flavor loads, MLflow's included.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from mlcli.models.mlmodel import Model


class Predictor(Protocol):
    """The implementation behind a python_function model."""

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any: ...


@dataclass
class SavedFlavor:
    """What :meth:`Flavor.save` wrote: the flavor sections for ``MLmodel`` (the
    python_function one without ``env`` and ``python_version``, which the caller adds),
    the distributions the model needs, and how to run it on an input example so that the
    caller can infer the output schema."""

    flavors: dict[str, dict[str, Any]]
    requirements: list[str] = field(default_factory=list)
    predict: Callable[[Any], Any] | None = None


class Flavor(ABC):
    name: ClassVar[str]
    loader_modules: ClassVar[tuple[str, ...]]

    @abstractmethod
    def accepts(self, model: object) -> bool:
        """Whether ``model`` is an object this flavor saves."""

    @abstractmethod
    def save(self, model: Any, directory: Path, **options: Any) -> SavedFlavor:
        """Write the model's files into ``directory`` (which exists and is empty)."""

    @abstractmethod
    def load_pyfunc(self, *, directory: Path, mlmodel: Model, **options: Any) -> Predictor:
        """The model as a Predictor."""

    @abstractmethod
    def load_native(self, *, directory: Path, mlmodel: Model, **options: Any) -> Any:
        """The model as the object that was saved."""
