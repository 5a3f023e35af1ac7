"""The errors of the models package, placed in mlcli's one tree (``mlcli/errors.py``).

InvalidInputError                      exit 2   HTTP 400
├── SchemaEnforcementError             input does not match the model's signature
├── ScoringInputError                  a payload in none of the scoring formats
└── UntrustedModelError                a model file that would run code nobody trusted
EnvironmentFailure                     exit 1
└── MissingDependencyError             an optional package (pandas, scikit-learn...) is missing
MlcliError                             exit 1
└── ModelValidationFailedError         evaluation thresholds failed
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from mlcli.errors import EnvironmentFailure, InvalidInputError, MlcliError

if TYPE_CHECKING:
    from mlcli.models.evaluation.result import ThresholdOutcome


class SchemaEnforcementError(InvalidInputError):
    """Model input (or params) that cannot be made to fit the model's signature."""

    error_class = "SCHEMA_ENFORCEMENT_FAILED"


class ScoringInputError(InvalidInputError):
    """A request body that is not valid JSON or CSV, or uses none of the known layouts."""

    error_code = "BAD_REQUEST"


class ModelPredictionError(InvalidInputError):
    """A model raised on the input of a scoring request (MLflow answers these with 400)."""

    error_code = "BAD_REQUEST"


class UntrustedModelError(InvalidInputError):
    """A model file that runs code when loaded (a pickle, a ``code/`` folder, a skops type
    outside mlcli's trust list) that mlcli did not write and the user did not trust."""

    error_code = "PERMISSION_DENIED"


class MissingDependencyError(EnvironmentFailure):
    """A package that mlcli does not depend on, but this model or operation needs."""


class ModelValidationFailedError(MlcliError):
    """One or more evaluation thresholds failed; the metrics were logged all the same.

    MLflow's ``ModelValidationFailedException``: the message has one line per failed
    metric, worded as MLflow words it. ``result`` is the candidate's evaluation result,
    ``validation`` the outcome of every threshold."""

    error_code = "BAD_REQUEST"

    def __init__(self, result: Any, validation: list[ThresholdOutcome] | None = None) -> None:
        self.result = result
        self.validation = list(result.validation if validation is None else validation)
        failed = [o.reason for o in self.validation if not o.passed]
        super().__init__(os.linesep.join(failed))

    def display(self) -> str:
        """The report the CLI prints: one line per threshold, failures marked."""
        failed = sum(not o.passed for o in self.validation)
        lines = [f"{failed} of {len(self.validation)} thresholds failed"]
        lines += [f"  {'FAIL' if not o.passed else 'ok  '}  {o.reason}" for o in self.validation]
        return "\n".join(lines)
