"""Schema 4: a fill's charges in the fills table, written, chained, decoded strictly, migrated.

The charge columns are money rows recovery trusts, so they are in the checksum chain
(an edited amount is refused like an edited price) and decoded with no coercion: all
NULL (a fill from before schema 4), or every component an exact non-negative decimal
and a paise share within a paisa of their sum. An older database is migrated in place
and says how many of its fills carry no charges.
"""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from kitetui.store.database import open_database, take_notices
from kitetui.store.errors import DatabaseRefused, RowError
from kitetui.store.journal import Journal, charge_columns
from kitetui.store.rows import (
    FILL_CHARGE_COLUMNS,
    decode_fill_charges,
    fill_charges_from_row,
)
from kitetui.store.runs import create_run, load_fills
from kitetui.store.schema import MIGRATIONS, SCHEMA_VERSION
from kitetui.store.verify import verify_database
from kitetui.trading.charges import Charges, FillCost

from .journal_support import RUN, TIMEOUT_S, fill, order

D = Decimal
COST = FillCost(
    Charges(
        brokerage=D("20"),
        stt=D("0"),
        exchange=D("17.1"),
        ipft=D("0.09"),
        sebi=D("0.9"),
        stamp=D("27"),
        gst=D("6.82200"),
    ),
    7191,
)


def test_charge_columns_round_trip_exactly() -> None:
    columns = charge_columns(COST)
    assert columns == ("20", "0", "17.19", "0.09", "0.9", "27", "6.82200", "0", 7191)
    assert decode_fill_charges(columns) == COST
    assert decode_fill_charges(charge_columns(None)) is None
    assert fill_charges_from_row(dict(zip(FILL_CHARGE_COLUMNS, columns, strict=True))) == COST


def test_tiny_amounts_are_written_without_an_exponent() -> None:
    cost = FillCost(Charges(sebi=D("1E-7")), 0)
    assert charge_columns(cost)[4] == "0.0000001"
    assert decode_fill_charges(charge_columns(cost)) == cost


@pytest.mark.parametrize(
    ("at", "value", "says"),
    [
        (0, None, "charge_brokerage None is not decimal text"),
        (1, 0.5, "charge_stt 0.5 is not decimal text"),
        (2, "abc", "charge_exchange 'abc' is not a decimal amount"),
        (4, "-0.9", "charge_sebi '-0.9' is not a non-negative decimal amount"),
        (5, "NaN", "charge_stamp 'NaN' is not a non-negative decimal amount"),
        (6, " 6.822", "charge_gst ' 6.822' is not a non-negative"),
        (3, "18", "charge_ipft '18' is more than charge_exchange '17.19'"),
        (7, "-15.93", "charge_dp '-15.93' is not a non-negative decimal amount"),
        (7, 15.93, "charge_dp 15.93 is not decimal text"),
        (7, "15.93", "charges_paise 7191 does not match its components"),
        (8, "7191", "charges_paise '7191' is not an integer"),
        (8, 7300, "charges_paise 7300 does not match its components"),
    ],
)
def test_a_damaged_charge_column_is_a_row_error_naming_it(at: int, value, says: str) -> None:
    columns = list(charge_columns(COST))
    columns[at] = value
    with pytest.raises(RowError, match=says.replace("(", r"\(").replace(")", r"\)")):
        decode_fill_charges(columns)


def test_a_dp_charge_round_trips_and_is_in_the_paise_share() -> None:
    """Schema 8: the DP charge (₹13.50 + GST) is a component of its own, signed on a CNC
    fill only (a buy that nets the day's delivery sale away hands it back)."""
    cost = FillCost(Charges(stt=D("101"), dp=D("15.93")), 11693)
    columns = charge_columns(cost)
    assert columns[7] == "15.93" and columns[8] == 11693
    assert decode_fill_charges(columns) == cost
    back = FillCost(Charges(dp=D("-15.93")), -1593)
    assert decode_fill_charges(charge_columns(back), signed=True) == back
    with pytest.raises(RowError, match=r"charge_dp .-15\.93. is not a non-negative"):
        decode_fill_charges(charge_columns(back))


