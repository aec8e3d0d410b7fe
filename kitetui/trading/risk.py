"""The risk gate: every order intent passes ``RiskEngine.check`` before it is placed.

Risk is a small state machine — ACTIVE, REDUCING (entries paused), HALTED (kill switch
or max daily loss) — derived from a handful of flags so it can never disagree with
them. One rule outranks every other: **risk never stops you getting flat.** An exit
(EXIT, STOP, SQUARE_OFF, FLATTEN) is allowed in any state, reduced to the open
position if it asks for more; it is blocked only when there is nothing to reduce.

Entries go through the limits in a fixed order: state and symbol blocks first (BLOCK),
then quantity, order value and gross exposure caps (REDUCE to what fits, in whole
lots; BLOCK if not even one lot fits). The open positions and the gross exposure include
the entries still working (``ExposureView``): an entry counts from its placement. Every
decision carries the rule's name and a sentence a trader can read, and the caller
journals it.

Money is compared in integer paise; limits are configured in rupees. The engine is
plain synchronous state; ``to_state``/``from_state`` give a JSON-safe dict so the
kill switch, the blocks and the day's counters survive a restart (rule 2, rule 6).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kitetui.domain import (
    OrderIntent,
    OrderPurpose,
    Product,
    RiskDecision,
    RiskVerdict,
    Side,
    TradingState,
    to_paise,
)
from kitetui.drafts import built_in_draft, maker
from kitetui.risk_state import STATE_VERSION, RiskState

EXIT_PURPOSES = frozenset(
    {OrderPurpose.EXIT, OrderPurpose.STOP, OrderPurpose.SQUARE_OFF, OrderPurpose.FLATTEN}
)

# The members every check reads, bound once (why: ``kitetui/domain.py``, "Bound members").
_ALLOW, _REDUCE, _BLOCK = RiskVerdict.ALLOW, RiskVerdict.REDUCE, RiskVerdict.BLOCK
_CNC, _SELL = Product.CNC, Side.SELL
_ACTIVE, _REDUCING, _HALTED = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
# ``RiskDecision(verdict, quantity, reason, rule)`` made by ``drafts.maker`` (one frame, one
# ``__class__`` store, not ``type.__call__`` and the class's ``__init__``): every entry's
# and every exit's decision, and each block, is one.
_DECISION = maker(RiskDecision)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Hard limits. Money in rupees (positive numbers), counts and quantities as ints."""

    max_daily_loss: float
    max_symbol_loss: float
    max_open_positions: int
    max_trades_per_symbol_per_day: int
    max_gross_exposure: float
    max_order_value: float
    max_order_quantity: int

    def __post_init__(self) -> None:
        for name in ("max_daily_loss", "max_symbol_loss", "max_gross_exposure", "max_order_value"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"RiskLimits.{name} must be a positive amount, got {value!r}")
        for name in ("max_open_positions", "max_trades_per_symbol_per_day", "max_order_quantity"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"RiskLimits.{name} must be a positive integer, got {value!r}")


@built_in_draft
@dataclass(frozen=True, slots=True)
class ExposureView:
    """What the portfolio looks like to one check: the book and the intent's symbol.

    The entries still working count as the positions they are about to open: a batch
    (a bar of many symbols) can place several entries before any fills, and counting
    only the filled positions let a limit of 1 open 2, and 17 open against 5 (probe B).
    """

    open_positions: int
    gross_exposure_paise: int
    position_qty: int  # signed net quantity of the intent's symbol
    working_orders: int = 0  # the intent's symbol's orders still working at the broker
    engine_paused: bool = False  # the intent's engine has its own entries paused
    # Symbols with an entry working and no position yet: each will be one more open.
    entries_working: int = 0
    # The working entries' unfilled quantity times the price that values each: exposure
    # the book takes on as they fill.
    entries_working_paise: int = 0

    @property
    def positions_counted(self) -> int:
        """Open positions and the symbols an entry is about to open."""
        return self.open_positions + self.entries_working

    @property
    def gross_counted_paise(self) -> int:
        """Gross exposure of the open positions and the working entries."""
        return self.gross_exposure_paise + self.entries_working_paise


