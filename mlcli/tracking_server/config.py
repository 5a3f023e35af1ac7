"""The settings of one tracking server, as given on the command line.

They travel to uvicorn's worker processes (``--workers N``) as JSON in the
``MLCLI_SERVER_CONFIG`` environment variable, since each worker builds its own app;
the token itself does not travel: each worker reads the token file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from mlcli.errors import InvalidInputError

CONFIG_VARIABLE = "MLCLI_SERVER_CONFIG"
DEFAULT_PORT = 5000
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_ARTIFACT_BYTES = 5 * 1024**3


@dataclass(frozen=True)
class ServerConfig:
    store: str  # the store's root (created before the server starts)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = 1
    auth_token_file: str | None = None
    allow_unauthenticated: bool = False  # a network address without a token (see check_exposure)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # a JSON request
    max_artifact_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES  # one uploaded file
    access_log: bool = True

    def __post_init__(self) -> None:
        checks = (
            (0 <= self.port <= 65535, f"--port must be 0-65535, not {self.port}"),
            (self.workers >= 1, f"--workers must be at least 1, not {self.workers}"),
            (self.max_body_bytes > 0, "--max-body-size must be positive"),
            (self.max_artifact_bytes > 0, "--max-artifact-size must be positive"),
        )
        for ok, message in checks:
            if not ok:
                raise InvalidInputError(message)

    def token(self) -> str | None:
        """The bearer token every request must carry, or None (no authentication)."""
        return None if self.auth_token_file is None else read_token(Path(self.auth_token_file))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_environment(cls) -> ServerConfig:
        text = os.environ.get(CONFIG_VARIABLE)
        if not text:
            raise InvalidInputError(
                f"{CONFIG_VARIABLE} is not set: start servers with mlcli server"
            )
        return cls(**json.loads(text))


def read_token(path: Path) -> str:
    """The token in ``path`` (its first line, without surrounding whitespace)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"--auth-token-file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"--auth-token-file {path}: cannot read it ({exc})") from None
    lines = text.strip().splitlines()
    token = lines[0].strip() if lines else ""
    if len(token) < 16:
        raise InvalidInputError(
            f"--auth-token-file {path}: the token must be at least 16 characters "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if not token.isprintable() or " " in token:
        raise InvalidInputError(f"--auth-token-file {path}: the token may not contain spaces")
    return token
