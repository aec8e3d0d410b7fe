"""The final settlement price of a contract held into its expiry (pure), and the kind
of settlement its closing order names for its charges."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from kitetui.domain import Event, OrderPurpose
from kitetui.market.instruments import Instrument
from kitetui.supervisor.expiry import settle_expired, settlement_price
from kitetui.trading import expiry_settlement
from kitetui.trading.charges import SettlementKind


def _contract(kind: str, strike: float = 0.0) -> Instrument:
    return Instrument(
        1,
        1,
        f"NIFTY22NOV{kind}",
        "NIFTY",
        0.0,
        date(2022, 11, 24),
        strike,
        0.05,
        50,
        kind,
        "NFO-OPT" if kind != "FUT" else "NFO-FUT",
        "NFO",
    )


@pytest.mark.parametrize(
    ("kind", "strike", "index", "last", "price"),
    [
        ("CE", 18150, 18411.0, 265.0, 261.0),  # in the money: intrinsic, not the premium
        ("CE", 18500, 18411.0, 0.3, 0.0),  # out of the money: worthless
        ("PE", 18500, 18411.0, 95.0, 89.0),
        ("PE", 18150, 18411.0, 0.05, 0.0),
        ("FUT", 0, 18411.0, 18418.0, 18411.0),  # a future: the index's close
        ("CE", 18150, None, 265.0, 265.0),  # no index price: its own last, said so
    ],
)
def test_settlement_price_with_underlying_close_is_intrinsic_value(
    kind: str, strike: float, index: float | None, last: float, price: float
) -> None:
    settled = settlement_price(_contract(kind, strike), "NIFTY 50", index, last)
    assert settled is not None and settled.price == price
    assert ("no price of NIFTY 50" in settled.basis) is (index is None)


def test_settlement_price_with_no_price_at_all_is_none() -> None:
    assert settlement_price(_contract("CE", 18150), "NIFTY 50", None, None) is None


class _Trader:
    """What ``settle_expired`` asks of the trader: a close still working is cancelled,
    the settlement's close goes out, its fill closes the position."""

    def __init__(self, quantity: int, under_way: bool = False) -> None:
        self.quantity = quantity
        self.under_way = under_way  # a close of its own reason works at the bell
        self.reasons: list[str] = []
        self.events: list[Event] = []
        self.cancelled: list[tuple[str, str]] = []
        self.forgot: list[str] = []
        self.working: list[SimpleNamespace] = []
        self.symbol = ""
        self.exits = SimpleNamespace(forget_contract=self.forgot.append)
        self.portfolio = SimpleNamespace(position=lambda symbol: None)

    def hold(self, symbol: str) -> None:
        self.symbol = symbol
        if self.under_way:
            self.working.append(
                SimpleNamespace(
                    tag="C0", symbol=symbol, purpose=OrderPurpose.EXIT, reason="exit: signal"
                )
            )

    async def flatten(self, symbol: str, purpose: OrderPurpose, reason: str) -> bool:
        assert not self.working, "the settlement's close went out beside a close under way"
        self.reasons.append(reason)
        tag = f"T{len(self.reasons) - 1}"
        self.working.append(SimpleNamespace(tag=tag, symbol=symbol, purpose=purpose, reason=reason))
        return True

    def open_orders(self, symbol: str | None = None) -> list[SimpleNamespace]:
        return [o for o in self.working if symbol in (None, o.symbol)]

    async def cancel(self, tag: str, reason: str) -> bool:
        self.cancelled.append((tag, reason))
        self.working = [o for o in self.working if o.tag != tag]
        return True

    async def on_fills(self, fills: list) -> None:
        self.quantity = 0

    def position_qty(self, symbol: str) -> int:
        return self.quantity

    def record_event(self, event: Event) -> None:
        self.events.append(event)


class _Broker:
    """The paper exchange: the settlement's closes fill at its price, exactly; a trade
    (a close under way) at a print."""

    def __init__(self) -> None:
        self.settled: list[tuple[list[str], float]] = []
        self.printed: list[float] = []

    def settle_at_expiry(self, tags: list[str], ts_ns: int, price: float) -> list[str]:
        self.settled.append((list(tags), price))
        return ["a fill"] if tags else []

    def on_market(self, tick) -> list[str]:
        self.printed.append(tick.price)
        return ["a fill"]


