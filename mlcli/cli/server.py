"""``mlcli server`` and ``mlcli import-mlflow``: the store for MLflow's clients, and
MLflow's stores into mlcli."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mlcli.cli.options import (
    AllowUnauthenticatedOption,
    AuthTokenFileOption,
    BackendStoreUriOption,
    JsonOption,
    ListenPortOption,
    MlflowHostOption,
    QuietOption,
    use_backend_store_uri,
)
from mlcli.cli.output import Output
from mlcli.cli.state import cli_state

if TYPE_CHECKING:
    from mlcli.store import Store


def server(
    ctx: typer.Context,
    host: MlflowHostOption = "127.0.0.1",
    port: ListenPortOption = 5000,
    workers: Annotated[
        int, typer.Option("--workers", "-w", help="Worker processes sharing the port.")
    ] = 1,
    auth_token_file: AuthTokenFileOption = None,
    auth_db: Annotated[
        str | None,
        typer.Option(
            "--auth-db",
            help="Users and permissions from this auth database (made by 'mlcli auth users "
            "add'): a SQLite file, or postgresql://user@host:port/db shared by several "
            "servers. Every request signs in with Basic or a personal token.",
        ),
    ] = None,
    user_header: Annotated[
        str | None,
        typer.Option(
            "--user-header",
            help="With --auth-db: believe this header (e.g. X-Forwarded-User) for who "
            "signed in, when the request comes from a --trusted-proxy (SSO at the proxy).",
        ),
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            help="The address of the reverse proxy whose --user-header is believed (repeatable).",
        ),
    ] = None,
    allow_unauthenticated: AllowUnauthenticatedOption = False,
    index: Annotated[
        str | None,
        typer.Option(
            "--index",
            help="With --store s3://bucket/prefix: keep the index (and points not yet "
            "flushed to the bucket) in this PostgreSQL, postgresql://user@host:port/db, so "
            "that several servers on several hosts serve one store with nothing on disk.",
        ),
    ] = None,
    max_body_size: Annotated[
        str,
        typer.Option("--max-body-size", help="Largest JSON request (e.g. 16MiB); 413 above."),
    ] = "16MiB",
    max_artifact_size: Annotated[
        str,
        typer.Option("--max-artifact-size", help="Largest uploaded artifact file; 413 above."),
    ] = "5GiB",
    presigned_uploads: Annotated[
        bool,
        typer.Option(
            "--presigned-uploads",
            help="With --index: tell MLflow's clients to upload large files straight to the "
            "bucket through presigned URLs (the clients must reach the bucket's endpoint).",
        ),
    ] = False,
    presigned_url_expiry: Annotated[
        int,
        typer.Option("--presigned-url-expiry", help="Seconds a presigned upload URL stays valid."),
    ] = 3600,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format", help="Access log on stderr: text lines, or json (one object a line)."
        ),
    ] = "text",
    backend_store_uri: BackendStoreUriOption = None,
    default_artifact_root: Annotated[
        str | None,
        typer.Option(
            "--default-artifact-root",
            "--artifacts-destination",
            hidden=True,
            help="MLflow's artifact location: mlcli keeps artifacts in the store (a notice).",
        ),
    ] = None,
    serve_artifacts: Annotated[
        bool,
        typer.Option(
            "--serve-artifacts/--no-serve-artifacts",
            hidden=True,
            help="MLflow's switch: mlcli always serves artifacts (proxied).",
        ),
    ] = True,
) -> None:
    """Serve the store over MLflow's REST API, so that `import mlflow` code logs into it.

    Point MLflow clients at it with MLFLOW_TRACKING_URI=http://HOST:PORT: experiments,
    runs, metrics, artifacts (proxied), logged models and the model registry all land
    in this store, where every mlcli command sees them. Listens on 127.0.0.1 unless
    told; another --host needs --auth-token-file or --auth-db (users and permissions,
    managed with 'mlcli auth'), or --allow-unauthenticated when a firewall or proxy
    guards it. One access line per request on stderr (--log-format json: one JSON
    object). Probes: GET /health, GET /ready; Prometheus: GET /metrics.

    Example: mlcli server --port 5000 & MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python train.py
    """
    from mlcli.files.fileio import sync_mode
    from mlcli.scoring.config import parse_size
    from mlcli.store import ignore_mlflow_tracking_uri
    from mlcli.tracking_server import ServerConfig, run_server
    from mlcli.tracking_server.auth.connection import resolved

    ignore_mlflow_tracking_uri()  # how MLflow's clients reach this server, not its store
    _mlflow_options(ctx, backend_store_uri, default_artifact_root, serve_artifacts)
    sync_mode()  # a bad MLCLI_SYNC is refused now, in one line, not at the first write
    config = ServerConfig(
        _served_location(ctx, index),
        index=index,
        host=host,
        port=port,
        workers=workers,
        auth_token_file=None if auth_token_file is None else str(auth_token_file),
        auth_db=None if auth_db is None else resolved(auth_db),
        user_header=user_header,
        trusted_proxies=tuple(trusted_proxy or ()),
        allow_unauthenticated=allow_unauthenticated,
        max_body_bytes=parse_size(max_body_size),
        max_artifact_bytes=parse_size(max_artifact_size),
        presigned_uploads=presigned_uploads,
        presigned_url_expiry=presigned_url_expiry,
        log_format=log_format,
    )
    code = run_server(config)
    if code:
        raise typer.Exit(code)


def import_mlflow(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="An MLflow file store (an mlruns folder or file: URI) or SQLite database "
            "(a file or sqlite:/// URI).",
        ),
    ],
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Copy an MLflow store's experiments, runs and registered models into this store.

    Runs keep their MLflow ids, with params, full metric histories, tags (mlflow.* as
    mlcli.*), artifacts and logged models; registered models keep their version
    numbers, stages, aliases and tags. Importing again adds only what is new. MLflow
    need not be installed.

    Example: mlcli import-mlflow ./mlruns && mlcli import-mlflow sqlite:///mlflow.db
    """
    from mlcli.errors import InvalidInputError
    from mlcli.mlflow_import import import_mlflow as run_import
    from mlcli.store import named_store

    target = cli_state(ctx).store or named_store() or ""
    if target.startswith(("http://", "https://")):  # runs keep their ids; a server chooses
        raise InvalidInputError(
            f"'mlcli import-mlflow' works on a store directory; {target} is a team server: "
            "run it on the server's host"
        )
    out = Output(json_mode=json_, quiet=quiet)
    client = cli_state(ctx).mlcli_client()
    with out.progress("importing runs") as progress:
        report = run_import(source, client, progress)
    for warning in report.warnings:
        out.warn(warning)
    if json_:
        out.json(report.to_dict())
        return
    out.info(
        f"Imported {report.runs_imported} run(s) ({report.runs_skipped} already here), "
        f"{report.metric_points} metric point(s), {report.artifact_files} artifact file(s), "
        f"{report.logged_models} logged model(s), {report.versions_imported} model version(s) "
        f"({report.versions_skipped} already here); created {report.experiments_created} "
        f"experiment(s) and {report.models_created} registered model(s)"
    )


