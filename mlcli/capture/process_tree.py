"""Counters of a process tree: CPU time, resident memory, disk and network I/O.

On Linux they are read from ``/proc`` directly (no dependency, about a millisecond
per sample for a few hundred processes); elsewhere through psutil when it is
installed. The tree is the root process, its descendants, and (when the root leads a
session of its own, as ``mlcli run``'s entry points do) every process of that
session, so that a daemonised grandchild still counts; finding those takes a look at
every process of the machine, so a root that leads no session (the Python API's own
process) is walked down through its threads' ``children`` files instead.

CPU time and disk I/O are summed over the live members *including their reaped
children* (Linux adds a waited-for child's CPU time and I/O to its parent's), so each
second is counted once however short-lived the process that spent it. Network
traffic is that of the network namespace the root lives in (a container's own; the
whole machine's otherwise): Linux keeps no per-process count. Loopback is left out.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

_PROC = Path("/proc")


_ENDED = frozenset({"Z", "X", "x"})  # /proc/<pid>/stat states: zombie, dead


@dataclass(frozen=True)
class TreeCounters:
    cpu_seconds: float
    rss_bytes: int
    read_bytes: int | None  # None where the platform does not say
    write_bytes: int | None
    net_rx_bytes: int | None
    net_tx_bytes: int | None
    processes: int


class TreeReader(Protocol):
    def read(self) -> TreeCounters | None:
        """The counters now; None once the root process is gone."""


class ProcTree:
    """A tree read from Linux's ``/proc``."""

    def __init__(self, root_pid: int, proc: Path = _PROC) -> None:
        self.root = root_pid
        self.proc = proc
        self._ticks = os.sysconf("SC_CLK_TCK")
        self._page = os.sysconf("SC_PAGE_SIZE")
        try:
            self.session: int | None = root_pid if os.getsid(root_pid) == root_pid else None
        except OSError:
            self.session = None

    def read(self) -> TreeCounters | None:
        stats = self._session_stats() if self.session is not None else self._descendant_stats()
        if self.root not in stats or stats[self.root][0] in _ENDED:
            return None  # an exited root not yet reaped would read as a tree of 0 bytes
        if int(stats[self.root][21]) <= 0:
            return None  # a root on its way out: its memory is already released
        members = self._members(stats)
        cpu_ticks = rss_pages = 0
        read = write = 0
        io_known = True
        for pid in members:
            fields = stats[pid]
            cpu_ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
            rss_pages += max(0, int(fields[21]))
            io = self._io(pid)
            if io is None:
                io_known = False
            else:
                read += io[0]
                write += io[1]
        rx, tx = self._network()
        return TreeCounters(
            cpu_seconds=cpu_ticks / self._ticks,
            rss_bytes=rss_pages * self._page,
            read_bytes=read if io_known else None,
            write_bytes=write if io_known else None,
            net_rx_bytes=rx,
            net_tx_bytes=tx,
            processes=len(members),
        )

    def _stat(self, pid: int) -> list[str] | None:
        """The fields of /proc/<pid>/stat after the command name."""
        try:
            raw = (self.proc / str(pid) / "stat").read_bytes()
        except OSError:  # ended while we looked
            return None
        fields = raw[raw.rfind(b")") + 2 :].split()
        return [f.decode() for f in fields] if len(fields) > 21 else None

    def _session_stats(self) -> dict[int, list[str]]:
        """Every process's stat: a session's members can be anywhere in the table."""
        stats = {}
        for name in os.listdir(self.proc):
            if name.isdigit() and (fields := self._stat(int(name))) is not None:
                stats[int(name)] = fields
        return stats

    def _descendant_stats(self) -> dict[int, list[str]]:
        """The stat of the root and its descendants, found through each thread's
        ``children`` file: a handful of reads, not one per process of the machine
        (which matters in a process whose other threads hold the GIL)."""
        if not (self.proc / str(self.root) / "task").is_dir():
            return {}
        probe = self.proc / str(self.root) / "task" / str(self.root) / "children"
        if not probe.exists():  # a kernel without CONFIG_PROC_CHILDREN
            return self._session_stats()
        stats = {}
        frontier = [self.root]
        while frontier:
            pid = frontier.pop()
            fields = self._stat(pid)
            if fields is None or pid in stats:
                continue
            stats[pid] = fields
            frontier.extend(self._children(pid))
        return stats

    def _children(self, pid: int) -> list[int]:
        children = []
        try:
            tasks = os.listdir(self.proc / str(pid) / "task")
        except OSError:
            return []
        for task in tasks:
            try:
                text = (self.proc / str(pid) / "task" / task / "children").read_text()
            except OSError:
                continue
            children += [int(child) for child in text.split()]
        return children

    def _members(self, stats: dict[int, list[str]]) -> list[int]:
        children: dict[int, list[int]] = {}
        members = {self.root}
        for pid, fields in stats.items():
            children.setdefault(int(fields[1]), []).append(pid)
            if self.session is not None and int(fields[3]) == self.session:
                members.add(pid)
        frontier = list(members)
        while frontier:
            for child in children.get(frontier.pop(), ()):
                if child not in members:
                    members.add(child)
                    frontier.append(child)
        return sorted(members)

    def _io(self, pid: int) -> tuple[int, int] | None:
        try:
            text = (self.proc / str(pid) / "io").read_text()
        except OSError:  # not ours to read, or gone
            return None
        values = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
        try:
            return int(values["read_bytes"]), int(values["write_bytes"])
        except (KeyError, ValueError):
            return None

    def _network(self) -> tuple[int | None, int | None]:
        try:
            lines = (self.proc / str(self.root) / "net" / "dev").read_text().splitlines()[2:]
        except OSError:
            return None, None
        rx = tx = 0
        for line in lines:
            interface, _, numbers = line.partition(":")
            if interface.strip() == "lo":
                continue
            fields = numbers.split()
            if len(fields) >= 9:
                rx += int(fields[0])
                tx += int(fields[8])
        return rx, tx


class PsutilTree:
    """A tree read through psutil (macOS, Windows; any platform psutil supports)."""

    def __init__(self, root_pid: int) -> None:
        import psutil

        self._psutil = psutil
        self.root = psutil.Process(root_pid)

    def read(self) -> TreeCounters | None:
        psutil = self._psutil
        try:
            if self.root.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                return None  # exited, not yet reaped: its tree has ended
            members = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return None
        cpu = 0.0
        rss = 0
        read: int | None = 0
        write: int | None = 0
        alive = 0
        for process in members:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    cpu += times.user + times.system + times.children_user + times.children_system
                    rss += process.memory_info().rss
                    io = getattr(process, "io_counters", None)
                    counters = io() if io is not None else None
                alive += 1
            except psutil.Error:
                continue
            if counters is None or read is None or write is None:
                read = write = None
            else:
                read += counters.read_bytes
                write += counters.write_bytes
        if alive == 0:
            return None
        rx = tx = 0
        for name, counters in psutil.net_io_counters(pernic=True).items():
            if not name.startswith("lo"):
                rx += counters.bytes_recv
                tx += counters.bytes_sent
        return TreeCounters(cpu, rss, read, write, rx, tx, alive)


def open_tree(root_pid: int) -> TreeReader | None:
    """A reader for the tree rooted at ``root_pid``: ``/proc`` on Linux, else psutil;
    None when neither is available."""
    if sys.platform.startswith("linux") and (_PROC / "self" / "stat").exists():
        return ProcTree(root_pid)
    try:
        import psutil
    except ImportError:
        return None
    try:
        return PsutilTree(root_pid)
    except psutil.Error:
        return None
