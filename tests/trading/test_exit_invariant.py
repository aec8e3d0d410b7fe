"""Rule 11 under faults: a property test of the trader against the strict exchange.

Hypothesis draws sequences of market moves, signals, flattens, kill switches, client
faults (429 and 5xx before the exchange sees a call, answers lost after it acted),
exchange rejections, late order updates, order-book polls and restarts, and runs each
through the real trader, exit manager, journal and ``KiteBroker`` over kiteconnect's own
client, answered in process by the local exchange (``kitetui.sim.inproc``). After every
step it checks the invariant (every open position protected or being closed, never
covered twice), and at the end that the desk gets flat, that no tag ever reached the
exchange twice, and that positions equal fills — ours and the exchange's.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from kitetui.domain import OrderPurpose
from kitetui.sim.inproc import ClientFault
from kitetui.store.runs import load_fills

from .desk import rule_11
from .kite_rig import OPTION, SYMBOL, Rig

EXAMPLES = int(os.environ.get("KITETUI_INVARIANT_EXAMPLES", "60"))
_SEEN = frozenset(
    {
        "StopRejected",
        "StopRetryScheduled",
        "ExitRetryScheduled",
        "ExitModifyRefused",
        "OrderNotAccepted",
        "PositionNaked",
        "StopFilled",
        "OrderModified",
        "OrderRevived",
    }
)

# A fault armed for the calls an action is about to make: "pass" lets one call through
# (so the second placement of an entry, its stop, can be the one refused), "reject" has
# the exchange take the order and reject it (an RMS refusal), the rest fail in transit.
fault = st.tuples(
    st.sampled_from(["order.place", "order.place", "order.modify", "order.cancel", "orders"]),
    st.sampled_from(["pass", "refuse", "refuse", "lose", "reject"]),
    st.sampled_from([429, 429, 503, 500]),
)
action = st.one_of(
    st.tuples(st.just("tick"), st.integers(-40, 40), st.integers(1, 400)),
    st.tuples(st.just("otick"), st.integers(-400, 300), st.integers(1, 400)),
    st.tuples(st.just("buy_option")),
    st.tuples(st.just("signal"), st.sampled_from(["LONG", "SHORT", "EXIT"])),
    st.tuples(st.just("flatten")),
    st.tuples(st.just("kill")),
    st.tuples(st.just("wait"), st.sampled_from([0.2, 0.6, 1.5, 4.0])),
    st.tuples(st.just("deliver")),
    st.tuples(st.just("poll")),
    st.tuples(st.just("restart")),
)
step = st.tuples(action, st.lists(fault, max_size=3))
entry = st.tuples(
    st.sampled_from([("signal", "LONG"), ("signal", "SHORT"), ("buy_option",)]),
    st.lists(fault, max_size=2),
)
sequence = st.tuples(entry, st.lists(step, min_size=3, max_size=40)).map(
    lambda drawn: [drawn[0], *drawn[1]]
)


async def _scenario(folder: Path, actions: list[tuple]) -> None:
    rig = Rig(folder)
    await rig.tick(0, 1000)
    rig.market.inject_tick(f"NFO:{OPTION}", rig.premium, 1000, ts_ns=rig.market.now_ns + 1)
    await rig.start()
    try:
        for index, (action, faults) in enumerate(actions):
            for route, kind, status in faults:
                rig.kite.fail(route, ClientFault(kind, status))
            await asyncio.wait_for(rig.run(action), 30)
            problems = rule_11(rig.trader)
            assert not problems, f"after step {index} {action}: {problems}"
        await rig.journal.flush()
        kinds = {
            row[0] for row in await (await rig.db.execute("SELECT kind FROM events")).fetchall()
        }
        for kind in sorted(kinds & _SEEN):
            event(kind)  # which paths this sequence took, for --hypothesis-show-statistics
        if any(
            o.purpose is OrderPurpose.ENTRY and o.filled_qty for o in rig.trader.orders.values()
        ):
            event("a position was opened")
        # the end: everything the exchange says is heard, the desk goes flat and stays so
        rig.kite.faults.clear()
        await rig.poll()
        await rig.deliver()
        await rig.trader.flatten_all(OrderPurpose.FLATTEN, "end of test")
        for _ in range(30):
            await rig.tick(0, 1000)
            await rig.option_tick(0, 1000)
            rig.wall.ns += 2 * 10**9
            await rig.deliver()
            await rig.trader.exits.service()
            await rig.poll()
            assert not rule_11(rig.trader)
            flat = not any(rig.trader.position_qty(s) for s in (SYMBOL, OPTION))
            if flat and not rig.trader.open_orders():
                break
        for symbol in (SYMBOL, OPTION):
            qty = rig.trader.position_qty(symbol)
            assert qty == 0, (symbol, rig.trader.exits.protection(symbol))
            assert rig.exchange_position(symbol) == 0
        assert [o for o in rig.trader.open_orders()] == []
        tags = [o["tag"] for o in rig.exchange.orders(rig.account)]
        assert len(tags) == len(set(tags)), "a tag reached the exchange twice"
        assert all(len(t) <= 20 and t.isalnum() for t in tags)
        # positions equal fills: the journal's fills net to zero, as the exchange's trades
        await rig.journal.flush()
        fills = await load_fills(rig.db, "run1")
        for symbol in (SYMBOL, OPTION):
            assert sum(f.quantity * f.side.sign for _, f in fills if f.symbol == symbol) == 0
        trades = rig.exchange.trades(rig.account)
        assert (
            sum(t["quantity"] * (1 if t["transaction_type"] == "BUY" else -1) for t in trades) == 0
        )
        assert sum(f.quantity for _, f in fills) == sum(t["quantity"] for t in trades)
    finally:
        await rig.journal.close()
        await rig.db.close()


# Found by --hypothesis-seed=31337: the RMS refused a stop after taking it; the exit
# manager, resizing that stop for the entry's next fill, read it back REJECTED and, the
# refusal unheard, placed only the difference: position 100, a stop for 50, no alarm
# policy applied. A stop read back refused is now a refused stop (StopRejected, exit).
RESIZED_STOP_FOUND_REFUSED = [
    (("buy_option",), []),
    (
        ("deliver",),
        [
            ("order.place", "refuse", 429),
            ("order.place", "refuse", 429),
            ("order.place", "lose", 429),
        ],
    ),
    (
        ("tick", 0, 200),
        [
            ("order.place", "pass", 429),
            ("order.place", "refuse", 429),
            ("order.place", "reject", 429),
        ],
    ),
    (("buy_option",), [("order.place", "reject", 429)]),
    (("signal", "LONG"), []),
]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@example(RESIZED_STOP_FOUND_REFUSED)
@given(sequence)
def test_every_position_is_protected_or_closing_under_faults(actions: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_scenario(Path(folder), actions))
