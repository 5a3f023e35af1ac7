"""A wheel of the running mlcli: see :mod:`mlcli.selfwheel` (its home, shared with models)."""

from mlcli.selfwheel import SelfWheel, build_self_wheel

__all__ = ["SelfWheel", "build_self_wheel"]
