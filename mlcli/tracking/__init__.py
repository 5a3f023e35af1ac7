"""Tracking: the explicit ``TrackingClient`` and the fluent API built on it."""

from mlcli.tracking.client import TrackingClient

__all__ = ["TrackingClient"]
