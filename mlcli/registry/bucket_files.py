"""A registered version's files in a team store's bucket, at
``models/<name>/versions/<n>/artifacts/<path>`` (``mlcli.store.sync.keys``), and the
private local cache they are downloaded into once.

The cache lives under ``$XDG_CACHE_HOME/mlcli/team-registry/<hash of the bucket URL>/``,
one folder per version named by its number and creation time (a model deleted and made
again never finds the old files); a version is downloaded into a temporary folder and
renamed into place, so a folder that is there is whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path

from mlcli.files.fileio import create_temp_dir
from mlcli.files.trees import Tree
from mlcli.objects import ObjectStore
from mlcli.objects.keys import check_key
from mlcli.store import private_cache
from mlcli.store.sync.keys import name_part, version_artifact_key


def upload(objects: ObjectStore, name: str, version: int, tree: Tree) -> None:
    """Every file of ``tree`` to the version's keys."""
    for item in tree.files:
        objects.upload_file(version_artifact_key(name, version, item.relative), item.path)


def remove(objects: ObjectStore, name: str, version: int) -> None:
    """Every object of the version (none is fine)."""
    prefix = version_artifact_key(name, version, "")
    for found in list(objects.list(prefix)):
        objects.delete(found.key)


def cache_root(objects: ObjectStore) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    digest = hashlib.sha256(objects.url.encode()).hexdigest()[:16]
    return Path(base).expanduser() / "mlcli" / "team-registry" / digest


def cached_copy(objects: ObjectStore, name: str, version: int, created: int) -> Path:
    """The version's files in the cache, downloaded the first time."""
    root = cache_root(objects)
    private_cache(root)
    target = root / name_part(name) / f"{version}-{created}"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = create_temp_dir(target)
    try:
        _download(objects, name, version, staging)
        try:
            os.rename(staging, target)
        except OSError:
            if not target.is_dir():  # another process won the race: its copy is whole too
                raise
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
    return target


def _download(objects: ObjectStore, name: str, version: int, destination: Path) -> None:
    prefix = version_artifact_key(name, version, "")
    for found in objects.list(prefix):
        local = destination / check_key(found.key[len(prefix) :])
        local.parent.mkdir(parents=True, exist_ok=True)
        objects.download_file(found.key, local, found.size)
