"""Where each thing lives on a remote (DESIGN.md section 8.2): the tree of a local
store, mapped onto what object storage offers.

    mlcli-remote.json                          format marker, created once
    journal/<ms>-<writer>-<seq>.json           what each push changed (read from a cursor)
    experiments/<name>.json                    an experiment, keyed by its name
    runs/<run_id>/manifest.json                the run: its document and the segments,
                                               artifacts and logged models it holds
    runs/<run_id>/segments/<writer>-<hash>     immutable log segments: what one push
                                               added to each log, by byte range
    runs/<run_id>/artifacts/<path>             the run's files
    runs/<run_id>/logged_models/<id>.json      MLflow 3 logged models
    models/<name>/model.json                   a registered model: document, aliases,
                                               event segments, versions
    models/<name>/versions/<n>.json            version n, claimed by a conditional create
    models/<name>/versions/<n>/artifacts/...   its files
    models/<name>/events/<writer>-<from>-<to>  event log segments

Names (of experiments and models) are percent-encoded, so any name is one key part;
a name too long for a key is hashed (the document inside holds the name).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote, unquote

FORMAT_KEY = "mlcli-remote.json"
FORMAT = 1
SERVED = "served"  # in the format marker: servers with an index own the bucket's writes
JOURNAL = "journal/"
EXPERIMENTS = "experiments/"
RUNS = "runs/"
MODELS = "models/"
MAX_QUOTED_NAME = 200


def name_part(name: str) -> str:
    quoted = quote(name, safe="")
    if len(quoted) <= MAX_QUOTED_NAME and quoted not in (".", ".."):
        return quoted
    return "sha256-" + hashlib.sha256(name.encode()).hexdigest()


def name_from_part(part: str) -> str | None:
    """The name a key part stands for, or None when it was hashed (read the document)."""
    return None if part.startswith("sha256-") else unquote(part)


def experiment_key(name: str) -> str:
    return f"{EXPERIMENTS}{name_part(name)}.json"


def run_manifest_key(run_id: str) -> str:
    return f"{RUNS}{run_id}/manifest.json"


def segment_name(writer: str, start: int, end: int) -> str:
    return f"{writer}-{start:012d}-{end:012d}"


def parse_segment_name(name: str) -> tuple[str, int, int]:
    writer, start, end = name.rsplit("-", 2)
    return writer, int(start), int(end)


def segment_name_of(writer: str, ranges: list[list[Any]]) -> str:
    """A run segment's name: its writer and a digest of the byte ranges it holds, so
    that pushing the same ranges again writes the same object."""
    digest = hashlib.sha256(json.dumps(ranges).encode()).hexdigest()[:24]
    return f"{writer}-{digest}"


def run_segment_key(run_id: str, segment: str) -> str:
    return f"{RUNS}{run_id}/segments/{segment}"


def run_artifact_key(run_id: str, path: str) -> str:
    return f"{RUNS}{run_id}/artifacts/{path}"


def logged_model_key(run_id: str, model_id: str) -> str:
    return f"{RUNS}{run_id}/logged_models/{model_id}.json"


def model_key(name: str) -> str:
    return f"{MODELS}{name_part(name)}/model.json"


def version_key(name: str, version: int) -> str:
    return f"{MODELS}{name_part(name)}/versions/{version}.json"


def version_artifact_key(name: str, version: int, path: str) -> str:
    return f"{MODELS}{name_part(name)}/versions/{version}/artifacts/{path}"


def event_segment_key(name: str, segment: str) -> str:
    return f"{MODELS}{name_part(name)}/events/{segment}"


def journal_key(time_ms: int, writer: str, sequence: int) -> str:
    return f"{JOURNAL}{time_ms:013d}-{writer}-{sequence:06d}.json"


def journal_time(key: str) -> int:
    return int(key[len(JOURNAL) :].split("-", 1)[0])
