"""Where an MLflow artifact URI's files are on this machine, if anywhere."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse


def local_folder(uri: str | None, *fallbacks: Path) -> Path | None:
    """The local folder ``uri`` names (``file:///...`` or a path), else the first
    fallback that exists (a store copied from another machine keeps its absolute
    URIs), else None."""
    for candidate in (_path_of(uri), *fallbacks):
        if candidate is not None and candidate.is_dir():
            return candidate
    return None


def _path_of(uri: str | None) -> Path | None:
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and uri.startswith("/"):
        return Path(uri)
    return None


def proxied_path(uri: str | None) -> str | None:
    """``mlflow-artifacts:/1/abc/artifacts`` -> ``1/abc/artifacts`` (where an ``mlflow
    server`` kept it, under its artifacts destination, ``./mlartifacts`` by default)."""
    if not uri or not uri.startswith("mlflow-artifacts:"):
        return None
    return unquote(urlparse(uri).path).lstrip("/") or None
