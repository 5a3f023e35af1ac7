"""Calling Slurm's command-line tools: a missing tool or a refusal is one line."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

from mlcli.errors import MlcliError

#: How long one call to a Slurm tool may take (slurmctld answers in milliseconds).
COMMAND_TIMEOUT = 60.0


class SlurmError(MlcliError):
    """A Slurm tool is missing, or refused, or slurmctld could not be reached."""


def slurm_command(
    argv: Sequence[str], *, stdin: str | None = None, timeout: float = COMMAND_TIMEOUT
) -> str:
    """Run a Slurm tool; its stdout. SlurmError carries the tool's own message."""
    tool = argv[0]
    if shutil.which(tool) is None:
        raise SlurmError(f"{tool} not found: install Slurm's client tools or add them to PATH")
    try:
        done = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{tool} did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise SlurmError(f"cannot run {tool}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        raise SlurmError(f"{tool} failed: {one_line(done.stderr or done.stdout)}")
    return done.stdout


def one_line(text: str) -> str:
    """A tool's message as one line (its lines joined, blank ones dropped)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines) or "no message"
