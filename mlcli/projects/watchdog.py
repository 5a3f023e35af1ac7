"""A watchdog that stops a process group when the process that started it dies.

``mlcli run`` starts its entry point in a session (and process group) of its own, so
that a Ctrl-C reaches ``mlcli run`` alone. The price: if ``mlcli run`` is killed
outright (SIGKILL, the OOM killer), nothing stops the entry point. A tiny Python
process guards the group: it holds the read end of a pipe whose write end only the
starting process has, and blocks on it. When the starter ends the group normally it
says so and the watchdog leaves; when the starter dies first, the pipe reaches end of
file (the kernel closes a dead process's descriptors) and the watchdog sends the
group SIGTERM, then SIGKILL after ``grace`` seconds, as ``mlcli run`` does on a signal.

A pipe rather than Linux's PR_SET_PDEATHSIG: it covers the whole group (not only the
first process of the entry point), works on every POSIX system, and does not depend
on which thread started the child (PR_SET_PDEATHSIG fires when that *thread* ends).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading

# Runs with -I -S: no site-packages, no mlcli import; a few milliseconds to start.
_WATCHDOG = """
import os, signal, sys, time
grace = float(sys.argv[1])
data = b""
while True:
    chunk = os.read(0, 256)
    if not chunk:
        break
    data += chunk
lines = data.split(b"\\n")
if b"done" in lines or not lines[0].strip().isdigit():
    sys.exit(0)
group = int(lines[0])

def alive():
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True

try:
    os.killpg(group, signal.SIGTERM)
except OSError:
    sys.exit(0)
deadline = time.monotonic() + grace
while alive() and time.monotonic() < deadline:
    time.sleep(0.05)
if alive():
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""


class GroupWatchdog:
    """Start the watchdog first, ``guard(pgid)`` once the group exists, and
    ``release()`` once it has ended normally (or was never started)."""

    def __init__(self, grace: float) -> None:
        read_end, self._write_end = os.pipe()  # neither is inherited by other children
        try:
            self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _WATCHDOG, repr(grace)],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # no terminal signal reaches it
            )
        except OSError:
            self._process = None  # no watchdog: the group is as unguarded as before
        finally:
            os.close(read_end)
        self._open = True

    def guard(self, pgid: int) -> None:
        self._send(f"{pgid}\n".encode())

    def release(self) -> None:
        """The group ended (or never started): the watchdog leaves without a signal."""
        if not self._open:
            return
        self._send(b"done\n")
        self._open = False
        with contextlib.suppress(OSError):
            os.close(self._write_end)
        if self._process is not None:  # reaped aside: its exit is not worth waiting for
            threading.Thread(target=self._process.wait, name="mlcli-watchdog", daemon=True).start()

    def _send(self, data: bytes) -> None:
        if self._open:
            with contextlib.suppress(OSError):  # the watchdog died: nothing to tell
                os.write(self._write_end, data)
