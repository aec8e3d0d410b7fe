"""The exit timer's walk: which symbols a pass looks at.

``ExitManager.service`` passes over a symbol found quiet, not touched or filled since,
with nothing else kept for it, while the market is open, and tests each symbol when
its turn comes (a look that awaits may change any later symbol's marks). These tests
pin that for any shortcut of the walk (stop 40 measured one, the symbols passed over
taken out in one set difference until the first look that awaits, and dropped it: no
gain in instructions): the first holds the symbols looked at to the per-symbol test
over every mix of the marks (it failed with any term of such a set difference
dropped), the second a look whose await touches a later quiet symbol (it failed with
the walk kept as it was taken at the start of the pass).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kitetui.config import ExitConfig
from kitetui.domain import OrderPurpose
from kitetui.trading.exits import ExitManager

from .desk import cover_of, rule_11, working
from .test_exits import FUT, OPT, _desk, _long, _long_option

SYMBOLS = ("A", "B", "C", "D", "E", "F")
_subsets = st.sets(st.sampled_from(SYMBOLS))
_MARKS = ("entries_only", "touched", "filled", "closing", "naked", "retrying", "unheard")
_NONE: dict[str, object] = {mark: set() for mark in (*_MARKS, "awaiting")}


def _quiet_a_but(**marks: object) -> dict[str, object]:
    """A held, its stop working, found quiet, the market open; but for ``marks``: each
    one alone must have the pass look at A (one example per term of the test)."""
    return {**_NONE, "covered": {"A", "B"}, "quiet": {"A", "B"}, "market_open": True, **marks}


def _stub_trader(covered: set[str], entries_only: set[str], touched: set[str], filled: set[str]):
    """What ``service`` reads of the trader: working stops of ``covered``, a working
    entry alone for ``entries_only``, every symbol long 1 at order count 1."""
    orders = [SimpleNamespace(symbol=s, purpose=OrderPurpose.STOP) for s in sorted(covered)]
    orders += [SimpleNamespace(symbol=s, purpose=OrderPurpose.ENTRY) for s in entries_only]
    asked: list[str] = []

    def order_changes(symbol: str) -> int:
        asked.append(symbol)
        return 1

    trader = SimpleNamespace(
        has_working=lambda: bool(orders),
        all_order_changes=lambda: 7,
        open_orders=lambda symbol=None: list(orders),
        order_changes=order_changes,
        position_qty=lambda symbol: 1,
        orders_touched=touched,
        portfolio=SimpleNamespace(fills_applied=3, filled=filled),
    )
    return trader, asked


@settings(max_examples=300, deadline=None)
@given(
    covered=_subsets,
    entries_only=_subsets,
    quiet=_subsets,
    touched=_subsets,
    filled=_subsets,
    closing=_subsets,
    naked=_subsets,
    retrying=_subsets,
    unheard=_subsets,
    market_open=st.booleans(),
    awaiting=_subsets,
)
@example(**_quiet_a_but())
@example(**_quiet_a_but(market_open=False))
@example(**_quiet_a_but(touched={"A"}))
@example(**_quiet_a_but(filled={"A"}))
@example(**_quiet_a_but(closing={"A"}))
@example(**_quiet_a_but(naked={"A"}))
@example(**_quiet_a_but(retrying={"A"}))
@example(**_quiet_a_but(unheard={"A"}))
async def test_a_pass_looks_at_exactly_the_symbols_the_per_symbol_test_keeps(
    covered,
    entries_only,
    quiet,
    touched,
    filled,
    closing,
    naked,
    retrying,
    unheard,
    market_open,
    awaiting,
) -> None:
    """``awaiting``: the symbols whose look takes the lock and awaits (the others hold,
    ``_holds``): up to the first of them the walk is the set difference's."""
    trader, asked = _stub_trader(covered, entries_only, set(touched), set(filled))
    exits = ExitManager(trader, ExitConfig(), lambda: 0)  # type: ignore[arg-type]
    exits.market_open = market_open
    exits._quiet = {s: (0, 0) for s in quiet}  # an old count: a look does not stop at it
    exits._closing = dict.fromkeys(closing)  # type: ignore[assignment]
    exits._naked = dict.fromkeys(naked, "test")
    exits._stop_retry = dict.fromkeys(retrying, (1, 0))
    exits._unheard_refusals = dict.fromkeys(unheard)  # type: ignore[assignment]
    exits._holds = lambda symbol: symbol not in awaiting  # type: ignore[method-assign]

    async def nothing(*args: object) -> None:
        return None

    exits._reprice = nothing  # type: ignore[method-assign]
    exits._settle = nothing  # type: ignore[method-assign]
    exits._timeless = lambda symbol: False  # type: ignore[method-assign]
    await exits.service()

    walked = sorted(covered | closing | naked | retrying | unheard)
    kept = [
        s
        for s in walked
        if not (
            s in quiet
            and s not in touched
            and s not in filled
            and market_open
            and s not in closing
            and s not in naked
            and s not in retrying
            and s not in unheard
        )
    ]
    if not (closing or naked or retrying or unheard or covered or entries_only):
        kept = []  # nothing working or kept: the timer does not walk at all
    assert list(dict.fromkeys(asked)) == kept  # (a full look asks twice: before and after)


async def test_a_quiet_symbol_touched_while_an_earlier_look_awaits_is_looked_at(
    tmp_path: Path,
) -> None:
    """Two held symbols found quiet; the option (first in the walk) is touched and its
    look, while it awaits, makes the future's stop too large. The same pass looks at the
    future and trims it back: after an await each later symbol is tested live."""
    desk = await _desk(tmp_path, exits=ExitConfig(reprice_after_s=2.0, max_modifications=3))
    try:
        exits, trader = desk.exits, desk.trader
        assert OPT < FUT  # the option's look comes first
        await _long(desk)
        await _long_option(desk)
        await desk.price(OPT, 100.0)  # the option's entry fills; its stop waits at 70
        await exits.service()
        assert OPT in exits._quiet and FUT in exits._quiet
        [option_stop] = working(trader, OPT, OrderPurpose.STOP)
        await trader.modify(option_stop.tag, quantity=option_stop.quantity + 1, why="test")
        [future_stop] = working(trader, FUT, OrderPurpose.STOP)
        reprice = exits._reprice

        async def touching_the_future(symbol: str) -> None:
            if symbol == OPT:
                await trader.modify(future_stop.tag, quantity=future_stop.quantity + 1, why="t")
            await reprice(symbol)

        exits._reprice = touching_the_future  # type: ignore[method-assign]
        await exits.service()  # (at its start the future is quiet and not touched)
        for symbol in (OPT, FUT):
            qty, stops, _ = cover_of(trader, symbol)
            assert stops == qty, symbol  # both trimmed back to the position in one pass
        assert rule_11(trader) == []
    finally:
        await desk.close()
