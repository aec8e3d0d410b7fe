"""Files planted where kitetui writes: a symlink to another file of the user's, or a file
another local user created in a shared folder, must never be overwritten, followed or
handed the trade history.

Each test plants the file itself in a temp dir; "another user's file" is simulated by
making ``os.geteuid`` answer a different uid, so the tests run as any user.
"""

from __future__ import annotations

import sqlite3
import stat
import sys
from pathlib import Path

import pytest

from kitetui.store.seal import is_sealed, seal_path, write_seal

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
