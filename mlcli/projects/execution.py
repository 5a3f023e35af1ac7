"""Running an entry point: its output teed to the terminal and to log files, its
process group stopped when ``mlcli run`` is interrupted.

The child runs in a session (and so a process group) of its own: a Ctrl-C in the
terminal reaches ``mlcli run`` alone, which forwards the signal to the whole group,
escalates to SIGKILL after a grace period (or at a second signal), and records the
run as KILLED. The same happens on SIGTERM (``scancel``, ``kill``) and SIGHUP. If
``mlcli run`` is killed outright, a watchdog stops the group (``watchdog.py``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Protocol

from mlcli.errors import EnvironmentFailure
from mlcli.projects.watchdog import GroupWatchdog

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_CHUNK = 64 * 1024
OUTPUT_DRAIN_SECONDS = 5.0


def kill_grace_seconds() -> float:
    """How long an interrupted entry point may take to stop before SIGKILL."""
    try:
        return max(0.0, float(os.environ.get("MLCLI_KILL_GRACE", "10")))
    except ValueError:
        return 10.0


class Execution(Protocol):
    """A started entry point, wherever it runs (a process, a container)."""

    def wait(self) -> int:
        """Block until it ends and its output is drained; its exit code."""

    def send_signal(self, signum: int) -> None:
        """Ask it to stop (safe to call from a signal handler)."""

    def kill(self) -> None:
        """Stop it now."""

    def close(self) -> None:
        """Release what it holds (a container); called once, at the end."""


class OutputSink:
    """Where the entry point's output goes: log files, and optionally the terminal.

    Each stream is written as it arrives, chunk by chunk, so the terminal shows it
    live and ``tail -f`` on the log file works while the run is going."""

    def __init__(
        self,
        stdout_log: Path,
        stderr_log: Path,
        stdout_echo: IO[bytes] | None = None,
        stderr_echo: IO[bytes] | None = None,
        stdout_listener: Callable[[bytes], None] | None = None,
    ) -> None:
        stdout_log.parent.mkdir(parents=True, exist_ok=True)
        stderr_log.parent.mkdir(parents=True, exist_ok=True)
        self._files = (open(stdout_log, "ab"), open(stderr_log, "ab"))  # noqa: SIM115
        self._echo = (stdout_echo, stderr_echo)
        self._listener = stdout_listener  # output scalars: sees stdout as it arrives
        self._lock = threading.Lock()

    def write(self, stream: int, data: bytes) -> None:
        """Write ``data`` from stream 1 (stdout) or 2 (stderr)."""
        if not data:
            return
        log = self._files[stream - 1]
        with contextlib.suppress(ValueError):  # closed: a straggler after the run ended
            log.write(data)
            log.flush()
        if stream == 1 and self._listener is not None:
            self._listener(data)
        echo = self._echo[stream - 1]
        if echo is not None:
            with self._lock, contextlib.suppress(OSError, ValueError):
                echo.write(data)
                echo.flush()

    def pump(self, stream: int, chunks: Iterable[bytes]) -> threading.Thread:
        """Copy ``chunks`` into ``stream`` on a daemon thread; returns the thread."""

        def copy() -> None:
            for chunk in chunks:
                self.write(stream, chunk)

        thread = threading.Thread(target=copy, name=f"mlcli-output-{stream}", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        for handle in self._files:
            handle.close()


class ProcessExecution:
    """A local process group, started from an argv."""

    def __init__(
        self, argv: Sequence[str], cwd: Path, environ: Mapping[str, str], sink: OutputSink
    ) -> None:
        self._watchdog = GroupWatchdog(kill_grace_seconds())
        try:
            self.process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(environ),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            self._watchdog.release()
            raise EnvironmentFailure(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
        self._watchdog.guard(self.process.pid)  # its process group has its pid
        assert self.process.stdout is not None and self.process.stderr is not None
        self._threads = [
            sink.pump(1, _chunks(self.process.stdout)),
            sink.pump(2, _chunks(self.process.stderr)),
        ]

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self) -> int:
        code = self.process.wait()
        self._watchdog.release()
        # A background process the entry point left behind may hold the pipes open;
        # its later output is not waited for.
        deadline = time.monotonic() + OUTPUT_DRAIN_SECONDS
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return code

    def send_signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def close(self) -> None:
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


class RunInterrupted(BaseException):
    """``mlcli run`` received ``signum`` before the entry point started."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Interruptions:
    """Catches SIGINT/SIGTERM/SIGHUP for the duration of a run.

    Before an entry point is attached, a signal raises RunInterrupted (so that
    environment creation stops and the run is ended KILLED). Once attached, the
    signal is forwarded to it and the run goes on until the entry point ends."""

    def __init__(self, grace: float | None = None) -> None:
        self.grace = kill_grace_seconds() if grace is None else grace
        self.signum: int | None = None
        self._target: Execution | None = None
        self._timer: threading.Timer | None = None
        self._starting = False

    @contextlib.contextmanager
    def starting(self) -> Iterator[None]:
        """While the entry point is being started a signal is only noted, so that no
        process is left behind unattached; ``attach`` then forwards it."""
        self._starting = True
        try:
            yield
        finally:
            self._starting = False

    def attach(self, target: Execution) -> None:
        self._target = target
        if self.signum is not None:  # a signal arrived while it was starting
            self._forward(self.signum)

    def _handle(self, signum: int, frame: object) -> None:
        first = self.signum is None
        self.signum = self.signum or signum
        if self._target is None:
            if self._starting:
                return
            raise RunInterrupted(signum)
        if first:
            self._forward(signum)
        else:
            self._target.kill()

    def _forward(self, signum: int) -> None:
        assert self._target is not None
        self._target.send_signal(signum)
        if self._timer is None:
            self._timer = threading.Timer(self.grace, self._target.kill)
            self._timer.daemon = True
            self._timer.start()

    @contextlib.contextmanager
    def installed(self) -> Iterator[Interruptions]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals are delivered to the main thread only
            return
        previous = {signum: signal.signal(signum, self._handle) for signum in FORWARDED_SIGNALS}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            if self._timer is not None:
                self._timer.cancel()


def exit_code_for_signal(signum: int) -> int:
    """The shell's convention: 128 + the signal number (130 for Ctrl-C)."""
    return 128 + signum


def _chunks(pipe: IO[bytes]) -> Iterator[bytes]:
    fd = pipe.fileno()
    while True:
        data = os.read(fd, _CHUNK)
        if not data:
            return
        yield data