def _desk(contract: Instrument, trader: _Trader) -> SimpleNamespace:
    trader.hold(contract.tradingsymbol)
    return SimpleNamespace(
        trader=trader,
        venue=SimpleNamespace(simulated=True),
        engines=[],
        contracts={contract.tradingsymbol: contract},
        last_prices={"NIFTY": 18411.0},
        portfolio=SimpleNamespace(mark=lambda symbol, price: True),
        broker=_Broker(),
        equity_point=lambda ts: None,
    )


@pytest.mark.parametrize(
    ("kind", "strike", "quantity", "settlement", "price", "said"),
    [
        ("CE", 18150, 50, SettlementKind.EXERCISE, 261.0, "exercised: charged brokerage, STT"),
        ("CE", 18150, -50, SettlementKind.ASSIGNMENT, 261.0, "assigned: no STT"),
        ("PE", 18150, 50, SettlementKind.LAPSE, 0.0, "lapsed worthless: no order"),
        ("PE", 18150, -50, SettlementKind.LAPSE, 0.0, "lapsed worthless: no order"),
        ("FUT", 0, 50, SettlementKind.FUTURE, 18411.0, "cash-settled: charged as a trade"),
    ],
)
async def test_settle_expired_with_moneyness_and_side_names_the_settlement_it_is_charged_as(
    kind: str, strike: float, quantity: int, settlement: SettlementKind, price: float, said: str
) -> None:
    """The closing order's reason carries the kind the charger prices it as, the paper
    exchange fills it at exactly the settlement price (zero for a lapse, never one
    tick: it is no trade), and the event says what that kind is charged."""
    contract = _contract(kind, strike)
    trader = _Trader(quantity)
    position = SimpleNamespace(symbol=contract.tradingsymbol, quantity=quantity, last_price=1.0)
    desk = _desk(contract, trader)
    await settle_expired(desk, 1, [position], "at the bell")  # type: ignore[arg-type]
    (reason,) = trader.reasons
    assert expiry_settlement.kind_of(reason) is settlement, reason
    assert desk.broker.settled == [(["T0"], price)] and desk.broker.printed == []
    (event,) = trader.events
    assert event.level == "WARNING" and said in event.message, event.message
    assert "one tick" not in event.message, event.message


@pytest.mark.parametrize(
    ("kind", "price", "said"),
    [
        ("PE", 0.0, "lapsed worthless: no order at the exchange"),
        ("CE", 261.0, "exercised: charged brokerage, STT on exercise"),
    ],
)
async def test_settle_expired_with_a_close_under_way_cancels_it_then_settles_what_is_held(
    kind: str, price: float, said: str
) -> None:
    """A close still working when the settlement runs (placed before it, with its own
    reason) is cancelled first, and the settlement closes what is held at exactly its
    price: a lapse at zero, never a trade at one tick (0.05), which no exchange made."""
    contract = _contract(kind, 18150)
    trader = _Trader(50, under_way=True)
    position = SimpleNamespace(symbol=contract.tradingsymbol, quantity=50, last_price=1.0)
    desk = _desk(contract, trader)
    await settle_expired(desk, 1, [position], "at the bell")  # type: ignore[arg-type]
    assert [tag for tag, _ in trader.cancelled] == ["C0"]
    assert trader.cancelled[0][1].startswith("cancelled by the settlement at expiry")
    assert trader.forgot == [contract.tradingsymbol]
    (reason,) = trader.reasons
    assert expiry_settlement.kind_of(reason) is expiry_settlement.kind_for(True, True, price)
    assert desk.broker.settled == [(["T0"], price)] and desk.broker.printed == []
    (event,) = trader.events
    assert "the close under way (C0) cancelled first" in event.message, event.message
    assert said in event.message and "one tick" not in event.message, event.message
    assert event.data["cancelled"] == ["C0"] and event.data["price"] == price
