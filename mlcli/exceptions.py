"""MLflow's ``mlflow.exceptions`` under mlcli's name.

``MlflowException`` is mlcli's base error class (``MlcliError``), so code written for
MLflow (``from mlflow.exceptions import MlflowException`` ... ``except
MlflowException``) catches every error mlcli raises on purpose, and reads its
``error_code`` (MLflow's names: ``RESOURCE_DOES_NOT_EXIST``, ``INVALID_PARAMETER_VALUE``,
...) and ``message`` as MLflow's.
"""

from __future__ import annotations

from mlcli.errors import InvalidInputError, MlcliError, NotFoundError

MlflowException = MlcliError

__all__ = ["InvalidInputError", "MlflowException", "NotFoundError"]
