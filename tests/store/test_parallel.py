"""Verifying the chains in slices on several processes (kitetui/store/parallel.py).

Slices are made tiny here (``SLICE_ROWS`` patched to 4) so the fixture's journal is cut
into many; the verdict, and for a damaged file the exact one-line refusal, must be the
same as one in-process pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kitetui.store import parallel
from kitetui.store.errors import DatabaseRefused
from kitetui.store.verify import verify_database

from .journal_support import edit


@pytest.fixture
def tiny_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "SLICE_ROWS", 4)


def refusal(path: Path, workers: int) -> str:
    with pytest.raises(DatabaseRefused) as refused:
        verify_database(path, trust_seal=False, workers=workers)
    return str(refused.value)


def test_verify_database_with_workers_counts_what_one_pass_counts(
    journal_db: Path, tiny_slices: None
) -> None:
    one = verify_database(journal_db, trust_seal=False, workers=1)
    many = verify_database(journal_db, trust_seal=False, workers=3)
    assert many.rows == one.rows
    assert many.rows["order_events"] == 18  # five slices of four


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE order_events SET reason = 'x' WHERE id = 14",  # the fourth slice
        "DELETE FROM order_events WHERE id = 9",  # a row at a slice's edge
        "DELETE FROM order_events WHERE id = 18",  # the end of the chain
        "UPDATE orders SET quantity = 1 WHERE tag = 'T05'",
        "UPDATE chain_heads SET rows = 19 WHERE tbl = 'order_events'",
    ],
)
def test_verify_database_with_workers_refuses_exactly_as_one_pass(
    journal_db: Path, tiny_slices: None, damage: str
) -> None:
    edit(journal_db, damage)
    assert refusal(journal_db, 3) == refusal(journal_db, 1)


def test_plan_with_small_table_keeps_it_whole(journal_db: Path) -> None:
    import sqlite3

    from kitetui.store.chain import BY_NAME, ChainHead

    con = sqlite3.connect(journal_db)
    heads = {r[0]: ChainHead(*r[1:]) for r in con.execute("SELECT * FROM chain_heads")}
    slices = parallel.plan(con, [(BY_NAME["fills"], ["fill_id", "chk"])], heads, "x" * 32)
    con.close()
    assert [(s.table, s.rowids, s.position) for s in slices] == [("fills", None, 0)]


def test_verify_database_with_workers_runs_the_slices_in_child_processes(
    journal_db: Path, tiny_slices: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_here(*args):
        raise AssertionError("a slice was verified in the parent process")

    monkeypatch.setattr(parallel, "_check", not_here)  # the children have their own copy
    assert verify_database(journal_db, trust_seal=False, workers=2).rows["order_events"] == 18
