"""``mlcli ui``: the web dashboard over the store."""

from __future__ import annotations

from typing import Annotated

import typer

from mlcli.cli.options import (
    AllowUnauthenticatedOption,
    AuthTokenFileOption,
    BackendStoreUriOption,
    ListenPortOption,
    MlflowHostOption,
    use_backend_store_uri,
)
from mlcli.cli.output import Output
from mlcli.cli.state import cli_state


def ui(
    ctx: typer.Context,
    host: MlflowHostOption = "127.0.0.1",
    port: ListenPortOption = 5005,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the dashboard in the default web browser.")
    ] = False,
    auth_token_file: AuthTokenFileOption = None,
    allow_unauthenticated: AllowUnauthenticatedOption = False,
    backend_store_uri: BackendStoreUriOption = None,
) -> None:
    """Serve a web dashboard of the store until Ctrl-C.

    Experiments, a runs table with filters, run pages with charts and artifacts,
    comparisons and the model registry. Read-only, except for promotions from the
    registry page, which go through the same gates and history as mlcli promote.
    Listens on 127.0.0.1 unless told; another --host needs --auth-token-file (or
    --allow-unauthenticated, when a firewall or proxy guards it).

    Example: mlcli ui --port 5005 --open
    """
    from mlcli.store import ServerStore
    from mlcli.ui.server import UiConfig, serve_ui

    use_backend_store_uri(ctx, backend_store_uri)
    state = cli_state(ctx)
    client = state.mlcli_client()
    if isinstance(client.store, ServerStore):  # the team server serves its own dashboard
        url = client.store.url + "/"
        Output().info(f"the team server serves the dashboard at {url} (sign in there)")
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        return
    config = UiConfig(
        host=host,
        port=port,
        open_browser=open_browser,
        auth_token_file=None if auth_token_file is None else str(auth_token_file),
        allow_unauthenticated=allow_unauthenticated,
    )
    out = Output()
    code = serve_ui(config, client, announce=out.info)
    if code:
        raise typer.Exit(code)
