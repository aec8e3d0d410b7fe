"""The gate passes over the paper book for a bar strictly inside its symbol's stops'
band (``Broker.stop_bands``): the calls it skips must be ones that would have answered
nothing. Held here against a book that keeps no band and is asked about every bar: the
trader hears the same fills and triggered stops at the same bars, and the books end
alike. Bars are drawn a tick or so either side of the triggers, so a comparison off by
a tick or made on the wrong side of the band is caught."""

from __future__ import annotations

import asyncio
import functools
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kitetui.brokers.paper_book import PaperBook
from kitetui.config import AppConfig
from kitetui.domain import Bar, Order
from kitetui.supervisor import Supervisor
from tests.brokers.paper_orders import LMT, SL, SLM, B, S, order
from tests.demo_session import demo_config

TICK = 0.05
TS = 1_700_000_000_000_000_000
MINUTE = 60 * 1_000_000_000


class _NoBandBook(PaperBook):
    """The reference: every bar looks at each working order."""

    def _band(self, symbol: str, working: dict[str, Order]) -> None:
        self._bands.pop(symbol, None)


# A stop's trigger a few ticks from 100; a bar's low and high a few ticks from a trigger.
_ticks = st.integers(min_value=-3, max_value=3)
_stops = st.lists(
    st.tuples(st.sampled_from([B, S]), st.sampled_from([SL, SLM]), _ticks), min_size=1, max_size=3
)
_bars = st.lists(
    st.tuples(
        st.booleans(),  # of the held symbol (else of another, with nothing working)
        st.booleans(),  # drawn at the sell side's edge (else the buy side's)
        st.integers(-2, 2),  # its low (sell side) or high (buy side), ticks from the edge
        st.integers(0, 3),  # the range, in ticks
        st.booleans(),  # a rising bar
    ),
    min_size=1,
    max_size=10,
)


def _edges(book: PaperBook) -> tuple[float, float]:
    """The working stops' highest sell trigger and lowest buy trigger, in ticks (100
    where a side has none): the prices a bar must be drawn at to test the band."""
    stops = [o for o in book.open_orders() if o.order_type in (SL, SLM)]
    sells = [round(o.trigger_price * 20) for o in stops if o.side is S]
    buys = [round(o.trigger_price * 20) for o in stops if o.side is B]
    return max(sells, default=2000), min(buys, default=2000)


@functools.cache
def _config() -> AppConfig:
    """The demo config, parsed once for the ~100 examples (a tenth of each one's time
    went to reading its YAML): it is frozen, and a run leaves it as it found it."""
    return demo_config()


def _price(ticks: int) -> float:
    return round(2000 + ticks) / 20  # 100 ± ticks, exactly as a tick grid prints it


