"""Market structure end to end: real contracts, lots, expiries, rolls and the universe."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import sqlite3
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from cli_helpers import run_kitetui

from kitetui.backtest.build import build_report
from kitetui.backtest.files import trades_csv
from kitetui.backtest.ledger import load_ledger
from kitetui.cli import DEFAULT_CONFIG
from kitetui.config import parse_config
from kitetui.domain import OrderPurpose
from kitetui.money import Charges
from kitetui.runs_listing import list_runs
from kitetui.store.rows import fill_charges_from_row
from kitetui.supervisor import Supervisor

KITE_HEADER = (
    "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,"
    "tick_size,lot_size,instrument_type,segment,exchange"
)


async def _run(config, db: Path, hook=None) -> Supervisor:
    supervisor = Supervisor(config, "test.yaml", database=db, speed=None)
    await asyncio.wait_for(supervisor.open(), 30)
    if hook is not None:
        process = supervisor._process

        async def hooked(ts, batch, warm):
            await process(ts, batch, warm)
            hook(supervisor)

        supervisor._process = hooked
    try:
        await asyncio.wait_for(supervisor.run(), 180)
    finally:
        await asyncio.wait_for(supervisor.close(), 30)
    return supervisor


def _rows(db: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


async def test_default_replay_with_three_engines_trades_real_contracts_in_lots(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.db"
    config = parse_config(yaml.safe_load(DEFAULT_CONFIG.read_text()), "dev.yaml")
    seen_views: list = []

    def capture(supervisor: Supervisor) -> None:
        if not seen_views and any(
            p.engine == "options" for p in supervisor.portfolio.open_positions()
        ):
            seen_views.extend(supervisor.publisher.build(1).positions)

    await _run(config, db, capture)
    by_engine = dict(_rows(db, "SELECT engine, count(*) FROM fills GROUP BY engine"))
    assert set(by_engine) == {"fno", "options", "equity"}, by_engine
    lots = _rows(db, "SELECT symbol, quantity FROM orders WHERE engine IN ('fno', 'options')")
    assert lots and all(qty % 50 == 0 for _, qty in lots), lots
    fno_symbols = {s for s, _ in _rows(db, "SELECT symbol, 1 FROM orders WHERE engine='fno'")}
    assert fno_symbols == {"NIFTY22NOVFUT"}
    option_symbols = {
        s for (s,) in _rows(db, "SELECT DISTINCT symbol FROM orders WHERE engine='options'")
    }
    assert option_symbols and all(
        s.startswith("NIFTY22NOV") and s[-2:] in ("CE", "PE") for s in option_symbols
    )
    # options are bought, never written: every entry is a BUY
    sides = _rows(db, "SELECT DISTINCT side FROM orders WHERE engine='options' AND purpose='ENTRY'")
    assert sides == [("BUY",)]
    # the TUI's position view shows contract, lots and expiry
    option_view = next(v for v in seen_views if v.engine == "options")
    assert option_view.lot_size == 50 and option_view.expiry == "2022-11-24"
    # the master is cached per trading day, the universe journaled with reasons
    days = dict(_rows(db, "SELECT trading_day, count(*) FROM instruments GROUP BY 1"))
    assert days["2022-11-18"] > 400 and "2023-04-03" in days
    chosen = _rows(db, "SELECT symbol FROM universe WHERE trading_day='2023-04-03' AND selected=1")
    assert sorted(s for (s,) in chosen) == [
        "AXISBANK",
        "HDFCBANK",
        "ICICIBANK",
        "KOTAKBANK",
        "SBIN",
    ]
    reasons = dict(
        _rows(
            db, "SELECT symbol, reason FROM universe WHERE trading_day='2023-04-03' AND selected=0"
        )
    )
    assert reasons["RELIANCE"] == "not in the instrument master"  # the replay master
    events = {k for (k,) in _rows(db, "SELECT DISTINCT kind FROM events")}
    assert {"ContractResolved", "OptionsRolled", "UniverseSelected"} <= events
    # options and futures square off at 15:25, equities at 15:20
    squares = _rows(
        db,
        "SELECT engine, min((ts_ns / 1000000000 + 19800) % 86400) FROM orders "
        "WHERE purpose='SQUARE_OFF' GROUP BY engine",
    )
    for engine, second_of_day in squares:
        assert second_of_day >= (15 * 3600 + (25 if engine != "equity" else 20) * 60)


# ---- a constructed replay across an expiry -------------------------------------------

IST = timedelta(hours=5, minutes=30)


OPTION_EXPIRIES = (("NIFTY22NOV", "2022-11-24"), ("NIFTY22D01", "2022-12-01"))


def _master(path: Path, options: tuple[tuple[str, str], ...] = OPTION_EXPIRIES) -> None:
    """NIFTY 50, the NOV and DEC futures, and 17800-18800 options of ``options``' expiries
    (by default the NOV monthly and the next weekly, 1-Dec)."""
    rows = [KITE_HEADER, "256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE"]
    token = 100
    futures = [("NIFTY22NOVFUT", "2022-11-24"), ("NIFTY22DECFUT", "2022-12-29")]
    for symbol, expiry in futures:
        token += 1
        rows.append(
            f"{token * 256 + 2},{token},{symbol},NIFTY,0,{expiry},0,0.05,50,FUT,NFO-FUT,NFO"
        )
    for prefix, expiry in options:
        for strike in range(17800, 18801, 50):
            for right in ("CE", "PE"):
                token += 1
                rows.append(
                    f"{token * 256 + 2},{token},{prefix}{strike}{right},NIFTY,0,{expiry},"
                    f"{strike}.0,0.05,50,{right},NFO-OPT,NFO"
                )
    path.write_text("\n".join(rows) + "\n")


def _index_candles(path: Path) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "open", "high", "low", "close", "volume"])
    level = 18000.0
    for day in (date(2022, 11, 23), date(2022, 11, 24), date(2022, 11, 25)):
        for minute in range(375):
            ts = f"{day} {9 + (15 + minute) // 60:02d}:{(15 + minute) % 60:02d}:00+05:30"
            swing = 60 * ((minute // 40) % 2 * 2 - 1)  # zig-zag so the EMAs cross
            close = level + swing * (minute % 40) / 40
            writer.writerow([ts, close, close + 5, close - 5, close, 0])
        level += 150  # each day a strike or three higher
    path.write_bytes(gzip.compress(out.getvalue().encode()))


async def test_replay_across_expiry_with_roll_rolls_future_and_options(tmp_path: Path) -> None:
    _master(tmp_path / "instruments.csv")
    _index_candles(tmp_path / "index.csv.gz")
    data = {
        "replay": {
            "speed": "max",
            "sources": [{"symbol": "NIFTY 50", "path": str(tmp_path / "index.csv.gz")}],
        },
        "instruments": [str(tmp_path / "instruments.csv")],
        "engines": [
            {
                "name": "fno",
                "kind": "fno",
                "underlyings": ["NIFTY"],
                "roll_sessions": 1,
                "strategy": "ema_cross",
                "timeframe": "1m",
                "params": {"fast": 3, "slow": 8},
            },
            {
                "name": "options",
                "kind": "options",
                "underlying": "NIFTY",
                "underlying_symbol": "NIFTY 50",
                "strategy": "ema_cross",
                "timeframe": "1m",
                "params": {"fast": 3, "slow": 8},
            },
        ],
    }
    db = tmp_path / "state.db"
    await _run(parse_config(data, "t.yaml"), db)
    resolved = _rows(
        db, "SELECT ts_ns, symbol FROM events WHERE kind='ContractResolved' ORDER BY ts_ns"
    )

    def day_of(ts: int) -> str:
        from kitetui.clock import ist_date

        return ist_date(ts).isoformat()

    assert [(day_of(ts), s) for ts, s in resolved] == [
        ("2022-11-23", "NIFTY22NOVFUT"),
        ("2022-11-24", "NIFTY22DECFUT"),  # roll_sessions=1: rolled on expiry day
        ("2022-11-25", "NIFTY22DECFUT"),
    ]
    rolls = _rows(db, "SELECT ts_ns, message FROM events WHERE kind='OptionsRolled' ORDER BY ts_ns")
    expiries = [(_ist(ts), "2022-12-01" in m) for ts, m in rolls]
    assert any(when.startswith("2022-11-25") and nxt for when, nxt in expiries), rolls
    # the 1-Dec weekly from the NOV expiry day's cut-off (13:30) on, never before it
    first_next = min(when for when, nxt in expiries if nxt)
    assert first_next == "2022-11-24 13:30", rolls
    assert len({m.split("->")[1] for _, m in rolls}) >= 3  # ATM moved with the index
    # no quotes exist for these contracts: every option entry was refused, and said why;
    # none for the expiry-day cut-off, since past it the entries went to the next expiry
    why = {
        r
        for (r,) in _rows(
            db,
            "SELECT DISTINCT rule FROM risk_decisions WHERE engine='options' AND purpose='ENTRY'",
        )
    }
    assert why and why <= {"no_quote", "entry_cutoff"}, why


def _option_ticks(folder: Path, prefix: str, day: str, premium: float) -> None:
    """A tick each minute of ``day`` at ``premium`` for every listed strike of
    ``prefix`` (17800-18800, CE and PE): a quote for whatever the engine picks."""
    for strike in range(17800, 18801, 50):
        for right in ("CE", "PE"):
            lines = [
                f"{day.replace('-', '')},{9 + (15 + m) // 60:02d}:{(15 + m) % 60:02d}:00,"
                f"{premium:.2f},500,100000"
                for m in range(375)
            ]
            path = folder / f"{prefix}{strike}{right}.csv.gz"
            path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def _index_and_options(folder: Path) -> dict:
    """The replay of ``folder``'s NIFTY 50 candles and NIFTY option ticks, at full
    speed, and its instrument master."""
    return {
        "replay": {
            "speed": "max",
            "sources": [
                {"symbol": "NIFTY 50", "path": str(folder / "index.csv.gz")},
                {"exchange": "NFO", "kind": "ticks", "path": str(folder / "NIFTY22*.gz")},
            ],
        },
        "instruments": [str(folder / "instruments.csv")],
    }


def _options_across_expiry(folder: Path) -> dict:
    """The zig-zag NIFTY 50 of 23-25 Nov (a cross every 40 minutes) and an MIS options
    engine on it, quotes for the 1-Dec weekly on the NOV expiry day."""
    _index_candles(folder / "index.csv.gz")
    _option_ticks(folder, "NIFTY22D01", "2022-11-24", 40.0)
    return {
        **_index_and_options(folder),
        "engines": [
            {
                "name": "options",
                "kind": "options",
                "underlying": "NIFTY",
                "underlying_symbol": "NIFTY 50",
                "strategy": "ema_cross",
                "timeframe": "1m",
                "params": {"fast": 3, "slow": 8},
            }
        ],
    }


def _ist(ts_ns: int) -> str:
    """``YYYY-MM-DD HH:MM`` in IST."""
    from kitetui.clock import format_ist

    return format_ist(ts_ns)[:16]


async def test_after_the_expiry_day_cutoff_the_options_engine_trades_the_next_expiry(
    tmp_path: Path,
) -> None:
    """On the NOV expiry day, past ``expiry_day_cutoff`` (13:30), the engine's signals go
    to the next listed expiry (the 1-Dec weekly), as a trader rolls weeklies; it used to
    refuse every entry for the rest of the day. The roll is journaled once."""
    _master(tmp_path / "instruments.csv")
    db = tmp_path / "state.db"
    await _run(parse_config(_options_across_expiry(tmp_path), "t.yaml"), db)
    rolled = [
        (_ist(ts), m)
        for ts, m in _rows(
            db, "SELECT ts_ns, message FROM events WHERE kind='OptionsRolled' ORDER BY ts_ns"
        )
        if "expiry day" in m
    ]
    assert len(rolled) == 1, rolled
    ((when, message),) = rolled
    assert when == "2022-11-24 13:30", rolled
    assert "after 13:30 on its expiry day 2022-11-24" in message, message
    assert "to the next expiry 2022-12-01" in message and "NIFTY22D01" in message, message
    entries = [
        (_ist(ts), symbol, status)
        for ts, symbol, status in _rows(
            db, "SELECT ts_ns, symbol, status FROM orders WHERE purpose='ENTRY' ORDER BY ts_ns"
        )
        if _ist(ts).startswith("2022-11-24")
    ]
    late = [e for e in entries if e[0] >= "2022-11-24 13:30"]
    assert late and all(s.startswith("NIFTY22D01") and st == "COMPLETE" for _, s, st in late)
    assert not _rows(db, "SELECT 1 FROM risk_decisions WHERE rule='expiry_day_cutoff'")


async def test_past_the_cutoff_with_no_next_expiry_listed_the_engine_says_so_once(
    tmp_path: Path,
) -> None:
    """A master that lists no expiry after the NOV one: past the cutoff the engine keeps
    the expiring contracts (their entries refused, as before) and says once that it has
    nothing to roll to, rather than idling in silence."""
    _master(tmp_path / "instruments.csv", options=OPTION_EXPIRIES[:1])
    db = tmp_path / "state.db"
    await _run(parse_config(_options_across_expiry(tmp_path), "t.yaml"), db)
    missing = [
        (_ist(ts), level, m)
        for ts, level, m in _rows(
            db,
            "SELECT ts_ns, level, message FROM events WHERE kind='InstrumentMissing' "
            "ORDER BY ts_ns",
        )
        if _ist(ts).startswith("2022-11-24")
    ]
    assert len(missing) == 1, missing
    ((when, level, message),) = missing
    assert (when, level) == ("2022-11-24 13:30", "WARNING"), missing
    assert "no NFO:NIFTY option expiry is listed after 2022-11-24" in message, message
    refused = _rows(db, "SELECT ts_ns FROM risk_decisions WHERE rule='expiry_day_cutoff'")
    assert refused and all(_ist(ts) >= "2022-11-24 13:30" for (ts,) in refused)


def _two_days_of(source: Path, out: Path, cut_first_at: str) -> None:
    """The 2022-11-18 ticks of ``source`` as 2022-11-23 (cut at ``cut_first_at``) and
    2022-11-24 (NOV expiry)."""
    lines = gzip.decompress(source.read_bytes()).decode().splitlines()
    first = [
        line.replace("20221118", "20221123", 1)
        for line in lines
        if line.startswith("20221118") and line.split(",")[1] < cut_first_at
    ]
    second = [line.replace("20221118", "20221124", 1) for line in lines]
    out.write_bytes(gzip.compress("\n".join([*first, *second]).encode() + b"\n"))


async def test_after_a_roll_the_old_contract_is_only_closed_never_entered(
    tmp_path: Path,
) -> None:
    """An NRML long in the NOV future carried into its expiry day: the engine rolls to
    DEC and closes NOV; NOV's own signals that day must not open it again, or one
    engine holds twice its sized risk, half of it in a contract expiring that day."""
    replay = DEFAULT_CONFIG.parent / "replay"
    _two_days_of(replay / "NIFTY-I_20221118.csv.gz", tmp_path / "NOV.csv.gz", "10:30:00")
    _two_days_of(
        replay / "nfo_20221118" / "NIFTY-II_20221118.csv.gz", tmp_path / "DEC.csv.gz", "10:30:00"
    )
    data = {
        "replay": {
            "speed": "max",
            "sources": [
                {
                    "symbol": f"NIFTY22{m}FUT",
                    "exchange": "NFO",
                    "kind": "ticks",
                    "path": str(tmp_path / f"{m}.csv.gz"),
                }
                for m in ("NOV", "DEC")
            ],
        },
        "instruments": [str(replay / "nfo_20221118" / "instruments.csv")],
        "risk": {"max_order_value": 1e8, "max_gross_exposure": 1e8},
        "sizing": {"risk_per_trade_pct": 2, "max_capital_fraction": 1},
        "engines": [
            {
                "name": "fno",
                "kind": "fno",
                "underlyings": ["NIFTY"],
                "roll_sessions": 1,
                "margin_rate": 0.12,
                "product": "NRML",
                "strategy": "ema_cross",
                "timeframe": "1m",
                "params": {"fast": 9, "slow": 21},
            }
        ],
    }
    db = tmp_path / "state.db"
    await _run(parse_config(data, "t.yaml"), db)
    expiry_day = "2022-11-24"
    nov, dec = "NIFTY22NOVFUT", "NIFTY22DECFUT"
    day = "date(ts_ns / 1e9, 'unixepoch', '+330 minutes')"
    by_day = _rows(db, f"SELECT {day}, symbol, purpose FROM orders")
    assert (expiry_day, nov, "EXIT") in by_day, "the carried long was not rolled out"
    assert (expiry_day, "NIFTY22DECFUT", "ENTRY") in by_day  # the engine trades DEC
    assert (expiry_day, nov, "ENTRY") not in by_day
    refused = _rows(db, "SELECT DISTINCT symbol FROM risk_decisions WHERE rule = 'exits_only'")
    assert refused == [(nov,)]  # its signals were decided, and refused with a reason
    # DEC's bars of 11-23 warmed its strategy, silently: on the roll day it decides from
    # the first bar (cold, it sat out 20 minutes "indicators not ready")
    cold = _rows(db, "SELECT COUNT(*) FROM events WHERE kind = 'BarSkipped' AND symbol = ?", dec)
    assert cold == [(0,)], cold
    assert not _rows(
        db, f"SELECT 1 FROM orders WHERE symbol = ? AND {day} = '2022-11-23'", dec
    )  # watched, never traded before the roll


def test_instruments_search_cli_with_terms_prints_matches_and_with_none_exits_1() -> None:
    found = run_kitetui("instruments", "search", "nifty", "18300", "ce")
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    assert lines[1].split()[0] == "NFO:NIFTY22NOV18300CE"  # nearest expiry first
    assert all(" CE " in line for line in lines[1:])
    missing = run_kitetui("instruments", "search", "no-such-thing")
    assert missing.returncode == 1 and "no instrument matches" in missing.stderr


async def test_orders_above_freeze_quantity_are_sliced_into_whole_lots(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["freeze_limits"] = {"NIFTY": 100}  # two lots of 50
    data["engines"] = [e for e in data["engines"] if e["name"] != "equity"]
    db = tmp_path / "state.db"
    await _run(parse_config(data, "t.yaml"), db)
    quantities = [
        q for (q,) in _rows(db, "SELECT quantity FROM orders WHERE engine IN ('fno', 'options')")
    ]
    assert quantities and max(quantities) <= 100 and all(q % 50 == 0 for q in quantities)
    sliced = _rows(db, "SELECT count(*) FROM events WHERE kind = 'OrderSliced'")[0][0]
    assert sliced > 0
    # every slice filled or was cancelled as one book: nothing is left open or held
    net = _rows(
        db,
        "SELECT symbol, SUM(CASE side WHEN 'BUY' THEN quantity ELSE -quantity END) "
        "FROM fills GROUP BY symbol HAVING SUM(CASE side WHEN 'BUY' THEN quantity "
        "ELSE -quantity END) != 0",
    )
    assert net == []


async def test_data_on_a_calendar_holiday_is_flagged(tmp_path: Path) -> None:
    override = tmp_path / "holidays.csv"
    override.write_text("date,description\n2023-04-05,pretend holiday\n")
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["calendar"] = {"holidays_override": str(override)}
    data["engines"] = [e for e in data["engines"] if e["name"] == "equity"]
    db = tmp_path / "state.db"
    await _run(parse_config(data, "t.yaml"), db)
    flagged = _rows(db, "SELECT message FROM events WHERE kind = 'DataOnHoliday'")
    assert len(flagged) == 1 and "2023-04-05" in flagged[0][0]


def _expiry_day_replay(
    folder: Path,
    days: tuple[str, str] = ("2022-11-24", "2022-11-25"),
    *,
    rise: float = 1.5,
    time_value: float | None = None,
    option_minutes: int = 375,
) -> None:
    """NIFTY 50 minutes for two days (by default 2022-11-24, the NOV expiry, and 11-25):
    a zig-zag until 12:00 (the EMAs cross), then a steady rise of ``rise`` a minute to
    the close (no cross: a call bought on the last rise is held into the bell). NOV
    option ticks each minute of the first day, priced at intrinsic value plus a time
    value that dies at 15:30 (or, with ``time_value``, stays that until the last tick:
    a premium stop never fires, so an out-of-the-money call is held into the bell). The
    options trade only in the first ``option_minutes`` of the day (an illiquid contract's
    last trade before the close)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "open", "high", "low", "close", "volume"])
    levels: dict[int, float] = {}
    for minute in range(375):
        if minute < 165:
            levels[minute] = 18150 + 60 * ((minute // 40) % 2 * 2 - 1) * (minute % 40) / 40
        else:
            levels[minute] = levels[164] + rise * (minute - 164)
    for day in days:
        for minute, close in levels.items():
            ts = f"{day} {9 + (15 + minute) // 60:02d}:{(15 + minute) % 60:02d}:00+05:30"
            writer.writerow([ts, close, close + 5, close - 5, close, 0])
    (folder / "index.csv.gz").write_bytes(gzip.compress(out.getvalue().encode()))
    for strike in range(18000, 18401, 50):
        for right in ("CE", "PE"):
            lines = []
            for minute, spot in levels.items():
                if minute >= option_minutes:
                    break
                intrinsic = max(0.0, spot - strike if right == "CE" else strike - spot)
                extra = 0.2 * (375 - minute) if time_value is None else time_value
                price = round((intrinsic + extra) * 20) / 20 or 0.05
                stamp = f"{9 + (15 + minute) // 60:02d}:{(15 + minute) % 60:02d}:00"
                lines.append(f"{days[0].replace('-', '')},{stamp},{price:.2f},500,100000")
            path = folder / f"NIFTY22NOV{strike}{right}.csv.gz"
            path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def _nrml_options(folder: Path) -> dict:
    """An options engine holding NRML (so nothing squares it off) on ``folder``'s data."""
    return {
        **_index_and_options(folder),
        "paper": {"slippage_bps": 0},  # the settlement price exactly
        "engines": [
            {
                "name": "options",
                "kind": "options",
                "underlying": "NIFTY",
                "underlying_symbol": "NIFTY 50",
                "product": "NRML",
                "premium_stop_pct": 60,
                "strategy": "ema_cross",
                "timeframe": "1m",
                "params": {"fast": 3, "slow": 8},
            }
        ],
    }


async def test_an_option_held_into_its_expiry_is_settled_at_intrinsic_never_carried(
    tmp_path: Path,
) -> None:
    """An NRML call held through the close of its expiry day: the exchange settles it
    at its intrinsic value against the index's close. Before, the desk carried the dead
    contract into the next day as open, marked at its last premium, and sent exit
    orders for it all day."""
    _master(tmp_path / "instruments.csv")
    _expiry_day_replay(tmp_path)
    db = tmp_path / "state.db"
    supervisor = await _run(parse_config(_nrml_options(tmp_path), "t.yaml"), db)
    assert supervisor.portfolio.open_positions() == []
    day = "date(o.ts_ns / 1e9, 'unixepoch', '+330 minutes')"
    settled = _rows(
        db,
        f"SELECT o.symbol, o.side, f.price, {day} FROM orders o JOIN fills f ON f.tag = o.tag "
        "WHERE o.purpose = 'SQUARE_OFF'",
    )
    assert len(settled) == 1, settled
    symbol, side, price, when = settled[0]
    index_close = 18150 - 60 * 4 / 40 + 1.5 * (374 - 164)  # the last bar's close
    strike = int(symbol[len("NIFTY22NOV") : -2])
    assert (side, when, symbol[-2:]) == ("SELL", "2022-11-24", "CE")
    assert price == index_close - strike, (price, index_close, strike)
    assert not _rows(db, f"SELECT 1 FROM orders o WHERE {day} = '2022-11-25'")
    (message,) = _rows(db, "SELECT message FROM events WHERE kind = 'ExpirySettled'")[0]
    assert f"intrinsic value {index_close - strike:.2f}" in message, message


async def test_an_option_exercised_at_expiry_is_charged_stt_on_exercise_everywhere(
    tmp_path: Path,
) -> None:
    """The call held into the bell is exercised, not sold: its settlement fill pays STT on
    exercise (0.125 % of the intrinsic value, the rate of 2022-11-24 in rates.yaml), not
    0.05 % on a sale, with ₹20 brokerage and the options levies on that value (exchange
    0.053 %, no IPFT then, SEBI 0.0001 %, GST 18 %, no stamp on a sale). The journal, the
    report's trade (trades.csv) and the desk's P&L read that one figure."""
    _master(tmp_path / "instruments.csv")
    _expiry_day_replay(tmp_path)
    db = tmp_path / "state.db"
    supervisor = await _run(parse_config(_nrml_options(tmp_path), "t.yaml"), db)
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        fills = conn.execute(
            "SELECT f.*, o.purpose, o.reason FROM fills f JOIN orders o ON o.tag = f.tag "
            "ORDER BY f.seq"
        ).fetchall()
    (settled,) = [f for f in fills if f["purpose"] == "SQUARE_OFF"]
    assert settled["reason"].startswith("expiry settlement (exercise) at intrinsic value")
    D = Decimal
    value = D(repr(settled["price"])) * settled["quantity"]  # the intrinsic value
    exchange, sebi = value * D("0.00053"), value * D("0.000001")
    expected = Charges(D(20), value * D("0.00125"), exchange, D(0), sebi, D(0),
                       D("0.18") * (D(20) + exchange + sebi))  # fmt: skip
    cost = fill_charges_from_row(settled)
    assert cost is not None
    assert [v for _, v in cost.charges.items()] == [v for _, v in expected.items()]
    assert cost.paise == expected.total_paise
    # the call's trade: bought in the afternoon, exercised at the bell
    trade_fills = [f for f in fills if f["symbol"] == settled["symbol"]]
    (bought,) = [f for f in trade_fills if f["side"] == "BUY"]
    charges = sum((fill_charges_from_row(f).charges.total for f in trade_fills), D(0))
    gross = (D(repr(settled["price"])) - D(repr(bought["price"]))) * settled["quantity"]
    report = build_report(load_ledger(db, supervisor.run_id))
    rows = list(csv.DictReader(io.StringIO(trades_csv(report))))
    (trade,) = [r for r in rows if r["tradingsymbol"] == settled["symbol"]]
    assert D(trade["charges"]) == charges
    assert D(trade["gross"]) == gross and D(trade["net"]) == gross - charges
    # the desk's P&L: the run's charges are the journaled fills' paise, net = gross - them
    assert supervisor.portfolio.charges_paise == sum(f["charges_paise"] for f in fills)
    net = supervisor.portfolio.net_pnl_paise
    assert net == supervisor.portfolio.gross_pnl_paise - supervisor.portfolio.charges_paise
    (message,) = _rows(db, "SELECT message FROM events WHERE kind = 'ExpirySettled'")[0]
    assert "exercised: charged brokerage, STT on exercise of the intrinsic value" in message


async def test_an_option_out_of_the_money_at_expiry_lapses_at_zero_everywhere(
    tmp_path: Path,
) -> None:
    """An NRML call one strike out of the money held through its expiry day's close:
    NSE settles it at zero and it lapses (no order, no charges). It was closed at one
    tick (0.05), because the paper book fills nothing at zero, so the trade's gross was
    0.05 × quantity better than the exchange's. The journal's fill, the desk's P&L and
    performance figures, and the report's trade and totals now read zero."""
    _master(tmp_path / "instruments.csv")
    _expiry_day_replay(tmp_path, rise=0.1, time_value=30.0)  # ends below the call bought
    data = _nrml_options(tmp_path)
    data["engines"][0]["offset_steps"] = 1  # the call one strike above the money
    db = tmp_path / "state.db"
    supervisor = await _run(parse_config(data, "t.yaml"), db)
    assert supervisor.portfolio.open_positions() == []
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        fills = conn.execute(
            "SELECT f.*, o.purpose, o.reason, o.avg_price, o.status FROM fills f "
            "JOIN orders o ON o.tag = f.tag ORDER BY f.seq"
        ).fetchall()
    (settled,) = [f for f in fills if f["purpose"] == "SQUARE_OFF"]
    symbol, quantity = settled["symbol"], settled["quantity"]
    index_close = 18150 - 60 * 4 / 40 + 0.1 * (374 - 164)
    strike = int(symbol[len("NIFTY22NOV") : -2])
    assert symbol.endswith("CE") and strike > index_close, (symbol, index_close)
    assert settled["reason"].startswith("expiry settlement (lapse) at intrinsic value 0.00")
    assert (settled["side"], settled["price"], settled["avg_price"]) == ("SELL", 0.0, 0.0)
    assert settled["status"] == "COMPLETE"
    cost = fill_charges_from_row(settled)
    assert cost is not None and cost.paise == 0  # a lapse is charged nothing
    (bought,) = [f for f in fills if f["symbol"] == symbol and f["side"] == "BUY"]
    assert bought["quantity"] == quantity
    D = Decimal
    gross = (D(0) - D(repr(bought["price"]))) * quantity  # the whole premium, lost
    # the report: the trade's exit at zero, its gross the premium paid, and the totals
    report = build_report(load_ledger(db, supervisor.run_id))
    rows = list(csv.DictReader(io.StringIO(trades_csv(report))))
    (trade,) = [r for r in rows if r["tradingsymbol"] == symbol]
    assert D(trade["exit_price"]) == 0 and D(trade["gross"]) == gross, trade
    bought_charges = fill_charges_from_row(bought)
    assert bought_charges is not None
    assert D(trade["charges"]) == bought_charges.charges.total
    # the desk: the position realized the same gross, and its run totals are the report's
    position = supervisor.portfolio.position(symbol)
    assert position is not None and D(position.realized_paise) / 100 == gross
    assert D(supervisor.portfolio.gross_pnl_paise) / 100 == report.total.gross_pnl
    assert supervisor.portfolio.charges_paise == sum(f["charges_paise"] for f in fills)
    # `kitetui runs` rebuilds the run's P&L from the journal, the fill at zero with it
    (line,) = list_runs(db)
    assert D(repr(line.realized_pnl)) == D(supervisor.portfolio.realized_paise) / 100
    # the performance figures (the Performance tab) read the same fills
    view = supervisor.performance.view({}, "", {})
    (run,) = [r for r in view.rows if r.scope == "run" and r.part == "all"]
    assert D(repr(run.gross)) == report.total.gross_pnl.quantize(D("0.01"))
    (message,) = _rows(db, "SELECT message FROM events WHERE kind = 'ExpirySettled'")[0]
    assert "intrinsic value 0.00" in message and "one tick" not in message, message
    assert "lapsed worthless: no order at the exchange, so no charges" in message


async def test_a_close_still_working_at_the_bell_of_a_lapsing_option_is_cancelled_then_lapses(
    tmp_path: Path,
) -> None:
    """A person's flatten at 15:25 of an NRML call out of the money whose last trade was
    at 15:14: its MARKET close finds no print and still works at the bell. The settlement
    closes what is still held: the close is cancelled first (journaled), and the call
    lapses at zero, charged nothing. Before, the close filled at one tick (0.05), a trade
    the exchange never made, 0.05 × quantity better than NSE books the lapse."""
    _master(tmp_path / "instruments.csv")
    _expiry_day_replay(tmp_path, rise=0.1, time_value=30.0, option_minutes=360)
    data = _nrml_options(tmp_path)
    data["engines"][0]["offset_steps"] = 1  # the call one strike above the money
    db = tmp_path / "state.db"
    supervisor = Supervisor(parse_config(data, "t.yaml"), "test.yaml", database=db, speed=None)
    await asyncio.wait_for(supervisor.open(), 30)
    process = supervisor._process
    asked: list[str] = []

    async def flatten_at_15_25(ts, batch, warm):
        await process(ts, batch, warm)
        minute = (ts // 60_000_000_000 + 330) % 1440
        held = [p.symbol for p in supervisor.portfolio.open_positions() if "NOV" in p.symbol]
        if minute >= 15 * 60 + 25 and held and not asked:
            asked.append(held[0])
            await supervisor.trader.flatten(held[0], OrderPurpose.FLATTEN, "a person's flatten")

    supervisor._process = flatten_at_15_25
    try:
        await asyncio.wait_for(supervisor.run(), 180)
    finally:
        await asyncio.wait_for(supervisor.close(), 30)
    assert asked, "no NOV call was held at 15:25"
    (symbol,) = asked
    assert supervisor.portfolio.open_positions() == []
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        orders = conn.execute(
            "SELECT * FROM orders WHERE symbol = ? ORDER BY seq", (symbol,)
        ).fetchall()
        fills = conn.execute(
            "SELECT f.*, o.reason FROM fills f JOIN orders o ON o.tag = f.tag "
            "WHERE f.symbol = ? ORDER BY f.seq",
            (symbol,),
        ).fetchall()
    (bought,) = [f for f in fills if f["side"] == "BUY"]
    sold = [f for f in fills if f["side"] == "SELL"]
    # one close of the position: the lapse at zero, no trade at one tick
    assert [(f["price"], f["quantity"]) for f in sold] == [(0.0, bought["quantity"])], [
        dict(f) for f in sold
    ]
    assert sold[0]["reason"].startswith("expiry settlement (lapse) at intrinsic value 0.00")
    cost = fill_charges_from_row(sold[0])
    assert cost is not None and cost.paise == 0
    # the person's close was cancelled by the settlement, and the journal says so
    ended = [
        (o["purpose"], o["status"], o["filled_qty"])
        for o in orders
        if o["reason"].startswith("cancelled by the settlement at expiry")
    ]
    assert ended == [("FLATTEN", "CANCELLED", 0)], [
        (o["purpose"], o["status"], o["reason"]) for o in orders
    ]
    (message,) = _rows(db, "SELECT message FROM events WHERE kind = 'ExpirySettled'")[0]
    assert "one tick" not in message, message
    assert "cancelled" in message and "lapsed worthless" in message, message
    position = supervisor.portfolio.position(symbol)
    assert position is not None
    assert position.realized_paise == -round(bought["price"] * 100) * bought["quantity"]


async def test_an_option_whose_expiry_day_the_desk_missed_is_settled_before_it_trades(
    tmp_path: Path,
) -> None:
    """A desk not run on the expiry day (a paper desk switched off that day; data with
    no session for it): the call it held is found expired at the next session's start
    and settled against the index price it has then (here the call's strike: worthless,
    settled at zero), not carried on at its last premium."""
    _master(tmp_path / "instruments.csv")
    _expiry_day_replay(tmp_path, days=("2022-11-23", "2022-11-25"))  # 11-24 missed
    db = tmp_path / "state.db"
    supervisor = await _run(parse_config(_nrml_options(tmp_path), "t.yaml"), db)
    assert not [p for p in supervisor.portfolio.open_positions() if "NOV" in p.symbol]
    day = "date(o.ts_ns / 1e9, 'unixepoch', '+330 minutes')"
    nov = _rows(
        db,
        f"SELECT o.purpose, f.price FROM orders o LEFT JOIN fills f ON f.tag = o.tag "
        f"WHERE o.symbol LIKE 'NIFTY22NOV%' AND {day} = '2022-11-25'",
    )
    assert nov == [("SQUARE_OFF", 0.0)], nov
    (message,) = _rows(db, "SELECT message FROM events WHERE kind = 'ExpirySettled'")[0]
    assert "expired before this session" in message, message
    assert "NIFTY 50 last at 18150.00" in message and "worthless" in message, message
    # it lapsed: no order at the exchange, so its close at zero is charged nothing
    assert "lapsed worthless: no order at the exchange, so no charges" in message
    charged = _rows(
        db,
        "SELECT f.charges_paise, f.charge_brokerage, f.charge_stt, o.reason FROM fills f "
        f"JOIN orders o ON o.tag = f.tag WHERE o.symbol LIKE 'NIFTY22NOV%' AND {day} = "
        "'2022-11-25'",
    )
    ((paise, brokerage, stt, reason),) = charged
    assert (paise, Decimal(brokerage), Decimal(stt)) == (0, 0, 0), charged
    assert reason.startswith("expiry settlement (lapse) at ")
