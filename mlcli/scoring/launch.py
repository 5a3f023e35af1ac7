"""``serve(config)``: bind, load, and run the scoring app on uvicorn until SIGTERM.

One worker runs in this process, with the model loaded before the port opens (a bad
URI or a broken model is a one-line error, not a server that answers 503). With
``--workers N``, uvicorn's supervisor starts N processes sharing one socket; each
loads the model itself. SIGTERM or Ctrl-C stops accepting connections and lets the
requests in flight finish (up to ``timeout`` + 5 s) before exiting.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlcli.errors import EnvironmentFailure, InvalidInputError
from mlcli.models.uri import LocalModelUri, parse_model_uri
from mlcli.scoring.config import CONFIG_VARIABLE, ServeConfig
from mlcli.web.log import ServerLog
from mlcli.web.uvicorn_runner import bind_socket, check_exposure, clean_exit_server_class

if TYPE_CHECKING:
    from mlcli.client import MlcliClient
    from mlcli.projects.feedback import Feedback
    from mlcli.scoring.origin import ModelOrigin

FACTORY = "mlcli.scoring.app:app_from_environment"


def serve(
    config: ServeConfig,
    client: MlcliClient,
    log: ServerLog | None = None,
    feedback: Feedback | None = None,
) -> int:
    """Serve until stopped; returns the exit code (0 after a clean shutdown)."""
    from mlcli.scoring.origin import locate_model

    log = log or ServerLog()
    check_exposure(
        config.host,
        authenticated=config.token() is not None,  # a bad token file: an error right away
        allow_unauthenticated=config.allow_unauthenticated,
        exposes="use the model and read its metadata",
    )
    config = with_store(config, client)
    origin = locate_model(config.model_uri, client)
    if config.watch and not origin.movable:
        raise InvalidInputError(
            f"--watch follows a stage or an alias, and {config.model_uri} names neither: use "
            "models:/NAME@ALIAS, models:/NAME/STAGE or models:/NAME/latest"
        )
    if config.env_manager == "virtualenv":
        from mlcli.models.environment import check_environment_trusted
        from mlcli.models.trust import trust_for
        from mlcli.models.uri import store_root_of
        from mlcli.scoring.virtualenv import serve_in_virtualenv

        trust = trust_for(origin.directory, store_root=store_root_of(client))
        check_environment_trusted(origin.directory, trust)  # before anything is installed

        return serve_in_virtualenv(config, origin, feedback)
    return run_uvicorn(config, client, origin, log)


def with_store(config: ServeConfig, client: MlcliClient) -> ServeConfig:
    """The config with the store's root filled in (a team server's URL: its root is
    only a cache), when the URI needs a store, so that worker processes and virtualenvs
    find the same store."""
    from dataclasses import replace

    if config.store is not None or isinstance(parse_model_uri(config.model_uri), LocalModelUri):
        return config
    location = client.store.location
    on_server = location.startswith(("http://", "https://"))
    return replace(config, store=location if on_server else str(client.store.root))


def run_uvicorn(
    config: ServeConfig, client: MlcliClient, origin: ModelOrigin, log: ServerLog
) -> int:
    import uvicorn

    from mlcli.scoring.app import create_app
    from mlcli.scoring.served import load_served_model

    served = load_served_model(config.model_uri, client) if config.workers == 1 else None
    if served is not None:
        origin = served.origin
        app: Callable[..., Any] | str = create_app(
            config, client, served, log, token=config.token()
        )
    else:
        os.environ[CONFIG_VARIABLE] = config.to_json()
        app = FACTORY
    settings = uvicorn.Config(
        app,
        factory=served is None,
        workers=config.workers,
        log_level="warning",
        access_log=False,  # ours is cheaper and says more (mlcli.web.log)
        lifespan="on",
        timeout_graceful_shutdown=math.ceil(config.timeout) + 5,
        timeout_keep_alive=30,
    )
    sock = bind_socket(config.host, config.port)
    version = "" if origin.version is None else f" (version {origin.version})"
    host, port = sock.getsockname()[:2]
    where = f"[{host}]" if ":" in host else host
    log.info(
        f"serving {config.model_uri}{version} on http://{where}:{port} "
        f"with {config.workers} worker{'s' if config.workers > 1 else ''} (pid {os.getpid()})"
        + (f"; watching the registry every {config.watch_interval:g} s" if config.watch else "")
    )
    if config.workers == 1:
        clean_exit_server_class()(settings).run(sockets=[sock])
    else:
        from uvicorn.config import STARTUP_FAILURE
        from uvicorn.supervisors import Multiprocess

        supervisor = Multiprocess(settings, sockets=[sock])
        supervisor.run()
        if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
            raise EnvironmentFailure("a worker could not load the model (its error is above)")
    log.info("stopped")
    return 0
