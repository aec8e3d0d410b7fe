"""Files planted where kitetui writes: a symlink to another file of the user's, or a file
another local user created in a shared folder, must never be overwritten, followed or
handed the trade history.

Each test plants the file itself in a temp dir; "another user's file" is simulated by
making ``os.geteuid`` answer a different uid, so the tests run as any user.
"""

from __future__ import annotations

import errno
import gzip
import os
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kitetui.private_files import make_private_dir, write_private
from kitetui.store.database import check_path
from kitetui.store.errors import DatabasePathError
from kitetui.store.lock import DeskLock
from kitetui.store.recording import (
    RecordingError,
    TickRecorder,
    load_recording,
    master_beside,
    save_master,
)
from kitetui.store.seal import is_sealed, seal_path, write_seal
from kitetui.sweep.results import write_csv

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX files")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def small_db(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    return path


def test_write_seal_with_symlink_planted_at_its_temp_name_leaves_the_target_alone(
    tmp_path: Path,
) -> None:
    db = small_db(tmp_path / "state.db")
    precious = tmp_path / "notes.txt"
    precious.write_text("my notes\n")
    planted = seal_path(db).with_name(seal_path(db).name + ".tmp")
    planted.symlink_to(precious)

    assert write_seal(db)

    assert precious.read_text() == "my notes\n"
    assert not seal_path(db).is_symlink()
    assert mode(seal_path(db)) == 0o600
    assert is_sealed(db)


def test_write_private_with_another_users_file_in_the_way_refuses_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = tmp_path / "fills.csv"  # created, open to all, by someone else
    planted.write_text("")
    planted.chmod(0o666)
    monkeypatch.setattr(os, "geteuid", lambda: planted.stat().st_uid + 1)

    with pytest.raises(OSError) as caught:
        write_private(planted, "ts,price\nSECRET-TRADE,520\n")

    assert "not by you" in str(caught.value.strerror)
    assert planted.read_text() == ""


def test_write_private_with_an_open_file_of_ours_tightens_it_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "report.json"
    old.write_text("an older, longer report")
    old.chmod(0o644)
    seen: list[int] = []
    real_fdopen = os.fdopen

    def fdopen(fd: int, *args: object, **kwargs: object):  # the mode when writing begins
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", fdopen)
    write_private(old, "{}")

    assert seen == [0o600]
    assert old.read_text() == "{}"


def test_write_private_over_a_hard_link_replaces_its_own_name_and_leaves_the_other(
    tmp_path: Path,
) -> None:
    """A report, export or sweep file that is a hard link (st_nlink 2) to another file
    of the user's was truncated in place, the other name's content with it. The new
    content goes to a scratch file in the same folder, renamed over the old name."""
    precious = tmp_path / "notes.txt"
    precious.write_text("my notes\n")
    precious.chmod(0o644)
    linked = tmp_path / "equity.csv"
    linked.hardlink_to(precious)

    write_private(linked, "ts,equity\n")

    assert precious.read_text() == "my notes\n" and mode(precious) == 0o644
    assert precious.stat().st_nlink == 1
    assert linked.read_text() == "ts,equity\n" and mode(linked) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["equity.csv", "notes.txt"]


def test_sweep_results_over_a_hard_link_leave_the_other_name_alone(tmp_path: Path) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("my notes\n")
    results = tmp_path / "results.csv"
    results.hardlink_to(precious)

    write_csv(results, [], ["fast"])

    assert precious.read_text() == "my notes\n"
    assert results.read_text().startswith("rank,")


def test_write_private_with_a_symlink_refuses_it_and_leaves_the_target(tmp_path: Path) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("my notes\n")
    precious.chmod(0o644)
    (tmp_path / "latest.csv").symlink_to(precious)

    with pytest.raises(OSError) as caught:
        write_private(tmp_path / "latest.csv", "a\n")

    assert caught.value.errno == errno.ELOOP
    assert precious.read_text() == "my notes\n" and mode(precious) == 0o644


def test_write_private_into_another_users_folder_refuses_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs = tmp_path / "shared"
    theirs.mkdir()
    theirs.chmod(0o777)
    monkeypatch.setattr(Path, "stat", _owned_by(theirs, 4242, os.geteuid(), Path.stat))

    with pytest.raises(OSError) as caught:
        write_private(theirs / "fills.csv", "ts,price\nSECRET-TRADE,520\n")

    assert caught.value.strerror.startswith("the folder is owned by uid 4242, not by you")
    assert list(theirs.iterdir()) == []


