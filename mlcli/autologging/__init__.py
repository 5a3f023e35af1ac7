"""Autologging: training code that logs itself.

``mlcli.autolog()`` turns on every integration whose library is installed (today:
scikit-learn, ``mlcli.autologging.sklearn``); ``mlcli.sklearn.autolog()`` turns on
one. See docs/capture.md.
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

#: integration name -> (the library's import name, the integration's module)
INTEGRATIONS: dict[str, tuple[str, str]] = {
    "sklearn": ("sklearn", "mlcli.autologging.sklearn"),
    "lightgbm": ("lightgbm", "mlcli.autologging.lightgbm"),
    "xgboost": ("xgboost", "mlcli.autologging.xgboost"),
    "keras": ("keras", "mlcli.autologging.keras"),
    "pytorch": ("lightning", "mlcli.autologging.pytorch"),
}

__all__ = ["INTEGRATIONS", "autolog"]


def autolog(
    log_models: bool = True,
    log_input_examples: bool = False,
    max_tuning_runs: int | None = 5,
    disable: bool = False,
) -> list[str]:
    """Turn autologging on (or off, ``disable=True``) for every integration whose
    library is installed; the names of those integrations. The options mean what
    they mean for :func:`mlcli.sklearn.autolog`."""
    enabled = []
    for name, (library, module) in INTEGRATIONS.items():
        if find_spec(library) is None:
            continue
        import_module(module).autolog(
            log_models=log_models,
            log_input_examples=log_input_examples,
            max_tuning_runs=max_tuning_runs,
            disable=disable,
        )
        enabled.append(name)
    return enabled