def test_a_fill_journaled_before_schema_8_reads_with_no_dp_charge() -> None:
    """charge_dp NULL with the rest recorded: kitetui did not book DP then (none); NULL
    everywhere is still a fill with no charges recorded at all."""
    columns = list(charge_columns(COST))
    columns[7] = None
    assert decode_fill_charges(columns) == COST
    assert decode_fill_charges([None] * len(FILL_CHARGE_COLUMNS)) is None


async def _journal_with_charged_fill(path: Path) -> None:
    db = await open_database(path)
    try:
        await create_run(db, RUN, "replay", "cfg.yaml", "hash")
        journal = Journal(db, RUN)
        await journal.load_sequences()
        placed = order("A1")
        await journal.write_order(placed)
        from dataclasses import replace

        await journal.write_fill(replace(fill("A1-1", "A1"), charges=COST), placed, None, 1)
        await journal.write_fill(fill("A1-2", "A1"), placed, None, 2)  # unpriced: all NULL
        await journal.close()
        got = [f.charges for _, f in await load_fills(db, RUN)]
        assert got == [COST, None]
    finally:
        await db.close()


async def test_journaled_charges_are_chained_and_an_edit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    await asyncio.wait_for(_journal_with_charged_fill(path), TIMEOUT_S)
    verify_database(path, trust_seal=False)  # as written, it verifies
    with sqlite3.connect(path) as con:
        con.execute("UPDATE fills SET charges_paise = 7190 WHERE fill_id = 'A1-1'")
    before = path.read_bytes()
    with pytest.raises(DatabaseRefused, match=r"table fills, row 1 \(fill_id 'A1-1'\)"):
        verify_database(path, trust_seal=False)
    assert path.read_bytes() == before


async def test_a_row_that_does_not_decode_is_named_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    await asyncio.wait_for(_journal_with_charged_fill(path), TIMEOUT_S)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE fills SET charge_gst = 'lots' WHERE fill_id = 'A1-1'")
    with pytest.raises(DatabaseRefused, match=r"charge_gst 'lots' is not a decimal amount"):
        verify_database(path, trust_seal=False)


def _write_version_three(path: Path) -> None:
    """Schema 3 written with plain SQL, sealed by kitetui's own chain code."""
    from kitetui.store.chain import reseal_all_sync

    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = WAL")
    for script in MIGRATIONS[:3]:
        con.executescript(script)
    con.execute(
        "INSERT INTO runs (run_id, mode, config_path, config_hash, status, started_wall_ns) "
        "VALUES ('old', 'replay', 'c.yaml', 'h', 'RUNNING', 1)"
    )
    con.execute(
        "INSERT INTO orders (tag, run_id, engine, symbol, exchange, side, quantity, "
        "order_type, product, purpose, status, ts_ns, price, trigger_price, stop_price, "
        "filled_qty, avg_price, broker_order_id, signal_id, reason, validity, variety, seq) "
        "VALUES ('A1', 'old', 'fno', 'NIFTY22NOVFUT', 'NFO', 'BUY', 50, 'MARKET', 'MIS', "
        "'ENTRY', 'COMPLETE', 5, 0, 0, 0, 50, 18300.5, 'B1', 's1', '', 'DAY', 'regular', 1)"
    )
    con.execute(
        "INSERT INTO fills (fill_id, seq, run_id, tag, engine, symbol, side, quantity, price, "
        "product, ts_ns, clock_ns) VALUES ('A1-1', 1, 'old', 'A1', 'fno', 'NIFTY22NOVFUT', "
        "'BUY', 50, 18300.5, 'MIS', 1668742560000000000, 6)"
    )
    con.execute("PRAGMA user_version = 3")
    reseal_all_sync(con)
    con.commit()
    con.close()