@pytest.mark.parametrize(
    ("owner", "folder_mode", "refused"),
    [
        (4242, 0o755, True),
        (4242, 0o1777, True),
        (0, 0o777, True),
        (0, 0o1777, False),
        (0, 0o755, False),
    ],
    ids=["other-user", "other-user-sticky", "root-open", "root-sticky", "root-closed"],
)
def test_make_private_dir_trusts_only_your_own_or_roots_guarded_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, owner: int, folder_mode: int, refused: bool
) -> None:
    """``--out`` a folder another user owns: the owner may delete, rename or swap the
    files kitetui writes there. Root's ``/tmp`` (sticky) stays usable."""
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(folder_mode)
    monkeypatch.setattr(os, "geteuid", lambda: 4343)
    monkeypatch.setattr(Path, "stat", _owned_by(out, owner, 4343, Path.stat))

    if refused:
        with pytest.raises(OSError, match=f"owned by uid {owner}, not by you"):
            make_private_dir(out)
    else:
        make_private_dir(out)
    assert stat.S_IMODE(out.stat().st_mode) == folder_mode


# -- a paper/live session's recording and the master saved beside it --------------------


def test_recorder_with_symlink_at_its_recording_refuses_and_leaves_the_target(
    tmp_path: Path,
) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("my notes\n")
    precious.chmod(0o644)
    path = tmp_path / "rec" / "run1.ticks.gz"
    path.parent.mkdir()
    path.symlink_to(precious)

    with pytest.raises(RecordingError, match="symbolic link"):
        TickRecorder(path)

    assert precious.read_text() == "my notes\n"
    assert mode(precious) == 0o644


def test_save_master_with_symlink_planted_refuses_and_leaves_the_target(
    tmp_path: Path,
) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("my notes\n")
    recording = tmp_path / "run1.ticks.gz"
    master_beside(recording).symlink_to(precious)

    with pytest.raises(RecordingError, match="symbolic link"):
        save_master(recording, b"instrument_token,tradingsymbol\n")

    assert precious.read_text() == "my notes\n"


def test_save_master_with_an_open_old_file_leaves_it_0600(tmp_path: Path) -> None:
    recording = tmp_path / "run1.ticks.gz"
    master_beside(recording).write_text("older")
    master_beside(recording).chmod(0o644)

    save_master(recording, b"instrument_token,tradingsymbol\n")

    assert master_beside(recording).read_bytes() == b"instrument_token,tradingsymbol\n"
    assert mode(master_beside(recording)) == 0o600


def test_recorder_mending_a_cut_file_with_symlink_at_its_scratch_leaves_the_target(
    tmp_path: Path,
) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("my notes\n")
    path = tmp_path / "run1.ticks.gz"
    whole = gzip.compress(b"B,1\nT,INFY,1,1500.0,1,0\nB,2\nT,INFY,2,1501.0,1,0\n")
    path.write_bytes(whole[:-8])  # a killed session: the member has no end
    path.with_name(path.name + ".mending").symlink_to(precious)

    recorder = TickRecorder(path)
    recorder.close(timeout=5)

    assert precious.read_text() == "my notes\n"
    assert recorder.mended is not None and "cut short" in recorder.mended
    assert [ts for ts, _ in load_recording(path)] == [1]
    assert mode(path) == 0o600


# -- the database and the files SQLite keeps beside it -----------------------------------


@pytest.mark.parametrize("planted", ["", "-wal", "-shm"], ids=["database", "wal", "shm"])
def test_check_path_with_another_users_file_refuses_and_touches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: str
) -> None:
    db = small_db(tmp_path / "state.db")
    theirs = db.with_name(db.name + planted)
    theirs.touch()
    theirs.chmod(0o666)
    before = {p.name: (p.stat().st_mode, p.read_bytes()) for p in tmp_path.iterdir()}
    uid = theirs.stat().st_uid  # shown as the other user's; every other file as ours
    monkeypatch.setattr(os, "geteuid", lambda: uid + 1)
    monkeypatch.setattr(Path, "stat", _owned_by(theirs, uid, uid + 1, Path.stat))

    with pytest.raises(DatabasePathError, match=f"owned by uid {uid}, not by you"):
        check_path(db, [])

    assert {p.name: (p.stat().st_mode, p.read_bytes()) for p in tmp_path.iterdir()} == before


