"""The gate's bar loop passes over what a bar of a symbol changes nothing in: ``mark``
for a symbol without a position (its price is stored, ``Portfolio.held``) and the paper
book for a symbol with nothing working (``Broker.watched``). Read after every batch of
a full demo run, the desk is as if every bar had been marked and shown to the book."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from kitetui.domain import Bar, OrderStatus, Tick
from kitetui.supervisor import Supervisor
from tests.brokers.paper_orders import SL, B, order
from tests.demo_session import demo_config, run_demo


async def test_every_batch_leaves_each_book_at_its_last_bar_and_the_exchange_watching_its_orders(
    tmp_path: Path,
) -> None:
    """Fails if a position opened by a fill is not marked by its symbol's next bar
    (``held`` not kept at the fill), if a flat book's view keeps an older price, or if
    the book is not asked about a symbol whose order works."""
    checked = {"batches": 0, "held": 0, "flat": 0, "resting": 0}

    async def check(supervisor: Supervisor, warm: bool) -> None:
        portfolio, prices = supervisor.portfolio, supervisor.last_prices
        resting, untaken = supervisor.broker.watched()
        assert not untaken  # every print took what it triggered
        open_value = 0
        for position in portfolio.positions():
            assert position.last_price == prices[position.symbol], position
            if position.quantity:
                checked["held"] += 1
                assert position.symbol in portfolio.held
                open_value += position.unrealized_paise
            else:
                checked["flat"] += 1
                assert position.symbol not in portfolio.held
        assert portfolio.equity_paise == (
            portfolio.capital_paise + portfolio.realized_paise + open_value
        )
        working = {o.symbol for o in await supervisor.broker.open_orders()}
        checked["resting"] += len(working)
        for symbol in prices:
            assert (symbol in resting) == (symbol in working), symbol
        checked["batches"] += 1

    await run_demo(tmp_path / "state.db", check)
    # the run held positions, went flat again and had orders resting
    assert checked["batches"] > 100 and min(checked.values()) > 10, checked


async def test_a_stop_triggered_by_an_untaken_print_is_reported_at_the_next_bar_of_any_symbol(
    tmp_path: Path,
) -> None:
    """A print whose triggered stops nobody took (the session's square-off tick) leaves
    them waiting: the gate asks the book at the next bar even of a symbol with nothing
    working there, so the trader hears of the stop at that bar, as before the skip."""
    supervisor = Supervisor(demo_config(), "test.yaml", database=tmp_path / "s.db", speed=None)
    await supervisor.open()
    try:
        symbols = sorted(supervisor._known)
        held, other = symbols[0], symbols[1]
        book = supervisor.broker.book
        stop = order(B, SL, price=100.0, trigger=100.0, tag="leftover", ts_ns=1)
        book.place(replace(stop, symbol=held))
        assert book.on_market(Tick(held, 2, 101.0)) == []  # triggered, not taken
        heard: list = []

        async def on_order_state(order_state) -> None:
            heard.append(order_state)

        supervisor.trader.on_order_state = on_order_state  # type: ignore[method-assign]
        ts = 1_700_000_000_000_000_000
        printed = Bar(other, ts, 60, 50.0, 50.5, 49.5, 50.0, 1000)
        await supervisor._gate(ts, [printed], False)
        assert [(o.tag, o.status) for o in heard] == [("leftover", OrderStatus.OPEN)]
    finally:
        await supervisor.close()