@dataclass(frozen=True, slots=True)
class EntryBlock:
    """A named reason no entry may go out, and the one thing that clears it.

    Each block has one owner that sets it and the condition that clears it, so one
    cause clearing can never lift another's block (a feed reconnect clears
    ``feed_stale`` and nothing else).
    """

    name: str  # "feed_stale", "login_required", "entry_cutoff", "placement_unknown:TAG"
    reason: str
    clears: str  # when it lifts, in words for the Risk tab and ``ctl status``


FEED_STALE = "feed_stale"
LOGIN_REQUIRED = "login_required"
ENTRY_CUTOFF = "entry_cutoff"
PLACEMENT_UNKNOWN = "placement_unknown"


@dataclass(frozen=True, slots=True)
class LimitBreached:
    """A P&L limit tripped in ``on_pnl``: the caller flattens and journals it.

    ``symbol == ""`` means the whole session (verdict HALT: flatten everything);
    otherwise that one symbol was blocked (verdict BLOCK: flatten that symbol).
    """

    symbol: str
    decision: RiskDecision

    @property
    def verdict(self) -> RiskVerdict:
        return self.decision.verdict

    @property
    def rule(self) -> str:
        return self.decision.rule

    @property
    def reason(self) -> str:
        return self.decision.reason


def _rupees(paise: int) -> str:
    return f"₹{paise / 100:,.2f}"


def _block(rule: str, reason: str) -> RiskDecision:
    return _DECISION(_BLOCK, 0, reason, rule)


def _delivery_short_block(intent: OrderIntent) -> RiskDecision | None:
    """An entry that sells in CNC is a short sale of shares the account does not hold:
    Kite's RMS rejects it ("Check holdings"), and a paper or replay run must not book
    what live trading never could (an audit found 18 such CNC shorts in a replay)."""
    if intent.product is _CNC and intent.side is _SELL:
        return _block(
            "cnc_short",
            f"{intent.symbol}: a CNC sell needs shares held, and kitetui holds none to "
            "deliver; sell short intraday with product MIS",
        )
    return None


def _price_block(symbol: str, price: float) -> RiskDecision | None:
    """An entry cannot be valued (or capped) at a price that is not a positive number
    of paise."""
    if not math.isfinite(price) or price <= 0:
        return _block("invalid_price", f"{symbol}: cannot value an order at price {price!r}")
    if to_paise(price) <= 0:
        return _block("invalid_price", f"{symbol}: price {price!r} rounds to zero paise")
    return None