def _owned_by(theirs: Path, their_uid: int, our_uid: int, real_stat):
    """``Path.stat`` with ``theirs`` owned by ``their_uid`` and every other file by ours."""

    def stat_(self: Path, *args: object, **kwargs: object) -> os.stat_result:
        found = list(real_stat(self, *args, **kwargs))
        found[4] = their_uid if self == theirs else our_uid  # st_uid
        return os.stat_result(found)

    return stat_


def test_desk_lock_with_another_users_lock_file_refuses_and_leaves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = small_db(tmp_path / "state.db")
    planted = DeskLock(db).path
    planted.write_text("4242\nopen\n900\n")  # a holder's pid, a lost WAL's marks
    planted.chmod(0o666)
    monkeypatch.setattr(os, "geteuid", lambda: planted.stat().st_uid + 1)

    with pytest.raises(DatabasePathError, match="owned by uid"):
        DeskLock(db).acquire()

    assert planted.read_text() == "4242\nopen\n900\n"


# -- scratch files a killed write left behind -------------------------------------------


def _dead_pid() -> int:
    """The pid of a process that has come and gone (reaped: no zombie answers for it)."""
    probe = subprocess.Popen([sys.executable, "-c", "pass"])
    probe.wait()
    return probe.pid


_KILLED_WRITER = """
import os, sys, time
from pathlib import Path
import kitetui.private_files as private_files

def stuck(src, dst):  # between the scratch file's fsync and its rename
    print("written", flush=True)
    time.sleep(60)

os.replace = stuck
private_files.write_private(Path(sys.argv[1]), "ts,equity\\n" * 1000)
"""


def test_write_private_after_a_writer_was_sigkilled_removes_its_scratch_file(
    tmp_path: Path,
) -> None:
    """A process killed between creating its scratch file and renaming it left
    ``.equity.csv.<pid>.<hex>.part`` in the report folder for good; the next write of
    equity.csv removes it, as its writer is gone."""
    target = tmp_path / "equity.csv"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(target)], stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"written\n"
        (left,) = [p.name for p in tmp_path.iterdir()]
        assert left.startswith(".equity.csv.") and left.endswith(".part")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)  # reaped: a zombie still answers for its pid

    write_private(target, "ts,equity\n")

    assert [p.name for p in tmp_path.iterdir()] == ["equity.csv"]
    assert target.read_text() == "ts,equity\n"


def test_write_private_removes_only_its_own_names_scratch_of_dead_writers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removed: a regular file of ours named as ``report.json``'s scratch by a pid that
    is gone. Kept: a live writer's (its rename is still to come), another file's, a
    symlink (never followed: its target keeps its content), another user's, and one
    whose name only looks like a scratch file."""
    dead = _dead_pid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        precious = tmp_path / "notes.txt"
        precious.write_text("my notes\n")
        stale = f".report.json.{dead}.0123abcd.part"
        kept = {
            f".report.json.{live.pid}.0123abcd.part": "a live writer's",
            f".report.json.{os.getpid()}.4567cdef.part": "this process's other thread's",
            f".fills.csv.{dead}.0123abcd.part": "another file's",
            f".report.json.x.{dead}.0123abcd.part": "report.json.x's",
            f".report.json.{dead}.part": "not a scratch name",
            f".report.json.{dead}.89abcdef.part": "another user's",
        }
        for name, text in {stale: "half a report", **kept}.items():
            (tmp_path / name).write_text(text)
        planted = f".report.json.{dead}.feedf00d.part"
        (tmp_path / planted).symlink_to(precious)
        theirs = f".report.json.{dead}.89abcdef.part"
        real_stat = os.stat

        def stat_(path, *args, **kwargs):  # ``theirs`` as another user's file
            found = real_stat(path, *args, **kwargs)
            if str(path) == theirs:
                return os.stat_result((*found[:4], found.st_uid + 1, *found[5:]))
            return found

        monkeypatch.setattr(os, "stat", stat_)

        write_private(tmp_path / "report.json", "{}")
    finally:
        live.kill()
        live.wait(10)

    names = {p.name for p in tmp_path.iterdir()}
    assert stale not in names
    assert names == {"report.json", "notes.txt", planted, *kept}
    assert {name: (tmp_path / name).read_text() for name in kept} == kept
    assert (tmp_path / planted).is_symlink() and precious.read_text() == "my notes\n"
