"""A store a Unix group can write (``mlcli init --shared=group``, docs/store.md), like
git's ``core.sharedRepository=group``.

Every file mlcli writes honours the umask (see ``fileio.create_temp_file``), and a
member's umask (often 022) would keep the others from appending to a log or replacing
a document. So a shared store does not rely on it: each folder

- belongs to the group of the folder that holds the store, with the set-group-ID bit,
  so everything created beneath it belongs to that group too;
- is group-writable, and carries a POSIX default ACL that grants the group what the
  owner has: a file or folder created beneath it gets it whatever the creator's
  umask (the kernel applies a default ACL instead of the umask).

What exists already is made group-writable the same way, so running it on an existing
store converts it. It needs a file system with POSIX ACLs (ext4, xfs, btrfs, tmpfs,
ZFS; not every NFS export): without them it fails and says so.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import stat
import struct
from pathlib import Path

from mlcli.errors import EnvironmentFailure

_ACL_DEFAULT = "system.posix_acl_default"
_ACL_VERSION = 2
_USER_OBJ, _GROUP_OBJ, _OTHER = 0x01, 0x04, 0x20
_UNDEFINED_ID = 0xFFFFFFFF


def share_with_group(root: Path) -> str:
    """Make the store at ``root`` writable by the group of the folder that holds it;
    returns the group's name."""
    group = root.parent.stat().st_gid
    for directory, folders, files in os.walk(root):
        _share_folder(Path(directory), group)
        for name in files:
            _share_file(Path(directory) / name, group)
        folders[:] = [n for n in folders if not os.path.islink(os.path.join(directory, n))]
    try:
        return grp.getgrgid(group).gr_name
    except KeyError:
        return str(group)


def share_like_folder(path: Path) -> None:
    """Give the group the owner's rights on ``path`` when it lies in a shared folder.

    For files whose creator picks an explicit mode, which a default ACL cannot widen:
    SQLite creates ``index.db`` 0644 (and its ``-wal`` and ``-shm`` like it)."""
    with contextlib.suppress(OSError):
        if path.parent.stat().st_mode & stat.S_ISGID:
            st = path.stat()
            if st.st_uid == os.geteuid():
                mode = stat.S_IMODE(st.st_mode)
                os.chmod(path, mode | ((mode & stat.S_IRWXU) >> 3))


def _share_folder(path: Path, group: int) -> None:
    os.chown(path, -1, group)
    mode = stat.S_IMODE(path.stat().st_mode)
    os.chmod(path, mode | stat.S_ISGID | stat.S_IRWXG)
    other = mode & stat.S_IRWXO
    try:
        os.setxattr(path, _ACL_DEFAULT, _minimal_acl(7, 7, other))
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise EnvironmentFailure(
                f"cannot share {path} with a group: its file system has no POSIX ACLs "
                "(every member would need umask 002 instead)"
            ) from None
        raise


def _share_file(path: Path, group: int) -> None:
    if path.is_symlink():
        return
    os.chown(path, -1, group)
    mode = stat.S_IMODE(path.stat().st_mode)
    os.chmod(path, mode | ((mode & stat.S_IRWXU) >> 3))  # the group gets the owner's rights


def _minimal_acl(user: int, group: int, other: int) -> bytes:
    """A POSIX ACL of the three base entries, in the kernel's xattr encoding."""
    entries = ((_USER_OBJ, user), (_GROUP_OBJ, group), (_OTHER, other))
    return struct.pack("<I", _ACL_VERSION) + b"".join(
        struct.pack("<HHI", tag, permissions, _UNDEFINED_ID) for tag, permissions in entries
    )
