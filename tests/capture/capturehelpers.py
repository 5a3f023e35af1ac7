"""Helpers of the capture tests: reading the store, building a tiny wheel offline."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from mlcli.store import Run
from mlcli.tracking import TrackingClient


def runs_in(store: Path) -> list[Run]:
    return TrackingClient(store).search_runs() if store.exists() else []


def only_run(store: Path) -> Run:
    runs = runs_in(store)
    assert len(runs) == 1, f"expected one run, found {len(runs)}"
    return runs[0]


def history(store: Path, run: Run, key: str) -> list[tuple[int, float]]:
    points = TrackingClient(store).get_metric_history(run.info.run_id, key)
    return [(m.step, m.value) for m in points]


def write_wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel of one module."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel
