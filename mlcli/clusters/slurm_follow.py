"""Following a run's Slurm job until it ends: its state changes, its output files
streamed to the terminal, and the run ended from the job's final state when the job
did not end it (cancelled before mlcli started, a time limit, memory, a lost node).

A first Ctrl-C (or SIGTERM) cancels the job and goes on following it until Slurm has
ended it, so that the run ends KILLED; a second one stops following at once (the
next reader of the store then ends the run, ``mlcli.store.ownership``).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mlcli import system_tags
from mlcli.projects.feedback import Feedback, SilentFeedback
from mlcli.slurm import jobs
from mlcli.slurm.commands import SlurmError
from mlcli.slurm.endings import ending_of
from mlcli.slurm.jobs import JobState
from mlcli.store import RunStatus
from mlcli.tracking.client import TrackingClient

#: Seconds between two looks at the job and its output files.
POLL_SECONDS = 1.0
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FollowedRun:
    """How a followed run ended."""

    run_id: str
    job_id: str
    status: str
    exit_code: int
    state: str  # the job's final state (UNKNOWN: Slurm no longer knew it)


class OutputTail:
    """Copies what is appended to a file (a job's output) to a stream."""

    def __init__(self, path: Path, echo: IO[bytes] | None) -> None:
        self.path = path
        self.echo = echo
        self.offset = 0

    def pump(self) -> None:
        if self.echo is None:
            return
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                while chunk := handle.read(_CHUNK):
                    self.offset += len(chunk)
                    with contextlib.suppress(OSError, ValueError):
                        self.echo.write(chunk)
                        self.echo.flush()
        except FileNotFoundError:
            return  # not written yet (a pending job)


class Cancellation:
    """The first signal asks for ``scancel``; the second stops following."""

    def __init__(self) -> None:
        self.requested = False
        self.wake = threading.Event()

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.wake.set()

    def pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or until a signal comes."""
        self.wake.wait(seconds)
        self.wake.clear()

    @contextlib.contextmanager
    def installed(self) -> Iterator[Cancellation]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {signum: signal.signal(signum, self._handle) for signum in handled}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def follow_job(
    client: TrackingClient,
    run_id: str,
    job_id: str,
    outputs: tuple[Path, Path],
    *,
    feedback: Feedback | None = None,
    stdout: IO[bytes] | None = None,
    stderr: IO[bytes] | None = None,
    poll: float = POLL_SECONDS,
) -> FollowedRun:
    """Follow ``job_id`` until it ends, echoing its output files (stdout's, stderr's);
    then end ``run_id`` if the job left it live."""
    feedback = feedback or SilentFeedback()
    tails = [OutputTail(outputs[0], stdout), OutputTail(outputs[1], stderr)]
    cancellation = Cancellation()
    cancelled = unreachable = False
    shown: tuple[str, str] | None = None
    state: JobState | None = None
    with cancellation.installed():
        while True:
            if cancellation.requested and not cancelled:
                feedback.info(f"Cancelling Slurm job {job_id} (Ctrl-C again to stop following)")
                jobs.cancel(job_id)
                cancelled = True
            try:
                state = jobs.job_state(job_id)
                unreachable = False
            except SlurmError as exc:
                if not unreachable:
                    feedback.info(f"Slurm job {job_id}: cannot read its state ({exc}); retrying")
                unreachable = True
                cancellation.pause(poll)
                continue
            for tail in tails:
                tail.pump()
            if state is None or state.finished:
                break
            if (state.state, state.reason) != shown:
                shown = (state.state, state.reason)
                why = f" ({state.reason})" if state.reason not in ("None", "") else ""
                feedback.info(f"Slurm job {job_id}: {state.state}{why}")
            cancellation.pause(poll)
    for tail in tails:
        tail.pump()
    return finish_run(client, run_id, job_id, state, feedback)


def finish_run(
    client: TrackingClient,
    run_id: str,
    job_id: str,
    state: JobState | None,
    feedback: Feedback | None = None,
) -> FollowedRun:
    """The run of a job that ended in ``state`` (None: no longer known to Slurm): ended
    from that state if it is still live, else given the state as a tag."""
    feedback = feedback or SilentFeedback()
    run = client.get_run(run_id)
    ending = ending_of(job_id, state)
    final = state.state if state is not None else ending.state
    status = run.info.status
    if status in RunStatus.LIVE:
        client.log_batch(run_id, tags=ending.tags())
        status = client.set_terminated(run_id, ending.status).info.status
    elif system_tags.SLURM_STATE not in run.data.tags:
        client.log_batch(run_id, tags={system_tags.SLURM_STATE: final})
    tags = client.get_run(run_id).data.tags
    reason = tags.get(system_tags.PROJECT_FAILURE_REASON)
    if reason and status != RunStatus.FINISHED:
        feedback.info(f"Run {run_id} {status}: {reason}")
    return FollowedRun(run_id, job_id, status, _exit_code(status, tags), final)


def _exit_code(status: str, tags: dict[str, str]) -> int:
    recorded = tags.get(system_tags.PROJECT_EXIT_CODE, "")
    if recorded.lstrip("-").isdigit():
        return int(recorded)
    return 0 if status == RunStatus.FINISHED else 1
