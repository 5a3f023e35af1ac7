"""``--env-manager virtualenv``: serve from an environment built for the model.

The environment comes from the model's ``python_env.yaml`` (else its
``requirements.txt``), made and cached by the projects' virtualenv manager
(:mod:`mlcli.projects.envs.virtualenv`), with three changes a server needs:

- the model's ``mlcli==...`` line is replaced by a wheel of the running mlcli, so the
  environment serves with exactly this code (no release on an index needed);
- mlcli's own requirements (the serving stack) and pandas/numpy (to read requests)
  are added, pinned to the versions installed here, unless the model pins them;
- ``python: 3.11.7`` is loosened to ``3.11``: any patch release runs the model, and
  none is downloaded or compiled.

These are written to ``<cache>/serving-envs/<digest>/python_env.yaml``; the server
then runs in the environment as ``python -m mlcli serve ... --env-manager local``,
with SIGTERM, SIGINT and SIGHUP passed on to it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcli.errors import EnvironmentFailure
from mlcli.scoring.config import ServeConfig

if TYPE_CHECKING:
    from mlcli.projects.feedback import Feedback
    from mlcli.scoring.origin import ModelOrigin

PYTHON_ENV_FILE = "python_env.yaml"
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def serve_in_virtualenv(config: ServeConfig, origin: ModelOrigin, feedback: Feedback | None) -> int:
    from mlcli.projects.envs.virtualenv import VirtualenvManager
    from mlcli.projects.feedback import SilentFeedback
    from mlcli.projects.spec import Project

    spec_dir = serving_env_spec(origin.directory)
    project = Project(directory=spec_dir, python_env=spec_dir / PYTHON_ENV_FILE)
    environment = VirtualenvManager().prepare(project, feedback or SilentFeedback())
    python = Path(environment.path) / "bin" / "python"  # type: ignore[attr-defined]
    environ: dict[str, str] = dict(os.environ)
    for key, value in environment.variables().items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    return run_forwarding_signals([str(python), "-m", "mlcli", *local_serve_args(config)], environ)


def serving_env_spec(model_dir: Path) -> Path:
    """The folder holding the serving environment's ``python_env.yaml`` (and the wheel
    of this mlcli), written once per model environment and mlcli build."""
    import yaml

    from mlcli.projects.cache import cache_root, digest, publishing
    from mlcli.scoring.requirements import serving_requirements

    needs = serving_requirements(model_dir)
    key = digest([needs.python or "", *needs.build, *needs.lines, needs.wheel.sha256])
    folder = cache_root() / "serving-envs" / key
    spec = {
        "python": needs.python,
        "build_dependencies": list(needs.build),
        "dependencies": [*needs.lines, str(folder / needs.wheel.filename)],
    }
    if not folder.is_dir():
        with publishing(folder) as staging:
            (staging / needs.wheel.filename).write_bytes(needs.wheel.data)
            (staging / PYTHON_ENV_FILE).write_text(
                yaml.safe_dump({k: v for k, v in spec.items() if v}, sort_keys=False)
            )
    return folder


def local_serve_args(config: ServeConfig) -> list[str]:
    """The ``mlcli serve`` arguments that run ``config`` with the local env manager."""
    args = [] if config.store is None else ["--store", config.store]
    args += ["serve", "-m", config.model_uri, "--host", config.host, "--port", str(config.port)]
    args += ["--workers", str(config.workers), "--timeout", f"{config.timeout:g}"]
    args += ["--max-body-size", str(config.max_body_bytes), "--env-manager", "local"]
    if config.watch:
        args += ["--watch", "--watch-interval", f"{config.watch_interval:g}"]
    if config.auth_token_file is not None:
        args += ["--auth-token-file", config.auth_token_file]
    if config.allow_unauthenticated:
        args.append("--allow-unauthenticated")
    return args


def run_forwarding_signals(argv: list[str], environ: dict[str, str]) -> int:
    """Run ``argv`` in its own session, passing our stop signals on to it."""
    try:
        process = subprocess.Popen(argv, env=environ, start_new_session=True)
    except OSError as exc:
        raise EnvironmentFailure(f"cannot start {argv[0]}: {exc.strerror}") from None

    def forward(signum: int, frame: Any) -> None:
        process.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    try:
        return process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
