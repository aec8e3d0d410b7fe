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
* the scratch file's name carries its writer's pid (``.NAME.<pid>.<random>.part``): a
  process killed between creating it and the rename left it behind for good, so the
  next write of NAME removes the scratch files of NAME whose writer is gone
  (``_remove_stale_scratch``), never one a live process (another kitetui, a thread of
  this one) may still be writing, never through a symlink, never another user's;
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
import re
import secrets
import stat
from pathlib import Path

_SCRATCH_SUFFIX = ".part"
#: What follows ``.NAME.`` in a scratch file's name: its writer's pid and 8 random hex.
_SCRATCH_TAIL = re.compile(r"([1-9][0-9]*)\.[0-9a-f]{8}")


def write_private(path: Path, data: str | bytes) -> None:
    """Replace ``path`` whole with ``data``, mode 0600 whatever the umask (module doc).

    Refused before anything is written (``OSError``): a folder that is not ours
    (``check_own_folder``), a symlink at ``path`` (ELOOP), something other than a
    regular file there (EINVAL: a FIFO, a device) or another user's file (EPERM)."""
    folder = path.parent
    check_own_folder(folder)
    _check_replaceable(path)
    _remove_stale_scratch(folder, path.name)
    scratch = folder / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{_SCRATCH_SUFFIX}"
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


def _remove_stale_scratch(folder: Path, name: str) -> None:
    """Remove the scratch files of ``name`` in ``folder`` left by writers that are gone.

    A scratch file is told by its name (``.NAME.<pid>.<8 hex>.part``, exactly: another
    file's scratch, ``.NAME.x.<pid>.<hex>.part``, does not match), and is removed only
    when its pid names no process (``_process_gone``) and ``lstat`` finds a regular file
    of ours: a live writer (another kitetui, another thread of this one: our own pid
    is alive) keeps its file, a symlink or another user's file is left alone, and the
    name is unlinked relative to the folder opened once, so nothing is followed. Best
    effort: a file that cannot be removed stays as it was, and the write goes on.

    The pid is this host's and this pid namespace's: a scratch in a folder shared with
    another host or container is taken for a dead writer's when its pid is not one
    here. A pid reused by an unrelated process keeps its dead writer's scratch until a
    write finds the pid free. A scratch of an older kitetui (no pid in its name) is
    never removed: nothing says its writer is gone."""
    prefix = f".{name}."
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return  # the write that follows says what is wrong with the folder
    try:
        with os.scandir(folder_fd) as entries:
            found = [e.name for e in entries if e.name.startswith(prefix)]
        for entry in found:
            tail = _SCRATCH_TAIL.fullmatch(entry[len(prefix) :].removesuffix(_SCRATCH_SUFFIX))
            if not entry.endswith(_SCRATCH_SUFFIX) or tail is None:
                continue
            if not _process_gone(int(tail[1])):
                continue
            try:
                seen = os.stat(entry, dir_fd=folder_fd, follow_symlinks=False)
                if stat.S_ISREG(seen.st_mode) and seen.st_uid == os.geteuid():
                    os.unlink(entry, dir_fd=folder_fd)
            except OSError:
                continue  # gone already (another writer's cleaning), or not ours to remove
    finally:
        os.close(folder_fd)


def _process_gone(pid: int) -> bool:
    """No process ``pid`` exists here (one of another user's answers EPERM: alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):  # EPERM: alive; a pid past the C int: none we wrote
        return False
    return False


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
