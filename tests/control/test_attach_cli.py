"""``kitetui attach`` to no desk: one line and exit 3, before the screen opens (as ctl).

``sock_dir`` (tests/control/conftest.py) is a short folder: socket paths fit 107 bytes."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tests.cli_helpers import run_kitetui


def _stale_socket(path: Path) -> Path:
    """A socket file nobody listens on: a desk killed with kill -9 leaves one."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.close()  # the file stays; connecting to it is refused
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("make", [_stale_socket, _fifo], ids=["stale-socket", "fifo"])
def test_attach_to_a_socket_no_desk_serves_is_one_line_and_exit_3(sock_dir: Path, make) -> None:
    path = make(sock_dir / "k.db.sock")
    proc = run_kitetui("attach", "--socket", str(path), timeout=60)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert proc.stdout == "" and "\x1b" not in proc.stderr  # the screen never opened
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith(f"error: cannot connect to the desk at {path}")


def test_attach_beside_a_database_whose_desk_was_killed_is_exit_3(sock_dir: Path) -> None:
    _stale_socket(sock_dir / "k.db.sock")
    proc = run_kitetui("attach", "--db", str(sock_dir / "k.db"), timeout=60)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_attach_with_no_socket_file_says_no_desk_is_listening(sock_dir: Path) -> None:
    proc = run_kitetui("attach", "--db", str(sock_dir / "k.db"), timeout=60)
    assert proc.returncode == 3
    assert proc.stderr.startswith(f"error: no desk is listening at {sock_dir / 'k.db.sock'}")
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
