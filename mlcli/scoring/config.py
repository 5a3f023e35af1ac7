"""The settings of one scoring server, as given on the command line.

They travel to uvicorn's worker processes (``--workers N``) as JSON in the
``MLCLI_SERVE_CONFIG`` environment variable, since each worker builds its own app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mlcli.errors import InvalidInputError
from mlcli.web.settings import ServerSettings, require

CONFIG_VARIABLE = "MLCLI_SERVE_CONFIG"
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024
ENV_MANAGERS = ("local", "virtualenv")


@dataclass(frozen=True)
class ServeConfig(ServerSettings):
    CONFIG_VARIABLE: ClassVar[str] = CONFIG_VARIABLE
    COMMAND: ClassVar[str] = "mlcli serve"

    model_uri: str
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    timeout: float = 60.0  # seconds one prediction may take before a 504
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    watch: bool = False
    watch_interval: float = 5.0  # seconds between two looks at the registry
    store: str | None = None  # the store root, for runs:/ and models:/ URIs
    access_log: bool = True
    env_manager: str = "local"
    auth_token_file: str | None = None  # requests must bear the token in this file
    allow_unauthenticated: bool = False  # a network address without a token (see check_exposure)

    def __post_init__(self) -> None:
        checks = (
            (0 <= self.port <= 65535, f"--port must be 0-65535, not {self.port}"),
            (self.workers >= 1, f"--workers must be at least 1, not {self.workers}"),
            (self.timeout > 0, f"--timeout must be positive, not {self.timeout}"),
            (self.max_body_bytes > 0, f"--max-body-size must be positive: {self.max_body_bytes}"),
            (self.watch_interval > 0, f"--watch-interval must be positive: {self.watch_interval}"),
            (
                self.env_manager in ENV_MANAGERS,
                f"unknown --env-manager {self.env_manager!r} (valid: {', '.join(ENV_MANAGERS)})",
            ),
        )
        require(checks)


def parse_size(text: str) -> int:
    """``100MB``, ``512KiB``, ``1G`` or a number of bytes, as an int."""
    units = {
        "": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2,
        "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3,
    }  # fmt: skip
    cleaned = text.strip().lower().replace(" ", "")
    number = cleaned.rstrip("kmgib")
    unit = cleaned[len(number) :]
    try:
        value = float(number)
    except ValueError:
        value = -1
    if unit not in units or value <= 0:
        raise InvalidInputError(f"invalid size {text!r}: use bytes or a unit, e.g. 100MB, 512KiB")
    return int(value * units[unit])
