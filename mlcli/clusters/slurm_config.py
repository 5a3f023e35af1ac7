"""``--backend-config`` for Slurm: a YAML file and/or ``key=value`` items.

Every key is checked before anything exists: an unknown key, a value of the wrong
type or a value with a line break (it would end its ``#SBATCH`` line) is one error.
Keys may be spelled with ``-`` or ``_`` (``cpus-per-task``, ``cpus_per_task``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError

DEFAULT_SIGNAL = "B:TERM@60"
_SCALARS = ("partition", "time", "mem", "account", "qos", "output_dir", "python")
_LISTS = ("sbatch_args", "setup")
_SIGNAL = re.compile(r"^(?:[BR]{1,2}:)?[A-Z0-9]+(?:@\d+)?$")
_GPUS = re.compile(r"^(?:[\w.-]+:)?\d+$")
_TIME = re.compile(r"^(?:\d+-\d+(?::\d+){0,2}|\d+(?::\d+){0,2}|UNLIMITED|INFINITE)$")


@dataclass(frozen=True)
class SlurmConfig:
    """What a job asks Slurm for, and how it starts (docs/clusters.md)."""

    partition: str | None = None
    time: str | None = None  # Slurm's forms: "30", "2:00:00", "1-00:00:00"
    gpus: str | None = None  # "2" or "a100:2"
    mem: str | None = None  # "16G"
    cpus_per_task: int | None = None
    account: str | None = None
    qos: str | None = None
    #: ``--signal``: TERM to the job's mlcli 60 s before the limit; None: none.
    signal: str | None = DEFAULT_SIGNAL
    #: Let Slurm requeue the job (a failed node, a preemption); by default a job runs
    #: once, so that its run ends with the job's first end.
    requeue: bool = False
    #: More sbatch options, each an ``#SBATCH`` line: ``--constraint=a100``.
    sbatch_args: tuple[str, ...] = ()
    #: Shell lines run before mlcli on the node (``module load python/3.11``).
    setup: tuple[str, ...] = ()
    #: Where the job's output files go (a shared folder); default: the run's artifacts
    #: folder for a local store, else ~/.mlcli/slurm/RUN_ID.
    output_dir: str | None = None
    #: The Python that runs mlcli on the nodes; default: this one.
    python: str | None = None


def load_slurm_config(items: Iterable[str]) -> SlurmConfig:
    """The config of ``--backend-config`` items: YAML files and ``key=value`` pairs,
    in order (a later item overrides; ``sbatch_args=...`` and ``setup=...`` add)."""
    config = SlurmConfig()
    for item in items:
        key, sep, value = item.partition("=")
        if sep and key.strip() and "/" not in key:
            config = _apply(config, {key.strip(): value}, f"--backend-config {item!r}", True)
        else:
            config = _apply(config, _read_file(Path(item)), item, False)
    return config


def _read_file(path: Path) -> Mapping[str, Any]:
    from mlcli.projects.yamlfile import load_yaml_file

    if not path.is_file():
        raise InvalidInputError(
            f"--backend-config {str(path)!r} is neither KEY=VALUE nor an existing YAML file"
        )
    document = load_yaml_file(path, "the backend config")
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InvalidInputError(f"the backend config {path} must be a mapping of keys to values")
    return document


def _apply(config: SlurmConfig, items: Mapping[Any, Any], where: str, adding: bool) -> SlurmConfig:
    changes: dict[str, Any] = {}
    seen_extra = False
    for raw_key, value in items.items():
        key = str(raw_key).replace("-", "_")
        if key == "extra":  # another name for sbatch_args
            if seen_extra or "sbatch_args" in {str(k).replace("-", "_") for k in items}:
                raise InvalidInputError(f"{where}: give sbatch_args or extra, not both")
            key, seen_extra = "sbatch_args", True
        if key in _SCALARS:
            changes[key] = _text(key, value, where)
            if key == "time" and changes[key] and not _TIME.match(changes[key]):
                raise InvalidInputError(
                    f"{where}: time must be Slurm's MINUTES, [HH:]MM:SS or DAYS-HH[:MM[:SS]], "
                    f"got {value!r}"
                )
        elif key == "cpus_per_task":
            changes[key] = _positive_int(key, value, where)
        elif key == "gpus":
            changes[key] = _gpus(value, where)
        elif key == "signal":
            changes[key] = _signal(value, where)
        elif key == "requeue":
            changes[key] = _boolean(key, value, where)
        elif key in _LISTS:
            values = _text_list(key, value, where)
            changes[key] = (*getattr(config, key), *values) if adding else values
        else:
            known = sorted(
                {*_SCALARS, *_LISTS, "cpus_per_task", "gpus", "signal", "requeue", "extra"}
            )
            raise InvalidInputError(
                f"{where}: unknown Slurm config key {str(raw_key)!r} (known: {', '.join(known)})"
            )
    return replace(config, **changes)


def _text(key: str, value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{where}: {key} must be a non-empty string")
    return _one_line(key, value.strip(), where)


def _one_line(key: str, value: str, where: str) -> str:
    if "\n" in value or "\r" in value:
        raise InvalidInputError(f"{where}: {key} must be one line")
    return value


def _positive_int(key: str, value: Any, where: str) -> int | None:
    if value is None:
        return None
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not text.isdigit() or int(text) < 1:
        raise InvalidInputError(f"{where}: {key} must be a positive integer, got {value!r}")
    return int(text)


def _gpus(value: Any, where: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not _GPUS.match(text):
        raise InvalidInputError(
            f"{where}: gpus must be a count or TYPE:COUNT (2, a100:2), got {value!r}"
        )
    return text


def _signal(value: Any, where: str) -> str | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "false")):
        return None
    text = str(value).strip() if isinstance(value, str) else ""
    if not _SIGNAL.match(text):
        raise InvalidInputError(
            f"{where}: signal must be Slurm's [B:]SIGNAL[@SECONDS] (B:TERM@60) or none, "
            f"got {value!r}"
        )
    return text


def _boolean(key: str, value: Any, where: str) -> bool:
    text = str(value).strip().lower() if isinstance(value, str | bool) else ""
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise InvalidInputError(f"{where}: {key} must be true or false, got {value!r}")


def _text_list(key: str, value: Any, where: str) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise InvalidInputError(f"{where}: {key} must be a string or a list of strings")
    return tuple(_one_line(key, v.strip(), where) for v in values)
