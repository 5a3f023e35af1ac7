"""Run ``python -m mlcli`` as a second, unprivileged Unix user (for the shared-store
tests).

The tests run as root, and the interpreter or the checkout may sit under a folder that
other users cannot enter (``/root`` is mode 0700; pyenv lives in it here, and CI clones
into a folder nobody chose). Nothing on the machine is changed to let the second user
in: its command runs in a private mount namespace (``unshare -m``) where each such
folder is covered by an empty tmpfs and only the folders the interpreter and mlcli need
are bind-mounted back. The user itself is ``nobody``, or ``mlcli-peer`` (created as a
system user) when there is no ``nobody``.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import site
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import mlcli

PEER_NAMES = ("nobody", "mlcli-peer")


@dataclass(frozen=True)
class SecondUser:
    uid: int
    gid: int
    name: str
    home: Path  # a folder the user owns, for its cache (its own index of a shared store)
    mounts: str  # the shell lines that let it reach the interpreter and mlcli

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        groups: tuple[int, ...] = (),
    ) -> subprocess.CompletedProcess[str]:
        """``python -m mlcli ARGS`` as this user (a member of ``groups`` too)."""
        argv = [_interpreter(), "-m", "mlcli", *args]
        return self.command(argv, cwd=cwd, env=env, groups=groups)

    def command(
        self,
        argv: list[str],
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        groups: tuple[int, ...] = (),
    ) -> subprocess.CompletedProcess[str]:
        """Any command as this user, with umask 022 (a member of ``groups`` too)."""
        membership = f"--groups={','.join(map(str, groups))}" if groups else "--clear-groups"
        switch = [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            membership,
            "--",
            *argv,
        ]
        script = f"{self.mounts}\numask 022\nexec {shlex.join(switch)}"
        environ = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CACHE_HOME": str(self.home / "cache"),
            "LANG": "C.UTF-8",
            **(env or {}),
        }
        return subprocess.run(
            ["unshare", "-m", "sh", "-e", "-c", script],
            cwd=cwd,
            env=environ,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=120,
        )


def second_user(workspace: Path) -> SecondUser:
    """A second user that can run mlcli; ``workspace`` is a fresh folder of the caller's.

    Fails (never skips: CI must run these tests) with the reason when the machine
    cannot provide one."""
    problems = []
    if os.geteuid() != 0:
        problems.append("the tests must run as root to switch to a second user")
    for tool in ("unshare", "setpriv", "sh"):
        if shutil.which(tool) is None:
            problems.append(f"{tool} is not installed")
    if problems:
        raise AssertionError("no second Unix user for the test: " + "; ".join(problems))
    account = _account()
    workspace.mkdir(parents=True, exist_ok=True)
    workspace.chmod(0o755)
    home = workspace / "peer-home"
    home.mkdir(exist_ok=True)
    os.chown(home, account.pw_uid, account.pw_gid)
    user = SecondUser(
        account.pw_uid, account.pw_gid, account.pw_name, home, _mounts(workspace / "stage")
    )
    probe = user.run("--version")
    if probe.returncode != 0:
        raise AssertionError(
            f"no second Unix user for the test: mlcli does not run as {account.pw_name} "
            f"(exit {probe.returncode}): {probe.stderr.strip()[-2000:]}"
        )
    return user


def _account() -> pwd.struct_passwd:
    for name in PEER_NAMES:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PEER_NAMES[1]],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(PEER_NAMES[1])


def _interpreter() -> str:
    return os.path.realpath(sys.executable)


def _needed_folders() -> list[Path]:
    """The folders ``python -m mlcli`` reads: the interpreter's prefixes and
    site-packages, and the mlcli package (an editable install points outside them)."""
    folders = {
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sysconfig.get_paths()["purelib"]),
        Path(sysconfig.get_paths()["platlib"]),
        Path(_interpreter()).parent,
        Path(mlcli.__file__).parent,
        *(Path(p) for p in site.getsitepackages()),
    }
    return sorted({Path(os.path.realpath(f)) for f in folders if f.exists()})


def _blocker(path: Path) -> Path | None:
    """The topmost folder above ``path`` that others cannot enter, if any."""
    for folder in reversed((path, *path.parents)):
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def _mounts(stage: Path) -> str:
    """Shell lines (run as root inside the new mount namespace) that cover each blocking
    folder with a tmpfs and bind-mount the needed folders beneath it back."""
    needed = _needed_folders()
    by_blocker: dict[Path, list[Path]] = {}
    for folder in needed:
        blocker = _blocker(folder)
        if blocker is not None:
            by_blocker.setdefault(blocker, []).append(folder)
    lines = []
    for number, (blocker, folders) in enumerate(sorted(by_blocker.items())):
        if blocker == Path("/"):
            raise AssertionError("no second Unix user for the test: / is not searchable")
        kept = [f for f in folders if not any(o in f.parents for o in folders)]
        for index, folder in enumerate(kept):
            held = stage / f"{number}-{index}"
            held.mkdir(parents=True, exist_ok=True)
            lines.append(f"mount --bind {shlex.quote(str(folder))} {shlex.quote(str(held))}")
        lines.append(f"mount -t tmpfs -o mode=0755 tmpfs {shlex.quote(str(blocker))}")
        for index, folder in enumerate(kept):
            held = stage / f"{number}-{index}"
            lines.append(f"mkdir -p {shlex.quote(str(folder))}")
            lines.append(f"mount --bind {shlex.quote(str(held))} {shlex.quote(str(folder))}")
    return "\n".join(lines)