class RiskEngine:
    """Gate for order intents, with the session's halt, kill switch and per-day counters.

    ``trading_day`` is an IST date string (``"2024-05-17"``); the caller rolls it with
    ``roll_day`` at the start of each session. Counters are per trading day.
    """

    def __init__(self, limits: RiskLimits, trading_day: str = "") -> None:
        self.limits = limits
        self.config_limits = limits  # as configured; ``limits`` may be changed at run time
        self.trading_day = trading_day
        self.kill_switch = False
        self.kill_reason = ""
        self.loss_halt_reason = ""  # set by max daily loss; cleared only by roll_day
        self.entries_paused = False
        self.blocked_symbols: dict[str, str] = {}
        self.entries_today: dict[str, int] = {}
        # Entry blocks set by live conditions (feed, login, placements, the clock). They
        # are not persisted: each owner re-establishes its block at start.
        self.blocks: dict[str, EntryBlock] = {}
        # ``changed_limits`` and the two limit objects it was worked out from.
        self._changed: tuple[RiskLimits, RiskLimits, dict[str, int | float]] | None = None
        # The last ``to_state`` snapshot, with copies of what it was made of.
        self._state: tuple[tuple[Any, ...], dict[str, str], dict[str, int], dict[str, Any]] | None
        self._state = None
        # ``may_breach``'s loss limits in paise, and the limits they were read from.
        self._loss_limits_of: RiskLimits | None = None
        self._loss_paise = (0, 0)

    # ------------------------------------------------------------------ limits

    def set_limit(self, name: str, value: int | float) -> int | float:
        """Change one limit for the rest of the run (journaled with the risk state, so a
        restart keeps it); returns the value it had. The caller checks the config's
        bounds (``kitetui.risk_limits``); ``RiskLimits`` refuses a non-positive one."""
        if name not in RiskLimits.__dataclass_fields__:
            raise ValueError(f"no risk limit {name!r}")
        old = getattr(self.limits, name)
        self.limits = replace(self.limits, **{name: value})
        return old

    @property
    def changed_limits(self) -> dict[str, int | float]:
        """The limits that differ from the config's, by name (a new dict each time).

        Asked with the risk state after every batch: worked out again only when
        ``limits`` or ``config_limits`` is another object (both are frozen)."""
        known = self._changed
        if known is None or known[0] is not self.limits or known[1] is not self.config_limits:
            changed = {
                name: getattr(self.limits, name)
                for name in RiskLimits.__dataclass_fields__
                if getattr(self.limits, name) != getattr(self.config_limits, name)
            }
            known = self._changed = (self.limits, self.config_limits, changed)
        return dict(known[2])

    def _with_changes(self, changes: Mapping[str, int | float]) -> RiskLimits:
        unknown = sorted(set(changes) - set(RiskLimits.__dataclass_fields__))
        if unknown:
            raise ValueError(f"risk state changes unknown limits: {', '.join(unknown)}")
        return replace(self.config_limits, **changes)

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> TradingState:
        if self.kill_switch or self.loss_halt_reason:
            return _HALTED
        if self.entries_paused:
            return _REDUCING
        return _ACTIVE

    @property
    def halted_reason(self) -> str:
        """Why trading is halted ("" when it is not); the kill switch's reason first."""
        if self.kill_switch:
            return self.kill_reason
        return self.loss_halt_reason

    def trigger_kill(self, reason: str = "manual") -> None:
        """Engage the kill switch. The caller cancels every open order and flattens."""
        self.kill_switch = True
        self.kill_reason = f"kill switch: {reason}" if reason else "kill switch"

    def reset_kill(self) -> None:
        """Clear the kill switch only: a daily-loss halt stays until the day rolls."""
        self.kill_switch = False
        self.kill_reason = ""

    def pause_entries(self) -> None:
        self.entries_paused = True

    def resume_entries(self) -> None:
        self.entries_paused = False

    def set_block(self, name: str, reason: str, clears: str) -> bool:
        """Block entries for ``name``'s reason; True if it was not already set."""
        new = name not in self.blocks
        self.blocks[name] = EntryBlock(name, reason, clears)
        return new

    def clear_block(self, name: str) -> bool:
        """Lift one named block; True if it was set."""
        return self.blocks.pop(name, None) is not None

    def block_symbol(self, symbol: str, reason: str) -> None:
        """Stop new entries in one symbol for the rest of the day (exits still pass)."""
        self.blocked_symbols[symbol] = reason

    def record_entry(self, symbol: str) -> None:
        """Count one entry order for ``symbol`` today (call when an entry is placed)."""
        self.entries_today[symbol] = self.entries_today.get(symbol, 0) + 1

    def trades_today(self, symbol: str) -> int:
        return self.entries_today.get(symbol, 0)

    def roll_day(self, day: str) -> bool:
        """Start trading day ``day``: reset counters, symbol blocks and a daily-loss halt.

        The kill switch and paused entries survive (a person set them; a person clears
        them). Rolling to the day already current is a no-op and returns False, so a
        restart mid-session keeps today's counters.
        """
        if day == self.trading_day:
            return False
        self.trading_day = day
        self.entries_today.clear()
        self.blocked_symbols.clear()
        self.loss_halt_reason = ""
        return True

    # ------------------------------------------------------------------ the gate

    def check(
        self,
        intent: OrderIntent,
        price: float,
        exposure: ExposureView,
        lot_size: int = 1,
    ) -> RiskDecision:
        """Decide one intent. ``price`` values the order (LTP, or the limit price)."""
        if intent.quantity <= 0:
            return _block("invalid_quantity", f"quantity {intent.quantity} is not positive")
        if intent.purpose in EXIT_PURPOSES:
            return self._check_exit(intent, exposure.position_qty)
        return self._check_entry(intent, price, exposure, max(1, lot_size))

    def check_exit(self, intent: OrderIntent, held: int) -> RiskDecision:
        """``check`` of an exit (``EXIT_PURPOSES``), ``held`` the symbol's signed position:
        the position alone decides an exit, so its caller need not work out the book's
        exposure (the open positions, the gross, the working entries: a walk over every
        book). An entry is refused with ``ValueError``: it needs ``check``."""
        if intent.purpose not in EXIT_PURPOSES:
            raise ValueError(f"check_exit of a {intent.purpose} intent: entries need check")
        if intent.quantity <= 0:
            return _block("invalid_quantity", f"quantity {intent.quantity} is not positive")
        return self._check_exit(intent, held)

    def _check_exit(self, intent: OrderIntent, held: int) -> RiskDecision:
        if held == 0:
            return _block("no_position", f"{intent.purpose} {intent.symbol}: no open position")
        if intent.side.sign * held > 0:
            return _block(
                "no_position",
                f"{intent.purpose} {intent.side} {intent.symbol} would add to a "
                f"{'long' if held > 0 else 'short'} position of {held}",
            )
        if intent.quantity > abs(held):
            return RiskDecision(
                _REDUCE,
                abs(held),
                f"{intent.purpose} of {intent.quantity} reduced to the position of {abs(held)}",
                "exit_position_size",
            )
        return _DECISION(_ALLOW, intent.quantity, f"{intent.purpose} reduces a position", "exit")

    def _check_entry(
        self, intent: OrderIntent, price: float, exposure: ExposureView, lot_size: int
    ) -> RiskDecision:
        """The entry gates in order: the desk's blocks, the symbol's, the price, then the
        caps that reduce the quantity to whole lots (or block when not one lot fits)."""
        blocked = (
            self._desk_block()
            or self._symbol_block(intent, exposure)
            or _delivery_short_block(intent)
            or _price_block(intent.symbol, price)
        )
        if blocked is not None:
            return blocked
        return self._capped(intent, to_paise(price), exposure, lot_size)

    def _desk_block(self) -> RiskDecision | None:
        """What stops every entry on the desk: the kill switch, a loss halt, paused
        entries, a live block (feed, login, placements, the clock)."""
        if self.kill_switch:
            return _block("kill_switch", self.kill_reason)
        if self.loss_halt_reason:
            return _block("halted", self.loss_halt_reason)
        if self.entries_paused:
            return _block("entries_paused", "entries are paused")
        block = next(iter(self.blocks.values()), None)
        if block is not None:  # the oldest live block speaks for all of them
            rule = block.name.split(":", 1)[0]
            return _block(rule, f"{block.reason} (clears {block.clears})")
        return None

    def _symbol_block(self, intent: OrderIntent, exposure: ExposureView) -> RiskDecision | None:
        """What stops this engine's entry in this symbol today."""
        limits = self.limits
        symbol = intent.symbol
        if exposure.engine_paused:
            return _block("engine_paused", f"engine {intent.engine} is paused")
        if exposure.working_orders:
            return _block("order_working", f"{symbol}: an order is already working")
        if symbol in self.blocked_symbols:
            return _block("symbol_blocked", f"{symbol} blocked: {self.blocked_symbols[symbol]}")
        trades = self.trades_today(symbol)
        if trades >= limits.max_trades_per_symbol_per_day:
            return _block(
                "max_trades_per_symbol",
                f"{symbol}: {trades} entries today, limit {limits.max_trades_per_symbol_per_day}",
            )
        if exposure.position_qty == 0 and exposure.positions_counted >= limits.max_open_positions:
            working = exposure.entries_working
            return _block(
                "max_open_positions",
                f"{exposure.open_positions} positions open"
                + (f" and {working} more with an entry working" if working else "")
                + f", limit {limits.max_open_positions}",
            )
        return None

    def _capped(
        self, intent: OrderIntent, price_paise: int, exposure: ExposureView, lot_size: int
    ) -> RiskDecision:
        """The quantity under each cap in turn (order quantity, order value, gross
        exposure), rounded down to whole lots; every cap that bit is named."""
        limits = self.limits
        quantity = intent.quantity
        rule = ""
        reasons: list[str] = []

        def reduce_to(cap: int, name: str, why: str) -> None:
            nonlocal quantity, rule
            quantity = min(quantity, cap - cap % lot_size)
            rule = name
            reasons.append(why)

        if quantity > limits.max_order_quantity:
            reduce_to(
                limits.max_order_quantity,
                "max_order_quantity",
                f"quantity {quantity} over the limit {limits.max_order_quantity}",
            )
        max_value = to_paise(limits.max_order_value)
        if quantity > 0 and quantity * price_paise > max_value:
            reduce_to(
                max_value // price_paise,
                "max_order_value",
                f"order value {_rupees(quantity * price_paise)} over the limit "
                f"{_rupees(max_value)}",
            )
        max_gross = to_paise(limits.max_gross_exposure)
        gross = exposure.gross_counted_paise  # working entries included
        if quantity > 0 and gross + quantity * price_paise > max_gross:
            room = max(0, max_gross - gross)
            in_entries = exposure.entries_working_paise
            reduce_to(
                room // price_paise,
                "max_gross_exposure",
                f"gross exposure {_rupees(gross)}"
                + (f" ({_rupees(in_entries)} of it in working entries)" if in_entries else "")
                + f" + {_rupees(quantity * price_paise)} over the limit {_rupees(max_gross)}",
            )
        if quantity <= 0:
            return _block(rule, "; ".join(reasons) + f"; not one lot of {lot_size} fits")
        if quantity < intent.quantity:
            return RiskDecision(
                _REDUCE,
                quantity,
                "; ".join(reasons) + f": reduced {intent.quantity} to {quantity}",
                rule,
            )
        return _DECISION(_ALLOW, quantity, "within limits", "entry")

    # ------------------------------------------------------------------ P&L limits

    def may_breach(self, day_pnl_paise: int, worst_symbol_pnl: int | float) -> bool:
        """Whether ``on_pnl`` could trip anything with these figures: the day's P&L and
        the lowest symbol's (``math.inf`` with none). When False, ``on_pnl`` would
        return nothing and change nothing, so the batch path, which asks after every
        batch, builds the per-symbol mapping only when this is True (rarely)."""
        limits = self.limits
        if limits is not self._loss_limits_of:  # (frozen: a change is a new object)
            self._loss_limits_of = limits
            self._loss_paise = (to_paise(limits.max_daily_loss), to_paise(limits.max_symbol_loss))
        max_day, max_symbol = self._loss_paise
        if -day_pnl_paise >= max_day and not self.loss_halt_reason:
            return True
        return -worst_symbol_pnl >= max_symbol

    def on_pnl(self, day_pnl_paise: int, symbol_pnl: Mapping[str, int]) -> list[LimitBreached]:
        """Check the day's P&L against the loss limits; return what newly tripped.

        A day loss >= ``max_daily_loss`` halts the session (HALT, symbol ""); a symbol
        loss >= ``max_symbol_loss`` blocks that symbol (BLOCK). Each breach is reported
        once, when it happens, so the caller flattens and journals it once; later calls
        in the same state return nothing new.
        """
        breaches: list[LimitBreached] = []
        max_day = to_paise(self.limits.max_daily_loss)
        if not self.loss_halt_reason and -day_pnl_paise >= max_day:
            self.loss_halt_reason = (
                f"max daily loss: day P&L {_rupees(day_pnl_paise)} reached the limit "
                f"-{_rupees(max_day)}"
            )
            decision = RiskDecision(RiskVerdict.HALT, 0, self.loss_halt_reason, "max_daily_loss")
            breaches.append(LimitBreached("", decision))
        max_symbol = to_paise(self.limits.max_symbol_loss)
        if not symbol_pnl or -min(symbol_pnl.values()) < max_symbol:
            return breaches  # no symbol lost that much (most batches): none to look at
        for symbol, pnl in symbol_pnl.items():
            if symbol in self.blocked_symbols or -pnl < max_symbol:
                continue
            reason = (
                f"max symbol loss: {symbol} P&L {_rupees(pnl)} reached the limit "
                f"-{_rupees(max_symbol)}"
            )
            self.blocked_symbols[symbol] = reason
            decision = RiskDecision(RiskVerdict.BLOCK, 0, reason, "max_symbol_loss")
            breaches.append(LimitBreached(symbol, decision))
        return breaches

    # ------------------------------------------------------------------ persistence

    def to_state(self) -> dict[str, Any]:
        """A JSON-safe snapshot: the state, and the limits a person changed (the rest
        come from the config).

        The desk journals it after every batch, and on most batches nothing in it
        moved: while everything it is made of equals what the last snapshot was made
        of (compared as values, however it was changed), that very snapshot is given
        again. A snapshot is read, never changed (the journal writes it as JSON)."""
        scalars = (
            self.trading_day,
            self.kill_switch,
            self.kill_reason,
            self.loss_halt_reason,
            self.entries_paused,
            self.limits,
            self.config_limits,
        )
        known = self._state
        if (
            known is not None
            and known[0] == scalars
            and known[1] == self.blocked_symbols
            and known[2] == self.entries_today
        ):
            return known[3]
        blocked, entries = dict(self.blocked_symbols), dict(self.entries_today)
        state = {
            "version": STATE_VERSION,
            "trading_day": self.trading_day,
            "kill_switch": self.kill_switch,
            "kill_reason": self.kill_reason,
            "loss_halt_reason": self.loss_halt_reason,
            "entries_paused": self.entries_paused,
            "blocked_symbols": blocked,
            "entries_today": entries,
            "limits": self.changed_limits,
        }
        # (its own copies of the two maps: the snapshot's are handed out with it)
        self._state = (scalars, dict(blocked), dict(entries), state)
        return state

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take the journaled state in place (everyone holding this engine sees it); the
        live entry blocks stay, they are not journaled. Strict like ``from_state``."""
        journaled = RiskEngine.from_state(state, self.config_limits)
        self.limits = journaled.limits
        self.trading_day = journaled.trading_day
        self.kill_switch = journaled.kill_switch
        self.kill_reason = journaled.kill_reason
        self.loss_halt_reason = journaled.loss_halt_reason
        self.entries_paused = journaled.entries_paused
        self.blocked_symbols = journaled.blocked_symbols
        self.entries_today = journaled.entries_today

    @classmethod
    def from_state(cls, state: Mapping[str, Any], limits: RiskLimits) -> RiskEngine:
        """Rebuild an engine from ``to_state()`` output with the configured limits (and
        the changes a person made to them during the run).

        Strict (``RiskState.parse``): a missing key or a wrong type raises ``ValueError``
        rather than quietly forgetting, say, an engaged kill switch.
        """
        journaled = RiskState.parse(state)
        engine = cls(limits, trading_day=journaled.trading_day)
        engine.limits = engine._with_changes(journaled.limits)
        engine.kill_switch = journaled.kill_switch
        engine.kill_reason = journaled.kill_reason
        engine.loss_halt_reason = journaled.loss_halt_reason
        engine.entries_paused = journaled.entries_paused
        engine.blocked_symbols.update(journaled.blocked_symbols)
        engine.entries_today.update(journaled.entries_today)
        return engine
