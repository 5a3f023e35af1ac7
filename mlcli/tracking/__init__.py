"""Tracking: the explicit ``TrackingClient`` and the fluent API built on it."""

from mlcli.tracking.client import TrackingClient

MlcliClient = TrackingClient

__all__ = ["MlcliClient", "TrackingClient"]
