"""A desk at the issue's size: 200 positions, 2,000 orders, 300 of 50,000 signals.

Functional, not timed (scripts/bench_desk_load.py measures the time): every row is on
its table and says the right thing, sort and filter pick the right rows from the big
tables, and the tables keep all of that through a stream of snapshots in which every
price moves and orders arrive, also while a filter hides most rows and when it is
cleared (the table then starts afresh rather than removing rows one by one).
"""

from __future__ import annotations

import dataclasses

from rich.cells import cell_len
from textual.widgets.data_table import ColumnKey

from kitetui.tui.app import KiteTuiApp, make_app
from kitetui.tui.cells import money
from kitetui.tui.widgets import DeskTable
from kitetui.views import DeskSnapshot, EventView, OrderView, PositionView, SignalView

from .fakes import FakeLink, busy_snapshot, next_snapshot, ts, wall_clock

SIZE = (160, 48)
BANKS = ("AXISBANK", "HDFCBANK", "ICICIBANK", "KOTAKBANK", "SBIN")
N_SIGNALS_JOURNALED = 50_000
N_EVENTS_JOURNALED = 5_000
WORKING = ("TRIGGER PENDING", "OPEN")


def symbols() -> list[str]:
    """195 NIFTY option contracts and 5 banks."""
    strikes = [17_000 + 50 * (i // 2) for i in range(195)]
    options = [f"NIFTY22N24{strike}{'CE' if i % 2 else 'PE'}" for i, strike in enumerate(strikes)]
    return options + list(BANKS)


def position(index: int, symbol: str) -> PositionView:
    bank = symbol in BANKS
    quantity = (index % 7 + 1) * (1 if bank else 50) * (-1 if index % 5 == 0 else 1)
    avg = 1000.0 + index if bank else 50.0 + index
    last = round(avg + (index % 13 - 6) * 0.35, 2)
    return PositionView(
        symbol=symbol,
        engine="equity" if bank else "options",
        product="MIS",
        quantity=quantity,
        avg_price=avg,
        last_price=last,
        realized=float((index * 37) % 500 - 250),
        day_realized=float((index * 37) % 500 - 250),  # a one-day desk: all of it today
        unrealized=round((last - avg) * quantity, 2),
        stop_price=round(avg * 0.9, 2),
        lot_size=1 if bank else 50,
        expiry="" if bank else "2022-11-24",
    )


def order(index: int, symbol: str, status: str) -> OrderView:
    working = status in WORKING
    return OrderView(
        tag=f"T{index:05d}",
        ts_ns=ts(9, 15) + index * 10_000_000_000,  # 10 s apart, index 0 the oldest
        engine="equity" if symbol in BANKS else "options",
        symbol=symbol,
        side="SELL" if working else ("BUY" if index % 2 else "SELL"),
        quantity=50,
        order_type="SL-M" if working else "MARKET",
        purpose="STOP" if working else "ENTRY",
        status=status,
        trigger_price=90.5 if working else 0.0,
        filled_qty=0 if status != "COMPLETE" else 50,
        avg_price=0.0 if status != "COMPLETE" else 101.25,
        reason="protective stop" if working else "LONG: ema 5 crossed above ema 13",
    )


def big_snapshot() -> DeskSnapshot:
    names = symbols()
    positions = tuple(position(i, s) for i, s in enumerate(names))
    orders = []
    for index in range(2_000):
        symbol = names[index % len(names)]
        if index >= 1_800:  # the newest 200: each position's working stop
            status = "TRIGGER PENDING"
        else:
            status = ("COMPLETE", "COMPLETE", "CANCELLED", "REJECTED")[index % 4]
        orders.append(order(index, symbol, status))
    first = N_SIGNALS_JOURNALED - 300 + 1
    signals = tuple(
        SignalView(
            seq=first + i,
            signal_id=f"s{first + i}",
            ts_ns=ts(10, 0) + i * 1_000_000_000,
            engine="options",
            strategy="ema_cross",
            symbol=names[i % len(names)],
            kind=("LONG", "SHORT", "EXIT")[i % 3],
            price=100.0 + i,
            reason="ema 5 crossed above ema 13",
            confidence=0.5,
            risk_verdict=("ALLOW", "BLOCK")[i % 2],
        )
        for i in range(300)
    )
    events = tuple(
        EventView(
            seq=N_EVENTS_JOURNALED - 200 + 1 + i,
            ts_ns=ts(10, 0) + i * 1_000_000_000,
            kind="RiskBlocked",
            level="WARNING",
            message=f"blocked {i}",
            symbol=names[i % len(names)],
        )
        for i in range(200)
    )
    return dataclasses.replace(
        busy_snapshot(),
        positions=positions,
        orders=tuple(orders),
        signals=signals,
        events=events,
        counts=(
            ("events", N_EVENTS_JOURNALED),
            ("orders", 2_000),
            ("signals", N_SIGNALS_JOURNALED),
            ("signals_listed", N_SIGNALS_JOURNALED),
        ),
    )


def display_keys(table: DeskTable) -> list[str]:
    """The order the DataTable itself paints, not the table's own bookkeeping."""
    keys = [str(row.key.value) for row in table.ordered_rows]
    assert keys == [table.key_at(i) for i in range(table.row_count)]
    return keys


def info_text(app: KiteTuiApp, tab: str) -> str:
    return str(app.desk.pane(tab).query_one(".pane-info").render())


def cell(table: DeskTable, row: str, column: str) -> str:
    return table.get_cell(row, column).plain


def assert_columns_fit(table: DeskTable) -> None:
    for spec in table.specs:
        widest = max(
            (cell_len(row[table.specs.index(spec)].text) for row in table.shown_rows.values()),
            default=0,
        )
        assert table.columns[ColumnKey(spec.key)].content_width >= widest, spec.key


def churned(snapshot: DeskSnapshot, step: int) -> DeskSnapshot:
    """Every price moves; a new order arrives and one working stop is cancelled."""
    positions = tuple(
        dataclasses.replace(
            p,
            last_price=round(p.last_price + 0.05 * step, 2),
            unrealized=round((p.last_price + 0.05 * step - p.avg_price) * p.quantity, 2),
        )
        for p in snapshot.positions
    )
    orders = list(snapshot.orders)
    cancelled = next(i for i, o in enumerate(orders) if o.status in WORKING)
    orders[cancelled] = dataclasses.replace(orders[cancelled], status="CANCELLED")
    newest = max(o.ts_ns for o in orders)
    orders.append(
        dataclasses.replace(
            order(2_000 + step, "SBIN", "COMPLETE"), tag=f"N{step:04d}", ts_ns=newest + 1
        )
    )
    counts = dict(snapshot.counts)
    counts["orders"] += 1
    return next_snapshot(
        snapshot,
        positions=positions,
        orders=tuple(orders),
        counts=tuple(sorted(counts.items())),
        published_wall_ns=snapshot.published_wall_ns + step,
    )


async def test_positions_every_row_right_and_pnl_sort_puts_the_biggest_first() -> None:
    snapshot = big_snapshot()
    link = FakeLink(snapshot)
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.desk.pane("positions").table
        assert table.row_count == 200
        assert display_keys(table) == [p.symbol for p in snapshot.positions]
        assert info_text(app, "positions").endswith("(v: whole run) · 200 positions")
        for p in snapshot.positions:
            assert cell(table, p.symbol, "qty") == f"{p.quantity:+d}"
            assert cell(table, p.symbol, "pnl") == money(p.pnl)
            assert cell(table, p.symbol, "ltp") == f"{p.last_price:,.2f}"
        sbin = next(p for p in snapshot.positions if p.symbol == "SBIN")
        assert cell(table, "SBIN", "lots") == ""  # equities have no lots
        assert cell(table, "SBIN", "engine") == "equity" == sbin.engine
        option = snapshot.positions[1]
        assert cell(table, option.symbol, "lots") == f"{option.quantity // 50:+d}"
        assert cell(table, option.symbol, "expiry") == "2022-11-24"
        assert_columns_fit(table)

        table.set_sort("pnl", descending=True)
        by_pnl = sorted(snapshot.positions, key=lambda p: round(p.pnl, 2), reverse=True)
        shown = display_keys(table)
        assert shown[0] == by_pnl[0].symbol
        assert [round(p.pnl, 2) for p in by_pnl] == [
            round(next(p for p in snapshot.positions if p.symbol == key).pnl, 2) for key in shown
        ]
        table.set_sort("pnl")
        assert display_keys(table)[0] == by_pnl[-1].symbol

        # Every price moves: every row follows, the sort too.
        moved = churned(snapshot, 40)
        link.publish(moved)
        assert app.desk.pull_snapshot()
        await pilot.pause()
        for p in moved.positions:
            assert cell(table, p.symbol, "ltp") == f"{p.last_price:,.2f}"
            assert cell(table, p.symbol, "pnl") == money(p.pnl)
        lowest = min(moved.positions, key=lambda p: round(p.pnl, 2))
        assert display_keys(table)[0] == lowest.symbol


async def test_orders_all_2000_newest_first_filter_narrows_and_clears() -> None:
    snapshot = big_snapshot()
    link = FakeLink(snapshot)
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        table = app.desk.pane("orders").table
        newest_first = [o.tag for o in sorted(snapshot.orders, key=lambda o: -o.ts_ns)]
        assert table.row_count == 2_000
        assert display_keys(table) == newest_first
        assert info_text(app, "orders") == "2,000 orders"
        stop = snapshot.orders[-1]
        assert cell(table, stop.tag, "status") == "TRIGGER PENDING"
        assert cell(table, stop.tag, "trigger") == "90.50"
        assert cell(table, stop.tag, "type") == "SL-M"
        rejected = snapshot.orders[3]
        assert cell(table, rejected.tag, "status") == "REJECTED"
        assert cell(table, rejected.tag, "filled") == "0"
        assert_columns_fit(table)

        # A filter that hides nearly every row, as you type it; the cursor stays on its
        # order if the order is still shown.
        sbin = [
            o.tag for o in sorted(snapshot.orders, key=lambda o: -o.ts_ns) if o.symbol == "SBIN"
        ]
        table.move_cursor(row=newest_first.index(sbin[3]))
        table.set_filter("sbin")
        assert display_keys(table) == sbin
        assert len(sbin) == 10
        assert table.cursor_key == sbin[3] and table.cursor_row == 3
        app.desk.pane("orders").refresh_info()
        assert info_text(app, "orders") == "10 of 2,000 shown · filter “sbin”"
        # … every word must match, any case.
        table.set_filter("NIFTY cancelled")
        expected = [
            o.tag
            for o in sorted(snapshot.orders, key=lambda o: -o.ts_ns)
            if o.symbol.startswith("NIFTY") and o.status == "CANCELLED"
        ]
        assert display_keys(table) == expected and len(expected) == 441
        # The filter holds as snapshots arrive.
        for step in range(1, 4):
            link.publish(churned(app.desk.snapshot, step))
            assert app.desk.pull_snapshot()
            await pilot.pause()
        current = app.desk.snapshot
        expected = [
            o.tag
            for o in sorted(current.orders, key=lambda o: -o.ts_ns)
            if o.symbol.startswith("NIFTY") and o.status == "CANCELLED"
        ]
        assert display_keys(table) == expected and len(expected) == 444
        # Cleared: every order again, newest first, the new ones on top.
        table.set_filter("")
        assert display_keys(table) == [
            o.tag for o in sorted(current.orders, key=lambda o: -o.ts_ns)
        ]
        assert table.row_count == 2_003
        assert display_keys(table)[:3] == ["N0003", "N0002", "N0001"]
        assert cell(table, "N0003", "symbol") == "SBIN"
        assert_columns_fit(table)

        table.set_sort("qty", descending=True)
        table.set_sort("symbol")
        symbols_shown = [cell(table, key, "symbol") for key in display_keys(table)]
        assert symbols_shown == sorted(symbols_shown, key=str.lower)


async def test_signals_and_log_say_newest_of_the_journaled_totals() -> None:
    snapshot = big_snapshot()
    app = make_app(FakeLink(snapshot), wall_clock=wall_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        table = app.desk.pane("signals").table
        assert table.row_count == 300
        assert display_keys(table) == [str(s.seq) for s in reversed(snapshot.signals)]
        assert display_keys(table)[0] == "50000"
        assert info_text(app, "signals") == "300 signals · newest 300 of 50,000"
        assert cell(table, "50000", "price") == "399.00"
        assert cell(table, "49701", "verdict") == "ALLOW"
        assert cell(table, "49702", "verdict") == "BLOCK"
        table.set_sort("price", descending=True)
        assert display_keys(table)[:2] == ["50000", "49999"]
        table.set_filter("sbin")
        sbin = sorted((s for s in snapshot.signals if s.symbol == "SBIN"), key=lambda s: -s.price)
        assert display_keys(table) == [str(s.seq) for s in sbin]
        app.desk.pane("signals").refresh_info()
        assert info_text(app, "signals") == (
            "1 of 300 shown · newest 300 of 50,000 · filter “sbin” · sorted by price ▼"
        )

        await pilot.press("6")
        await pilot.pause()
        log = app.desk.pane("log").table
        assert log.row_count == 200
        assert display_keys(log)[0] == str(snapshot.events[-1].seq)
        assert info_text(app, "log") == "200 events · newest 200 of 5,000"
