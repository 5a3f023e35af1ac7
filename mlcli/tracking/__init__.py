"""Tracking: the explicit ``TrackingClient`` (the fluent API built on it is
``mlcli.fluent``).

``mlcli.tracking.MlflowClient`` is MLflow's name of mlcli's full client,
``MlcliClient`` (tracking and registry), so that ``from mlflow.tracking import
MlflowClient`` works with only the import changed. ``MlcliClient`` is built on this
package, so the name is looked up lazily, through ``mlcli``'s own lazy attributes,
rather than imported here.
"""

from typing import TYPE_CHECKING, Any

from mlcli.tracking.client import TrackingClient

if TYPE_CHECKING:
    from mlcli.client import MlcliClient as MlflowClient

__all__ = ["MlflowClient", "TrackingClient"]


def __getattr__(name: str) -> Any:
    if name == "MlflowClient":
        import mlcli

        return mlcli.MlcliClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
