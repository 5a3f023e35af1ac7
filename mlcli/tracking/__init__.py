"""Tracking: the explicit ``TrackingClient`` (the fluent API built on it is
``mlcli.fluent``)."""

from mlcli.tracking.client import TrackingClient

__all__ = ["TrackingClient"]