def _mlflow_options(
    ctx: typer.Context, backend_store_uri: str | None, artifact_root: str | None, serve: bool
) -> None:
    """``mlflow server``'s options, as far as they mean something here: the backend
    store is the store to serve (a database is refused, saying how to bring its runs
    in); artifacts always live in the store and go through the server."""
    import sys

    from mlcli.errors import InvalidInputError

    if not serve:
        raise InvalidInputError(
            "--no-serve-artifacts: mlcli server always serves artifacts itself (MLflow's "
            "clients upload and download them through it); drop the option"
        )
    use_backend_store_uri(ctx, backend_store_uri)
    if artifact_root is not None:
        sys.stderr.write(
            f"mlcli: warning: artifacts are kept in the store and served by this server "
            f"(as MLflow's --serve-artifacts), not in {artifact_root}\n"
        )


def _served_location(ctx: typer.Context, index: str | None) -> str:
    """What the server serves: a store directory, or with ``--index`` a bucket."""
    if index is None:
        return str(_served_store(ctx).root)
    from mlcli.errors import InvalidInputError
    from mlcli.store import named_store
    from mlcli.tracking_server.auth.connection import POSTGRES_SCHEMES

    target = cli_state(ctx).store or named_store() or ""
    if not index.startswith(POSTGRES_SCHEMES):
        raise InvalidInputError("--index must be postgresql://user@host:port/database")
    if not target.startswith("s3://"):
        raise InvalidInputError(
            "--index needs --store s3://bucket/prefix (or MLCLI_STORE): the store's files go "
            "to the bucket, the index to PostgreSQL"
        )
    return target


def _served_store(ctx: typer.Context) -> Store:
    """The local store directory to serve: a team server serves its own files, not
    another server's, and not yet a mirror of object storage (its writes would stay in
    this host's cache)."""
    from mlcli.errors import InvalidInputError
    from mlcli.store import MirrorStore, file_store

    store = file_store(cli_state(ctx).client().writable_store(), "mlcli server")
    if isinstance(store, MirrorStore):
        raise InvalidInputError(
            f"mlcli server serves a store directory; {store.url} is on object storage: "
            "serve a local .mlruns (and 'mlcli push' it to the bucket for backups)"
        )
    return store
