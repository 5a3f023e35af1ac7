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
from mlcli.models.signature import ModelSignature


class Predictor(Protocol):
    """The implementation behind a python_function model."""

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any: ...


@dataclass
class SavedFlavor:
    """What :meth:`Flavor.save` wrote: the flavor sections for ``MLmodel`` (the
    python_function one without ``env`` and ``python_version``, which the caller adds),
    the distributions the model needs, how to run it on an input example so that the
    caller can infer the output schema, the sha256 of every serialized file it wrote
    (which the caller records as trusted: see :mod:`mlcli.models.trust`), and the
    signature the model declares itself (an ONNX graph's inputs and outputs), which the
    caller uses when it is given none."""

    flavors: dict[str, dict[str, Any]]
    requirements: list[str] = field(default_factory=list)
    predict: Callable[[Any], Any] | None = None
    digests: list[str] = field(default_factory=list)
    signature: ModelSignature | None = None


class Flavor(ABC):
    name: ClassVar[str]
    loader_modules: ClassVar[tuple[str, ...]]
    # whether save() takes the input example and the signature (``input_example=``,
    # ``signature=``): a flavor that traces the model on the example (pytorch's pt2)
    needs_input_example: ClassVar[bool] = False

    @abstractmethod
    def accepts(self, model: object) -> bool:
        """Whether ``model`` is an object this flavor saves."""

    @abstractmethod
    def save(self, model: Any, directory: Path, *args: Any, **options: Any) -> SavedFlavor:
        """Write the model's files into ``directory`` (which exists and is empty).
        ``options`` are the flavor's own keywords, which its override names."""

    @abstractmethod
    def load_pyfunc(self, *args: Any, **options: Any) -> Predictor:
        """The model as a Predictor, called with the keywords ``directory: Path``,
        ``mlmodel: Model``, ``trust: ModelTrust`` and the flavor's own options (which its
        override names, hence this open signature); every file that runs code goes
        through ``trust``."""

    def code_files(self, *, directory: Path, mlmodel: Model) -> list[Path]:
        """The files of the model that run code when loaded (pickles), which must be
        trusted before anything loads them (see :mod:`mlcli.models.trust`)."""
        return []

    @abstractmethod
    def load_native(self, *args: Any, **options: Any) -> Any:
        """The model as the object that was saved; called as :meth:`load_pyfunc` is."""
