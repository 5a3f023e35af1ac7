"""The settings of one tracking server, as given on the command line.

They travel to uvicorn's worker processes (``--workers N``) as JSON in the
``MLCLI_SERVER_CONFIG`` environment variable, since each worker builds its own app;
the token itself does not travel: each worker reads the token file
(``mlcli.web.settings``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mlcli.web.settings import ServerSettings, require

CONFIG_VARIABLE = "MLCLI_SERVER_CONFIG"
DEFAULT_PORT = 5000
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_ARTIFACT_BYTES = 5 * 1024**3
DEFAULT_PRESIGNED_URL_EXPIRY = 3600  # of a presigned URL for one part of an upload
LOG_FORMATS = ("text", "json")  # of the access log (mlcli.web.log)


@dataclass(frozen=True)
class ServerConfig(ServerSettings):
    CONFIG_VARIABLE: ClassVar[str] = CONFIG_VARIABLE
    COMMAND: ClassVar[str] = "mlcli server"

    store: str  # the store's root (created before the server starts), or its bucket's URL
    index: str | None = None  # with a bucket: the PostgreSQL that holds the index
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = 1
    auth_token_file: str | None = None
    auth_db: str | None = None  # users and permissions (mlcli.tracking_server.auth)
    user_header: str | None = None  # a reverse proxy's header naming the signed-in user
    trusted_proxies: tuple[str, ...] = ()  # the addresses whose user_header is believed
    allow_unauthenticated: bool = False  # a network address without a token (see check_exposure)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # a JSON request
    max_artifact_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES  # one uploaded file
    # a bucket store: MLflow's clients told to upload large files straight to the bucket
    presigned_uploads: bool = False
    presigned_url_expiry: int = DEFAULT_PRESIGNED_URL_EXPIRY  # seconds
    access_log: bool = True
    log_format: str = "text"

    def __post_init__(self) -> None:
        checks = (
            (0 <= self.port <= 65535, f"--port must be 0-65535, not {self.port}"),
            (self.workers >= 1, f"--workers must be at least 1, not {self.workers}"),
            (self.max_body_bytes > 0, "--max-body-size must be positive"),
            (self.max_artifact_bytes > 0, "--max-artifact-size must be positive"),
            (
                1 <= self.presigned_url_expiry <= 7 * 24 * 3600,  # S3's longest
                "--presigned-url-expiry must be 1 second to 7 days",
            ),
            (
                not (self.auth_db and self.auth_token_file),
                "--auth-db and --auth-token-file exclude each other: give users tokens "
                "with 'mlcli auth tokens create'",
            ),
            (
                self.user_header is None or self.auth_db is not None,
                "--user-header needs --auth-db: the users it names are the auth database's",
            ),
            (
                self.user_header is None or bool(self.trusted_proxies),
                "--user-header needs --trusted-proxy ADDRESS: the proxy whose header is "
                "believed (any other client could send it too)",
            ),
            (
                self.log_format in LOG_FORMATS,
                f"--log-format must be text or json, not {self.log_format!r}",
            ),
        )
        require(checks)