async def _scenario(
    db: Path, stops: list, limit: bool, bars: list
) -> tuple[list, list, list[bool], int]:
    """Runs ``bars`` through the desk's gate and through the reference; returns what the
    trader heard from each, at each bar, whether the gate asked the book, and how many
    bars were inside a band the gate then passed over."""
    supervisor = Supervisor(_config(), "test.yaml", database=db, speed=None)
    await supervisor.open()
    try:
        held, other = sorted(supervisor._known)[:2]
        broker, reference = supervisor.broker, _NoBandBook()
        placed = [
            order(side, kind, price=_price(t), trigger=_price(t), tag=f"s{k}", ts_ns=1)
            for k, (side, kind, t) in enumerate(stops)
        ]
        if limit:  # an order that is not a stop: the symbol has no band
            placed.append(order(B, LMT, price=_price(-6), tag="lim", ts_ns=1))
        for o in placed:
            o = replace(o, symbol=held)
            broker.book.place(o)
            reference.place(o)
        heard: list = []

        async def on_fills(fills) -> None:
            heard.append(("filled", list(fills)))

        async def on_order_state(state) -> None:
            heard.append(("triggered", state))

        supervisor.trader.on_fills = on_fills  # type: ignore[method-assign]
        supervisor.trader.on_order_state = on_order_state  # type: ignore[method-assign]
        market = broker.on_market
        asks: list[str] = []

        def on_market(item):
            asks.append(item.symbol)
            return market(item)

        broker.on_market = on_market  # type: ignore[method-assign]
        heard_by_gate, heard_by_reference, asked, passed = [], [], [], 0
        for k, (of_held, sell_side, offset, range_ticks, rising) in enumerate(bars):
            symbol = held if of_held else other
            sell, buy = _edges(reference)
            if sell_side:
                low = (sell + offset) / 20
                high = (sell + offset + range_ticks) / 20
            else:
                high = (buy + offset) / 20
                low = (buy + offset - range_ticks) / 20
            first, last = (low, high) if rising else (high, low)
            printed = Bar(symbol, TS + k * MINUTE, 60, first, high, low, last, 1000)
            band = broker.stop_bands().get(symbol)
            heard.clear()
            asks.clear()
            accepted = await supervisor._gate(printed.ts_ns, [printed], False)
            if printed not in accepted:  # the validator refused it: neither sees it
                continue
            heard_by_gate.append(list(heard))
            asked.append(bool(asks))
            expected: list = []
            filled = reference.on_market(printed)
            if filled:
                expected.append(("filled", filled))
            expected += [("triggered", o) for o in reference.take_triggered()]
            heard_by_reference.append(expected)
            assert broker.book.open_orders() == reference.open_orders()
            passed += band is not None and not asks
        return heard_by_gate, heard_by_reference, asked, passed
    finally:
        await supervisor.close()


@settings(max_examples=100, deadline=None)
@given(stops=_stops, limit=st.booleans(), bars=_bars)
# every run: a bar inside, one whose low touches the sell trigger, one whose high
# touches the buy trigger (each then the band's only side), one a tick past it
@example(
    stops=[(S, SLM, -2), (B, SL, 2)],
    limit=False,
    bars=[(True, True, 1, 2, True), (True, True, 0, 1, False), (True, False, 0, 1, True)],
)
@example(
    stops=[(B, SLM, 1), (S, SL, -1)],
    limit=False,
    bars=[(True, False, -1, 0, True), (True, False, 1, 2, True), (True, True, -1, 0, False)],
)
def test_property_bars_the_gate_passes_over_would_have_filled_and_triggered_nothing(
    stops, limit, bars
):
    """Fails if the gate passes over a bar that reaches a trigger (a band compared off
    by a tick, ``>=`` for ``>``, or on the wrong side), or asks a book it skipped."""
    with tempfile.TemporaryDirectory() as scratch:
        by_gate, by_reference, _, _ = asyncio.run(
            _scenario(Path(scratch) / "s.db", stops, limit, bars)
        )
    assert by_gate == by_reference


def test_a_bar_inside_the_band_is_passed_over_and_one_on_a_trigger_is_asked(
    tmp_path: Path,
) -> None:
    """The skip happens (a bar strictly between the triggers makes no call) and stops
    where it must: a bar whose low touches the sell trigger, or whose high touches the
    buy trigger, is asked and fills; a symbol with a limit working has no band."""
    stops = [(S, SLM, -2), (B, SLM, 2)]
    inside = (True, True, 1, 2, True)  # low 1 tick above the sell trigger, high 1 below the buy
    on_sell = (True, True, 0, 1, False)  # low exactly at the sell trigger
    by_gate, by_reference, asked, passed = asyncio.run(
        _scenario(tmp_path / "a.db", stops, False, [inside, inside, on_sell])
    )
    assert asked == [False, False, True] and passed == 2
    assert by_gate == by_reference and by_gate[2][0][0] == "filled"
    # a buy stop alone: the bar's high exactly at its trigger
    by_gate, by_reference, asked, _ = asyncio.run(
        _scenario(tmp_path / "b.db", [(B, SLM, 2)], False, [(True, False, 0, 3, True)])
    )
    assert asked == [True] and by_gate == by_reference and by_gate[0][0][0] == "filled"
    _, _, asked, passed = asyncio.run(_scenario(tmp_path / "c.db", stops, True, [inside]))
    assert asked == [True] and passed == 0  # the limit: no band, the book is asked
