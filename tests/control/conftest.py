"""Fixtures for the control-socket tests: a short socket folder and a served fake desk."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest
from control_helpers import FakeDesk, make_snapshot

from kitetui.control.protocol import socket_path_for
from kitetui.control.server import ControlServer

T = 5.0


@pytest.fixture
def sock_dir():
    # pytest's tmp_path can exceed the 107-byte limit of a Unix socket path
    path = Path(tempfile.mkdtemp(prefix="kt", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def served(sock_dir):
    """A ControlServer for a FakeDesk beside ``sock_dir/state.db``: (desk, server)."""
    desk = FakeDesk(make_snapshot())
    server = ControlServer(desk, socket_path_for(sock_dir / "state.db"), max_rate=50)
    await asyncio.wait_for(server.start(), T)
    yield desk, server
    await asyncio.wait_for(server.stop(), T)