async def test_a_schema_three_database_is_migrated_and_says_its_fills_have_no_charges(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    _write_version_three(path)
    assert verify_database(path, trust_seal=False).version == 3
    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        notices = take_notices(db)
        migrated = [message for kind, message in notices if kind == "DatabaseMigrated"]
        assert len(migrated) == 1
        assert (
            f"schema 3 -> {SCHEMA_VERSION}: its 1 fill(s) were journaled before kitetui "
            "recorded charges" in migrated[0]
        )
        [(_, old_fill)] = await load_fills(db, "old")
        assert old_fill.charges is None and old_fill.price == 18300.5
    finally:
        await db.close()
    verified = verify_database(path, trust_seal=False)
    assert (verified.version, verified.rows["fills"]) == (len(MIGRATIONS), 1)


async def test_a_schema_7_database_migrates_to_8_and_its_fills_read_with_no_dp_charge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Schema 8 adds charge_dp: a fill kitetui 7 journaled with charges keeps them, reads
    with no DP charge, and the fills chain is resealed in the migration (it verifies)."""
    from kitetui.store import database, schema
    from kitetui.store.chain import seal_sync

    path = tmp_path / "state.db"
    for module in (schema, database):
        monkeypatch.setattr(module, "MIGRATIONS", schema.MIGRATIONS[:7])
        monkeypatch.setattr(module, "SCHEMA_VERSION", 7)
    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        await create_run(db, RUN, "replay", "cfg.yaml", "hash")
        journal = Journal(db, RUN)
        await journal.load_sequences()
        await journal.write_order(order("A1"))
        await asyncio.wait_for(journal.close(), TIMEOUT_S)
    finally:
        await db.close()
    seven = [c for c in FILL_CHARGE_COLUMNS if c != "charge_dp"]
    values = [v for c, v in zip(FILL_CHARGE_COLUMNS, charge_columns(COST), strict=True)
              if c != "charge_dp"]  # fmt: skip
    with sqlite3.connect(path, isolation_level=None) as con:  # as kitetui 7 wrote it
        con.execute("BEGIN")
        con.execute(
            "INSERT INTO fills (fill_id, seq, run_id, tag, engine, symbol, side, quantity, "
            f"price, product, ts_ns, clock_ns, {', '.join(seven)}) "
            f"VALUES ('A1-1', 1, ?, 'A1', 'fno', 'NIFTY22NOVFUT', 'BUY', 50, 18305.05, 'MIS', "
            f"1668742560000000000, 1, {', '.join('?' * len(seven))})",
            (RUN, *values),
        )
        assert seal_sync(con, ["fills"]) == 1
        con.execute("COMMIT")
    assert verify_database(path, trust_seal=False).version == 7
    monkeypatch.undo()
    db = await asyncio.wait_for(open_database(path), TIMEOUT_S)
    try:
        migrated = [m for kind, m in take_notices(db) if kind == "DatabaseMigrated"]
        assert len(migrated) == 1 and f"schema 7 -> {SCHEMA_VERSION}" in migrated[0]
        [(_, old)] = await load_fills(db, RUN)
        assert old.charges == COST and old.charges.charges.dp == 0
    finally:
        await db.close()
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT charge_dp FROM fills").fetchall() == [(None,)]
    verified = verify_database(path, trust_seal=False)
    assert (verified.version, verified.rows["fills"]) == (SCHEMA_VERSION, 1)


# A CNC backtest's same-day close (HDFCBANK, 150 sold at 2023-04-11 12:45, kitetui before
# this fix): its own order's share and the bought order's re-pricing, each rounded to
# paise, came to -16033 paise where the components add up to -₹160.3416720500, 1.17 paise
# apart; the decoder allowed 1 and kitetui refused the database it had just written.
SAME_DAY_CLOSE = ("40", "-187.646250", "8.34200250", "0.2490150", "0.2490150", "-29.988000",
                  "8.7015604500", "0", -16033)  # fmt: skip


def test_a_cnc_close_carrying_another_orders_repricing_decodes_within_its_roundings() -> None:
    cost = decode_fill_charges(SAME_DAY_CLOSE, signed=True, carried=150)
    assert cost is not None and cost.paise == -16033
    assert cost.charges.total == D("-160.3416720500")
    off = list(SAME_DAY_CLOSE)
    off[-1] = -16033 + 200  # two rupees off: more than 1 + 150 paise of rounding
    with pytest.raises(RowError, match="charges_paise -15833 does not match"):
        decode_fill_charges(off, signed=True, carried=150)
    row = {**dict(zip(FILL_CHARGE_COLUMNS, SAME_DAY_CLOSE, strict=True)),
           "product": "CNC", "quantity": 150}  # fmt: skip
    assert fill_charges_from_row(row) == cost
