"""Files and folders only their user can read: reports, exports, sweep results, the
instrument master saved beside a recording.

Kept apart from any one feature (and importing nothing of kitetui) so the store, the
venues, the backtest, the export and the sweep all write their private files through
the same checks:

* a file is never written in place: the content goes to a new 0600 scratch file in the
  same folder, is flushed to disk, and is renamed over the old name. A hard link there
  (st_nlink > 1: the report's equity.csv also named ~/notes.txt) used to be truncated
  in place, the other name's content with it; renamed over, the other name keeps its
  content and mode, and a reader never sees half a file;
* an old file kitetui did not make is refused when it is a symlink (every one, also a
  path the user named: ``kitetui export --out latest.csv`` made the link's target 0600
  and overwrote it), not a regular file, or another user's (one planted in a shared
  folder, open to all, would otherwise receive the trade history);
* the folder written into must be the user's own, or root's and guarded (not open to
  others, or sticky as ``/tmp`` is): another user who owns the folder may rename,
  delete or swap the files kitetui leaves there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path


def write_private(path: Path, data: str | bytes) -> None:
    """Replace ``path`` whole with ``data``, mode 0600 whatever the umask (module doc).

    Refused before anything is written (``OSError``): a folder that is not ours
    (``check_own_folder``), a symlink at ``path`` (ELOOP), something other than a
    regular file there (EINVAL: a FIFO, a device) or another user's file (EPERM)."""
    folder = path.parent
    check_own_folder(folder)
    _check_replaceable(path)
    scratch = folder / f".{path.name}.{secrets.token_hex(4)}.part"
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
        except BaseException:
            os.close(fd)
            raise
        if isinstance(data, str):
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        os.replace(scratch, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(scratch)
        raise
    _sync_folder(folder)


def _check_replaceable(path: Path) -> None:
    """What is at ``path`` now may be replaced: nothing, or a regular file of ours."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(found.st_mode):
        raise OSError(
            errno.ELOOP, "is a symbolic link; kitetui never writes through one", str(path)
        )
    _check_own(found, path)


def _sync_folder(folder: Path) -> None:
    """The rename made durable (best effort: some filesystems refuse a folder's fsync)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_own_folder(folder: Path) -> None:
    """Refuse (``OSError``, EPERM) a folder to write into that another user controls:
    owned by someone other than you, unless by root and guarded (not writable by group
    or others, or sticky like ``/tmp``, where no one else may remove your files).
    ``folder`` is followed if a symlink: the folder it names is the one written into."""
    found = Path(folder).stat()
    if found.st_uid == os.geteuid():
        return
    open_to_others = found.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if found.st_uid == 0 and (not open_to_others or found.st_mode & stat.S_ISVTX):
        return
    raise OSError(
        errno.EPERM,
        f"the folder is owned by uid {found.st_uid}, not by you; kitetui writes only "
        "into folders of yours (or root's, like /tmp)",
        str(folder),
    )


def check_own_file(fd: int, path: Path) -> None:
    """Refuse (``OSError``) the open file ``fd`` unless it is a regular file of ours."""
    _check_own(os.fstat(fd), path)


def _check_own(found: os.stat_result, path: Path) -> None:
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
    /tmp's sticky bit; but it must be ours (``check_own_folder``). A file in the way is
    an ``OSError`` saying so."""
    try:
        path.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        if path.is_dir():
            check_own_folder(path)
            return
        raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder", str(path)) from None
    os.chmod(path, 0o700)
