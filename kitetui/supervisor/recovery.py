"""Recovery: a resumed run picks up exactly where the dead process left it.

An unfinished run of the same config is resumed. The data up to the journaled cursor is
replayed *silently* — bars and indicators rebuild, the journaled fills are re-applied at
the data clock they were processed at, nothing is journaled or sent — and then, before
the first batch the dead process had not finished, the rest is restored from the
database: the risk state, the open orders (handed back to the broker; one journaled
but never acknowledged is looked up by tag and placed only if the broker has no trace),
the cover of every open position, a stop-and-reverse still waiting for its close, and
the kill switch. ``WarmUp`` (``kitetui.trading.warmup``) is the one flag that says
"silent": the trader, the exit manager and the engines all read it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitetui.clock import ist_date
from kitetui.domain import EngineState, Event, Fill, Order, OrderPurpose
from kitetui.events import EventKind
from kitetui.market.instruments import Instrument
from kitetui.store import runs as runs_repo
from kitetui.store.rows import ENGINE_STATES_KEY
from kitetui.supervisor.order_reserve import follow_position_limit
from kitetui.trading import expiry_booking

if TYPE_CHECKING:
    from kitetui.supervisor.gate import Supervisor


class Recovery:
    def __init__(self, desk: Supervisor) -> None:
        self.desk = desk
        self.cursor_ns = 0
        self.fills: list[tuple[int, Fill]] = []  # the run's journaled fills: (clock, fill)
        self._applied = 0
        self._kill: dict | None = None  # the kill switch, if it was on at the start
        self.restored_engines: dict[str, str] = {}  # engine -> the state a person left

    async def load(self) -> None:
        """Read back what the journal holds for this run (nothing for a new run)."""
        desk = self.desk
        self.cursor_ns = desk.resume_cursor
        self.fills = await runs_repo.load_fills(desk.db, desk.run_id)
        # Every reloaded order stays until ``finish``: the fills replayed, the cover and
        # the reversals read them all (a bounded trader forgets old ones after that).
        desk.trader.pin_orders(True)
        for order in await runs_repo.load_orders(desk.db, desk.run_id):
            desk.trader.track(order)
            desk.trader.readopt(order)
            expiry_booking.remember(desk.trader, order)  # live: a settlement it booked
        desk.trader.counts["orders"] = desk.trader.placed
        await self._known_contracts()
        # Engines count their signals from here on; the warm-up emits none.
        emitted = await runs_repo.signals_by_engine(desk.db, desk.run_id)
        for engine in desk.engines:
            engine.signals_emitted = emitted.get(engine.name, 0)
        for engine, rule, verdict, n, ts_ns, symbol, reason in await runs_repo.load_blocked(
            desk.db, desk.run_id
        ):
            desk.trader.note_blocked(engine, rule, verdict, ts_ns, symbol, reason, n)
        kill = await runs_repo.load_desk_state(desk.db, "kill_switch")
        self._kill = kill if kill and kill.get("on") else None
        await self._restore_engine_states()
        desk.warmup.active = self.cursor_ns > 0

    async def _known_contracts(self) -> None:
        """A contract this run holds that today's master no longer lists (live, Kite's
        dump of the day after its expiry) comes back from the journal's masters, so the
        desk knows it expired: settled, never sent an order (``Trader.contract_expired``).
        ``desk.contracts`` is the charger's map too."""
        desk = self.desk
        held: dict[str, int] = {}
        for _, fill in self.fills:
            held[fill.symbol] = held.get(fill.symbol, 0) + fill.side.sign * fill.quantity
        missing = [s for s, qty in held.items() if qty and s not in desk.contracts]
        if not missing:
            return
        for row in await runs_repo.journaled_instruments(desk.db, sorted(missing)):
            instrument = Instrument.from_journal_row(row)
            desk.contracts[instrument.tradingsymbol] = instrument

    async def _restore_engine_states(self) -> None:
        """The engines as a person left this run (stopped, paused, started)."""
        desk = self.desk
        kept = await runs_repo.load_desk_state(desk.db, ENGINE_STATES_KEY)
        if not kept or kept["run_id"] != desk.run_id:
            return
        for engine in desk.engines:
            state = kept["states"].get(engine.name)
            if state is not None and state != engine.state.value:
                engine.state = EngineState(state)
                self.restored_engines[engine.name] = state

    def replay_fills(self, ts_ns: int) -> None:
        """During the warm-up: the fills the dead process applied up to ``ts_ns``."""
        fills = self.fills
        while self._applied < len(fills) and fills[self._applied][0] <= ts_ns:
            self.desk.trader.replay_fill(fills[self._applied][1])
            self._applied += 1

    def replay_days(self) -> str:
        """A live resume: the journaled fills applied day by day, each IST day of their
        clock started in turn, so that today's P&L (and its loss limits) counts today's
        fills only; the last day started, or "" when there were none."""
        portfolio = self.desk.portfolio
        started = ""
        for clock_ns, fill in self.fills[self._applied :]:
            day = ist_date(clock_ns).isoformat()
            if day != started:
                portfolio.start_day(day)
                started = day
            self.desk.trader.replay_fill(fill)
            self._applied += 1
        return started

    async def finish(self) -> None:
        """The warm-up is over: restore risk, open orders, cover and the kill switch."""
        desk = self.desk
        desk.warmup.active = False
        for _, fill in self.fills[self._applied :]:
            desk.trader.replay_fill(fill)
        self._applied = len(self.fills)
        state = await runs_repo.load_risk_state(desk.db, desk.run_id)
        if state is not None:
            desk.risk.restore(state)
        # a limit set by hand before the restart sizes Kite's reserve for closes again
        follow_position_limit(desk.broker, desk.risk.limits.max_open_positions)
        open_orders = [o for o in desk.trader.orders.values() if not o.status.is_terminal]
        desk.broker.restore(open_orders)
        await desk.trader.recover_new_orders()
        if not desk.venue.simulated:  # yesterday's DAY orders are gone at Kite, unheard
            await desk.trader.lapse_unlisted(ist_date(desk.clock.now_ns))
        await self._ensure_cover()
        if self._kill or desk.risk.kill_switch:
            # On before the restart, or pulled while the desk was starting: the positions
            # the journal rebuilt are closed now.
            if self._kill:
                desk.risk.trigger_kill(self._kill.get("reason", "kill switch"))
            await desk.commands.apply_kill("kill switch still on after restart")
        if desk.resumed:
            positions = {p.symbol: p.quantity for p in desk.portfolio.open_positions()}
            desk.trader.record_event(
                Event(
                    ts_ns=desk.clock.now_ns,
                    kind=EventKind.STATE_REBUILT,
                    message=f"rebuilt {len(self.fills)} fills, {len(positions)} open "
                    f"positions, {len(open_orders)} open orders from the journal"
                    + "".join(f"; {n} {s} as left" for n, s in self.restored_engines.items()),
                    data={
                        "engines": self.restored_engines,
                        "positions": positions,
                        "open_orders": [o.tag for o in open_orders],
                        "charges_paise": desk.portfolio.charges_paise,
                    },
                )
            )
        desk.trader.pin_orders(False)
        # A position rebuilt in a symbol no engine chose today (an option the engine
        # rolled away from) keeps its prices flowing: it was blind until the next roll.
        desk.reroute()

    async def _ensure_cover(self) -> None:
        """A crash between a fill and the order it called for (a stop after an entry, a
        closing order, the entry of a reversal) leaves it missing: the exit manager
        settles each open position as it would have right after its last fill, with the
        same cause, so the order gets the same tag and time it would have had."""
        trader = self.desk.trader
        last_entry: dict[str, Order] = {}
        for order in trader.orders.values():
            if order.purpose is OrderPurpose.ENTRY and order.filled_qty and order.stop_price:
                last_entry[order.symbol] = order
        exits = trader.exits
        exits.rebuild(last_entry)
        await self._restore_reversals()
        last_fill: dict[str, tuple[int, str]] = {}
        for clock_ns, fill in self.fills:
            last_fill[fill.symbol] = (clock_ns, fill.fill_id)
        symbols = {p.symbol for p in trader.portfolio.open_positions()}
        symbols |= {o.symbol for o in trader.open_orders()}
        symbols |= set(exits.reversal_symbols())
        for symbol in sorted(symbols):
            clock_ns, fill_id = last_fill.get(symbol, (None, ""))
            await exits.settle(symbol, cause=fill_id, ts_ns=clock_ns)

    async def _restore_reversals(self) -> None:
        """Stop-and-reverse survives a restart: a close that a signal against the
        position started still enters the other side once it has filled, unless the
        entry was already tried (its order, or a refusing risk decision, is journaled)."""
        desk = self.desk
        if desk.config.exits.on_opposite_signal != "reverse":
            return
        latest: dict[str, Order] = {}
        for order in desk.trader.orders.values():  # placement order: the last one wins
            latest[order.symbol] = order
        for symbol, order in latest.items():
            kind = order.reason.split(":", 1)[0]
            if order.purpose is not OrderPurpose.EXIT or kind not in ("LONG", "SHORT"):
                continue
            if await runs_repo.entry_tried(desk.db, desk.run_id, order.signal_id):
                continue
            signal = await runs_repo.load_signal(desk.db, order.signal_id)
            if signal is not None:
                desk.trader.exits.restore_reversal(symbol, signal.engine, signal)
