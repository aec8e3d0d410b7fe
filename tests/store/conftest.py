"""Fixtures for the store tests: one journal written once, a private copy per test."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from .journal_support import TIMEOUT_S, write_journal


@pytest.fixture(scope="session")
def journal_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("journal") / "master.db"
    asyncio.run(asyncio.wait_for(write_journal(path), TIMEOUT_S))
    return path


@pytest.fixture
def journal_db(journal_master: Path, tmp_path: Path) -> Path:
    """A private copy of the journal (and its seal) for one test to change."""
    path = tmp_path / "state.db"
    path.write_bytes(journal_master.read_bytes())
    path.chmod(0o600)  # as kitetui made it (tests run under a looser umask)
    seal = journal_master.with_name(journal_master.name + "-seal")
    if seal.exists():
        path.with_name(path.name + "-seal").write_bytes(seal.read_bytes())
    return path
