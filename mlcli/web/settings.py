"""What the settings of every mlcli server share: they are checked when made, travel
to uvicorn's worker processes (``--workers N``) as JSON in an environment variable
(each worker builds its own app), and name a token file that each worker reads
itself, so the token never travels."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from mlcli.errors import InvalidInputError

Settings = TypeVar("Settings", bound="ServerSettings")


class ServerSettings:
    """Base of a server's frozen settings dataclass: ``CONFIG_VARIABLE`` is the
    environment variable they travel in, ``COMMAND`` the command that starts it."""

    CONFIG_VARIABLE: ClassVar[str]
    COMMAND: ClassVar[str]
    auth_token_file: str | None

    def token(self) -> str | None:
        """The bearer token every request must carry, or None (no authentication)."""
        return None if self.auth_token_file is None else read_token(Path(self.auth_token_file))

    def to_json(self) -> str:
        fields: dict[str, Any] = asdict(self)  # type: ignore[call-overload]  # a dataclass
        return json.dumps(fields)

    @classmethod
    def from_environment(cls: type[Settings]) -> Settings:
        text = os.environ.get(cls.CONFIG_VARIABLE)
        if not text:
            raise InvalidInputError(
                f"{cls.CONFIG_VARIABLE} is not set: start servers with {cls.COMMAND}"
            )
        return cls(**json.loads(text))


def require(checks: Iterable[tuple[bool, str]]) -> None:
    """InvalidInputError with the message of the first check that does not hold."""
    for ok, message in checks:
        if not ok:
            raise InvalidInputError(message)


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
