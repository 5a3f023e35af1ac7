"""The Docker SDK for Python, an optional dependency (the ``docker`` extra).

Only the docker environment of ``mlcli run`` and ``mlcli build-docker`` talk to a
Docker engine, so only they need the SDK (and the requests and urllib3 it brings).
Everyone else installs mlcli without it; these two ask for it here first, so that a
missing SDK is one line naming the extra rather than an ImportError from deep inside.
"""

from __future__ import annotations

from mlcli.errors import EnvironmentFailure

INSTALL_HINT = "pip install 'mlcli[docker]'"


def require_docker_sdk(needed_by: str) -> None:
    """Raise EnvironmentFailure, naming the extra, if the ``docker`` package is missing;
    ``needed_by`` says what wanted it ("the docker environment", "build-docker")."""
    try:
        import docker  # noqa: F401
    except ImportError:
        raise EnvironmentFailure(
            f"{needed_by} needs the Docker SDK for Python, which is not installed: {INSTALL_HINT}"
        ) from None
