"""``-A NAME=VALUE`` / ``-A NAME``: ``docker run`` options for the entry point's container.

mlcli talks to the engine through its API, not the ``docker`` command, so each
option is translated to the Docker SDK's ``containers.run`` keyword; the options
that make sense for a batch job are supported, and anything else is an error that
lists them. Published ports bind 127.0.0.1 unless an address is given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mlcli.errors import InvalidInputError

Handler = Callable[[dict[str, Any], str | None], None]


def parse_docker_args(items: Sequence[str]) -> dict[str, Any]:
    """SDK keywords for ``items`` (``["gpus=all", "memory=4g", "privileged"]``)."""
    kwargs: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.lstrip("-")
        handler = _HANDLERS.get(name)
        if handler is None:
            valid = ", ".join(sorted(n for n in _HANDLERS if len(n) > 1))
            raise InvalidInputError(f"unsupported docker option -A {item!r} (supported: {valid})")
        try:
            handler(kwargs, value if sep else None)
        except ValueError as exc:
            raise InvalidInputError(f"invalid docker option -A {item!r}: {exc}") from None
    return kwargs


def _required(value: str | None) -> str:
    if not value:
        raise ValueError("needs a value (NAME=VALUE)")
    return value


def _flag(key: str) -> Handler:
    def handle(kwargs: dict[str, Any], value: str | None) -> None:
        if value not in (None, "true", "1"):
            raise ValueError("is a flag: give it without a value")
        kwargs[key] = True

    return handle


def _scalar(key: str, convert: Callable[[str], Any] = str) -> Handler:
    def handle(kwargs: dict[str, Any], value: str | None) -> None:
        kwargs[key] = convert(_required(value))

    return handle


def _append(key: str) -> Handler:
    def handle(kwargs: dict[str, Any], value: str | None) -> None:
        kwargs.setdefault(key, []).append(_required(value))

    return handle


def _env(kwargs: dict[str, Any], value: str | None) -> None:
    text = _required(value)
    name, sep, setting = text.partition("=")
    if not sep:
        raise ValueError("expected env=NAME=VALUE")
    kwargs.setdefault("environment", {})[name] = setting


def _label(kwargs: dict[str, Any], value: str | None) -> None:
    name, _, setting = _required(value).partition("=")
    kwargs.setdefault("labels", {})[name] = setting


def _gpus(kwargs: dict[str, Any], value: str | None) -> None:
    from docker.types import DeviceRequest

    text = _required(value)
    count = -1 if text == "all" else int(text)
    kwargs["device_requests"] = [DeviceRequest(count=count, capabilities=[["gpu"]])]


def _cpus(kwargs: dict[str, Any], value: str | None) -> None:
    kwargs["nano_cpus"] = int(float(_required(value)) * 1e9)


def _add_host(kwargs: dict[str, Any], value: str | None) -> None:
    host, sep, address = _required(value).partition(":")
    if not sep:
        raise ValueError("expected add-host=HOST:ADDRESS")
    kwargs.setdefault("extra_hosts", {})[host] = address


def _publish(kwargs: dict[str, Any], value: str | None) -> None:
    parts = _required(value).split(":")
    if len(parts) == 2:
        address, host_port, container_port = "127.0.0.1", parts[0], parts[1]
    elif len(parts) == 3:
        address, host_port, container_port = parts
    else:
        raise ValueError("expected publish=[ADDRESS:]HOST_PORT:CONTAINER_PORT")
    port = container_port if "/" in container_port else f"{container_port}/tcp"
    kwargs.setdefault("ports", {})[port] = (address, int(host_port))


_HANDLERS: dict[str, Handler] = {
    "add-host": _add_host,
    "cap-add": _append("cap_add"),
    "cpus": _cpus,
    "e": _env,
    "entrypoint": _scalar("entrypoint"),
    "env": _env,
    "gpus": _gpus,
    "h": _scalar("hostname"),
    "hostname": _scalar("hostname"),
    "init": _flag("init"),
    "ipc": _scalar("ipc_mode"),
    "l": _label,
    "label": _label,
    "m": _scalar("mem_limit"),
    "memory": _scalar("mem_limit"),
    "name": _scalar("name"),
    "network": _scalar("network"),
    "p": _publish,
    "privileged": _flag("privileged"),
    "publish": _publish,
    "shm-size": _scalar("shm_size"),
    "u": _scalar("user"),
    "user": _scalar("user"),
    "v": _append("volumes"),
    "volume": _append("volumes"),
    "w": _scalar("working_dir"),
    "workdir": _scalar("working_dir"),
}
