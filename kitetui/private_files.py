"""Files and folders only their user can read: reports, exports, sweep results, the
instrument master saved beside a recording.

Kept apart from any one feature (and importing nothing of kitetui) so the store, the
venues, the backtest and the sweep all write their private files through the same
checks: a file kitetui did not create is refused when it is a symlink (unless the user
named that path), not a regular file, or another user's — a file someone else planted
in a shared folder, open to all, would otherwise receive the trade history and stay
theirs to read. Its mode is made 0600 before a byte is written, so the content never
sits in a more open file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def write_private(path: Path, data: str | bytes, *, follow_symlinks: bool = False) -> None:
    """Write ``data`` to ``path`` with mode 0600 whatever the umask.

    A symlink at ``path`` is refused (``OSError``, ELOOP) unless ``follow_symlinks``:
    report and sweep files have fixed names in a folder, and one planted there (a
    shared ``--out``) would otherwise have kitetui truncate whatever it points at. A
    path the user names whole (``kitetui export --out``) may follow one. A file that is
    not regular, or that another user owns, is refused before it is changed at all."""
    flags = os.O_WRONLY | os.O_CREAT | (0 if follow_symlinks else os.O_NOFOLLOW)
    # Non-blocking: a FIFO with no reader fails at once rather than holding the caller.
    fd = os.open(path, flags | os.O_NONBLOCK, 0o600)
    try:
        check_own_file(fd, path)
        os.fchmod(fd, 0o600)
        os.ftruncate(fd, 0)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    if isinstance(data, str):
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(data)
    else:
        with os.fdopen(fd, "wb") as out:
            out.write(data)


def check_own_file(fd: int, path: Path) -> None:
    """Refuse (``OSError``) the open file ``fd`` unless it is a regular file of ours."""
    found = os.fstat(fd)
    if not stat.S_ISREG(found.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    if found.st_uid != os.geteuid():
        raise OSError(
            errno.EPERM,
            f"owned by uid {found.st_uid}, not by you; kitetui writes only into its own files",
            str(path),
        )


def make_private_dir(path: Path) -> None:
    """``path`` as a directory: one this call creates is 0700 whatever the umask. An
    existing one keeps its mode (the files written into it are 0600 each): ``--out
    /tmp`` or ``--out .`` must not lock everyone else out of a shared folder, nor drop
    /tmp's sticky bit. A file in the way is an ``OSError`` saying so."""
    try:
        path.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        if path.is_dir():
            return
        raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder", str(path)) from None
    os.chmod(path, 0o700)
