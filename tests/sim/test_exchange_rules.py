"""Kite's and NSE's order rules in the sim exchange, through the real kiteconnect client.

Each test names the source of the rule it checks; docs/exchange-rules.md is the table
(rule -> what the sim does -> Kite's error -> source) and marks unverified wordings.
"""

from __future__ import annotations

import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex
from sim_support import API_KEY

from kitetui.sim import rules
from kitetui.sim.market import parse_ist
from kitetui.sim.rest import RateLimiter
from kitetui.sim.server import build_arg_parser, config_from_args, load_sim_config

FUT = "NIFTY22NOVFUT"
CALL = "NIFTY22NOV18300CE"
PUT = "NIFTY22NOV18300PE"


def _order(kite: KiteConnect, order_id: str) -> dict:
    return kite.order_history(order_id)[-1]


def _refused(call, *args, **kwargs) -> kex.InputException:
    with pytest.raises(kex.InputException) as refused:
        call(*args, **kwargs)
    assert refused.value.code == 400
    return refused.value


@pytest.fixture
def live(sim_rest):
    """SBIN at 520 (close 520: circuit 416-624), the NIFTY future a minute into its day,
    a NIFTY call trading at 100 (close 100), and a logged-in client."""
    sim = sim_rest
    sim.call(sim.market.advance_by, 60)
    sim.tick("NSE:SBIN", 520.0)
    sim.tick(f"NFO:{CALL}", 100.0)
    return sim, sim.kite()


# ---------------------------------------------------------------------- rule 1: SL-M on options


def test_sl_m_is_refused_for_options_but_sl_is_not(live, sim_factory):
    """NSE withdrew stop-loss market orders in index and stock options from 27 Sep 2021
    (exchange code 16052 "Function not available", sasonline bulletin 388; Zerodha
    blocks them at Kite). Kite's own wording is unverified."""
    _sim, kite = live
    refused = _refused(
        kite.place_order,
        "regular", "NFO", CALL, "SELL", 50, "NRML", "SL-M", trigger_price=90.0,
        market_protection=-1,
    )  # fmt: skip
    assert str(refused) == rules.MSG_SL_M_OPTIONS
    for symbol in (CALL, PUT):
        with pytest.raises(kex.InputException):
            kite.place_order(
                "regular", "NFO", symbol, "BUY", 50, "NRML", "SL-M", trigger_price=120.0,
                market_protection=-1,
            )  # fmt: skip
    stop = kite.place_order(
        "regular", "NFO", CALL, "SELL", 50, "NRML", "SL", trigger_price=90.0, price=89.0
    )
    assert _order(kite, stop)["status"] == "TRIGGER PENDING"
    future = kite.place_order(
        "regular", "NFO", FUT, "SELL", 50, "NRML", "SL-M", trigger_price=18000.0,
        market_protection=-1,
    )  # fmt: skip
    assert _order(kite, future)["status"] == "TRIGGER PENDING"
    with pytest.raises(kex.InputException):  # nor by modifying an SL into one
        kite.modify_order("regular", stop, order_type="SL-M", market_protection=-1)
    relaxed = sim_factory(rules={"sl_m_options": False})
    relaxed.tick(f"NFO:{CALL}", 100.0)
    other = relaxed.kite()
    assert other.place_order(
        "regular", "NFO", CALL, "SELL", 50, "NRML", "SL-M", trigger_price=90.0,
        market_protection=-1,
    )  # fmt: skip


# ---------------------------------------------------------------------- rule 2: market protection


def test_market_and_sl_m_need_market_protection(live, sim_factory):
    """Since April 2026 Kite refuses MARKET and SL-M orders without market protection
    (announcement: kite.trade forum discussion 15912; exact text and InputException:
    pykiteconnect issue 242, forum comments 52331 and 52991). -1 is automatic, a positive
    number a percentage, decimals accepted (tradingqna 193504); the value stays on the
    order."""
    _sim, kite = live
    for extra in ({}, {"market_protection": 0}):
        for kind, more in (("MARKET", {}), ("SL-M", {"trigger_price": 510.0})):
            refused = _refused(
                kite.place_order, "regular", "NSE", "SBIN", "SELL", 1, "MIS", kind,
                **more, **extra,
            )  # fmt: skip
            assert str(refused) == rules.MSG_NO_PROTECTION
    auto = kite.place_order(
        "regular", "NSE", "SBIN", "BUY", 1, "MIS", "MARKET", market_protection=-1
    )
    decimal = kite.place_order(
        "regular", "NSE", "SBIN", "BUY", 1, "MIS", "MARKET", market_protection=2.5
    )
    # Shown as Kite shows the LIMIT it made (orders.json's TATASTEEL row): protection 0,
    # the percent in Kite's tags (-1 is SBIN's automatic band at 520: 0.5 %).
    assert _shown_protection(_order(kite, auto)) == (0, ["mktp", "mktp:0.50"])
    assert _shown_protection(_order(kite, decimal)) == (0, ["mktp", "mktp:2.50"])
    assert _order(kite, decimal)["price"] == 533  # 520 + 2.5 %, on the tick
    with pytest.raises(kex.InputException, match="failed to decode market_protection"):
        kite.place_order("regular", "NSE", "SBIN", "BUY", 1, "MIS", "MARKET", market_protection="x")
    # Modifying a LIMIT into a MARKET needs it too (forum comment 52331) ...
    limit = kite.place_order("regular", "NSE", "SBIN", "BUY", 1, "MIS", "LIMIT", price=500.0)
    refused = _refused(kite.modify_order, "regular", limit, order_type="MARKET")
    assert str(refused) == rules.MSG_NO_PROTECTION
    kite.modify_order("regular", limit, order_type="MARKET", market_protection=1)
    assert _order(kite, limit)["status"] == "COMPLETE"
    # ... an SL-M already carries one, so it becomes a MARKET without repeating it.
    stop = kite.place_order(
        "regular", "NSE", "SBIN", "SELL", 1, "MIS", "SL-M", trigger_price=510.0,
        market_protection=3,
    )  # fmt: skip
    kite.modify_order("regular", stop, order_type="MARKET")
    done = _order(kite, stop)
    assert done["status"] == "COMPLETE" and _shown_protection(done) == (0, ["mktp", "mktp:3.00"])
    relaxed = sim_factory(rules={"require_market_protection": False})
    relaxed.tick("NSE:SBIN", 520.0)
    other = relaxed.kite()
    unprotected = other.place_order("regular", "NSE", "SBIN", "BUY", 1, "MIS", "MARKET")
    assert _order(other, unprotected)["order_type"] == "MARKET"


# ---------------------------------------------------------------------- rule 3: protected fills


def test_protected_market_order_fills_inside_its_band_and_rests_as_a_limit(live):
    """A protected MARKET becomes a LIMIT at LTP +/- the band; what the market cannot
    fill inside it stays OPEN at that price, same order id, filled/pending quantities
    telling the parts (Kite staff, forum comments 52940 and 52991; Zerodha support,
    "Market price protection in ATO")."""
    sim, kite = live
    updates: list[dict] = []
    sim.call(sim.exchange.on_order_update, updates.append)
    order_id = kite.place_order(
        "regular", "NSE", "SBIN", "BUY", 1000, "MIS", "MARKET", market_protection=1
    )
    first = _order(kite, order_id)  # the last trade (1,000 at 520) offered a quarter
    assert (first["order_type"], first["price"], first["status"]) == ("LIMIT", 525.2, "OPEN")
    assert (first["filled_quantity"], first["pending_quantity"]) == (250, 750)
    sim.tick("NSE:SBIN", 530.0, 100_000)  # beyond the band: nothing fills
    assert _order(kite, order_id)["filled_quantity"] == 250
    sim.tick("NSE:SBIN", 524.0, 2000)  # inside: 500 more
    sim.tick("NSE:SBIN", 523.0, 4000)  # and the last 250
    done = _order(kite, order_id)
    assert (done["status"], done["filled_quantity"], done["pending_quantity"]) == (
        "COMPLETE",
        1000,
        0,
    )
    trades = kite.order_trades(order_id)
    assert [t["quantity"] for t in trades] == [250, 500, 250]
    assert [t["average_price"] for t in trades] == [520, 524, 523]
    assert done["average_price"] == pytest.approx((250 * 520 + 500 * 524 + 250 * 523) / 1000)
    history = kite.order_history(order_id)
    assert [h["filled_quantity"] for h in history if h["status"] in ("OPEN", "COMPLETE")] == [
        0,
        250,
        750,
        1000,
    ]
    assert [(u["status"], u["filled_quantity"], u["unfilled_quantity"]) for u in updates] == [
        ("OPEN", 0, 1000),
        ("UPDATE", 250, 750),
        ("UPDATE", 750, 250),
        ("COMPLETE", 1000, 0),
    ]


def test_protected_sl_m_becomes_a_band_limit_around_the_triggering_price(live):
    """A triggered SL-M is protected like a MARKET (forum comment 52940: -1 applies to
    MARKET and SL-M): the band is built on the price that triggered it, so a gap through
    the trigger still fills; beyond the band the rest waits as a LIMIT."""
    sim, kite = live
    gap = kite.place_order(
        "regular", "NSE", "SBIN", "SELL", 10, "MIS", "SL-M", trigger_price=510.0,
        market_protection=1,
    )  # fmt: skip
    sim.tick("NSE:SBIN", 480.0)  # gaps through 510: LIMIT at 480 - 1 % = 475.20
    done = _order(kite, gap)
    assert (done["status"], done["order_type"], done["price"]) == ("COMPLETE", "LIMIT", 475.2)
    assert done["average_price"] == 480 and done["trigger_price"] == 510
    big = kite.place_order(
        "regular", "NSE", "SBIN", "SELL", 1000, "MIS", "SL-M", trigger_price=470.0,
        market_protection=1,
    )  # fmt: skip
    sim.tick("NSE:SBIN", 469.0, 400)  # triggers: 100 fill at 469, LIMIT 464.35 for the rest
    part = _order(kite, big)
    assert (part["status"], part["order_type"], part["price"]) == ("OPEN", "LIMIT", 464.35)
    assert (part["filled_quantity"], part["pending_quantity"]) == (100, 900)
    sim.tick("NSE:SBIN", 460.0, 100_000)  # below a sell limit: no fill
    assert _order(kite, big)["filled_quantity"] == 100
    sim.tick("NSE:SBIN", 465.0, 100_000)
    assert _order(kite, big)["status"] == "COMPLETE"
    assert [t["quantity"] for t in kite.order_trades(big)] == [100, 900]


def test_automatic_protection_uses_kites_band_for_options(live):
    """-1 on an option between 10 and 100 is a 3 % band (Zerodha's MPP table; a user saw
    ~3 % through the API, tradingqna 193460)."""
    sim, kite = live
    sim.tick(f"NFO:{CALL}", 80.0)
    order_id = kite.place_order(
        "regular", "NFO", CALL, "BUY", 50, "NRML", "MARKET", market_protection=-1
    )
    assert _order(kite, order_id)["price"] == 82.4


# ---------------------------------------------------------------------- rule 4: partial fills


def test_candles_fill_large_orders_in_parts(sim_factory):
    """Each candle offers ``liquidity_fraction`` of its volume; an order bigger than that
    fills over several candles, one trade per part, OPEN until complete (a partially
    filled order is OPEN with a non-zero filled quantity: Kite staff, forum 34014)."""
    sim = sim_factory(rules={"liquidity_fraction": 0.01})
    sim.call(sim.market.advance_to, parse_ist("2023-04-03 09:16:00"))
    kite = sim.kite()
    order_id = kite.place_order("regular", "NSE", "SBIN", "BUY", 3000, "MIS", "LIMIT", price=530.0)
    sim.call(sim.market.advance_to, parse_ist("2023-04-03 09:30:00"))
    done = _order(kite, order_id)
    assert done["status"] == "COMPLETE" and done["filled_quantity"] == 3000
    trades = kite.order_trades(order_id)
    assert len(trades) >= 3 and sum(t["quantity"] for t in trades) == 3000
    assert max(t["quantity"] for t in trades) < 3000
    whole = sim_factory(rules={"liquidity_fraction": None})
    whole.call(whole.market.advance_to, parse_ist("2023-04-03 09:16:00"))
    other = whole.kite()
    once = other.place_order("regular", "NSE", "SBIN", "BUY", 3000, "MIS", "LIMIT", price=530.0)
    whole.call(whole.market.advance_to, parse_ist("2023-04-03 09:30:00"))
    assert [t["quantity"] for t in other.order_trades(once)] == [3000]


def test_futures_fill_in_whole_lots(live):
    """A derivative trades in lots: a tick offering 30 units fills none of a 50-lot
    order, one offering 150 fills 100."""
    sim, kite = live
    price = sim.call(sim.market.last_price, f"NFO:{FUT}")
    order_id = kite.place_order(
        "regular", "NFO", FUT, "BUY", 200, "NRML", "LIMIT", price=round(price - 10)
    )
    sim.tick(f"NFO:{FUT}", round(price - 11), 120)
    assert _order(kite, order_id)["filled_quantity"] == 0
    sim.tick(f"NFO:{FUT}", round(price - 11), 600)
    assert _order(kite, order_id)["filled_quantity"] == 150  # a quarter of 600: 3 lots
    assert all(t["quantity"] % 50 == 0 for t in kite.order_trades(order_id))


# ---------------------------------------------------------------------- rule 5: circuit and LPP


def test_prices_outside_the_circuit_are_refused(live):
    """Orders beyond circuit limits and price bands are blocked (Zerodha support, "Kite
    order rejections"); the limits are the ones /quote shows; Kite's text for a limit
    price: tradingqna 193460, for a stop's trigger: forum discussion 3141."""
    _sim, kite = live
    quote = kite.quote("NSE:SBIN")["NSE:SBIN"]
    lower, upper = quote["lower_circuit_limit"], quote["upper_circuit_limit"]
    assert (lower, upper) == (416, 624)
    for price in (upper + 0.05, lower - 0.05):
        refused = _refused(
            kite.place_order, "regular", "NSE", "SBIN", "BUY", 1, "CNC", "LIMIT", price=price
        )
        assert str(refused) == rules.MSG_CIRCUIT
    refused = _refused(
        kite.place_order,
        "regular", "NSE", "SBIN", "SELL", 1, "MIS", "SL-M", trigger_price=415.0,
        market_protection=-1,
    )  # fmt: skip
    assert str(refused) == rules.trigger_circuit_message(False, 416)
    inside = kite.place_order("regular", "NSE", "SBIN", "BUY", 1, "CNC", "LIMIT", price=lower)
    with pytest.raises(kex.InputException, match="circuit"):
        kite.modify_order("regular", inside, price=lower - 1)
    assert _order(kite, inside)["price"] == lower
    future = kite.quote(f"NFO:{FUT}")[f"NFO:{FUT}"]  # futures: +/- 10 %
    assert future["upper_circuit_limit"] == pytest.approx(future["ohlc"]["close"] * 1.1, abs=0.05)


def test_option_limit_prices_outside_the_lpp_band_are_refused(live):
    """NSE's limit price protection for index options: +/- 40 % of the reference price
    above 50, +/- 20 rupees up to 50; the reference is the average trade price of the
    last 30 seconds (NSE circular of 28 Oct 2022, via sasonline bulletin 455 and Alice
    Blue). Kite answers an LPP breach with its circuit text (tradingqna 193460)."""
    sim, kite = live
    sim.tick(f"NFO:{CALL}", 110.0)  # the last 30 s average 105: band 63-147
    refused = _refused(
        kite.place_order, "regular", "NFO", CALL, "BUY", 50, "NRML", "LIMIT", price=148.0
    )
    assert str(refused) == rules.MSG_CIRCUIT
    _refused(kite.place_order, "regular", "NFO", CALL, "SELL", 50, "NRML", "LIMIT", price=62.0)
    assert kite.place_order("regular", "NFO", CALL, "BUY", 50, "NRML", "LIMIT", price=64.0)
    sim.call(sim.market.advance_by, 40)
    sim.tick(f"NFO:{PUT}", 30.0)  # up to 50: +/- 20 rupees
    _refused(kite.place_order, "regular", "NFO", PUT, "BUY", 50, "NRML", "LIMIT", price=50.5)
    assert kite.place_order("regular", "NFO", PUT, "BUY", 50, "NRML", "LIMIT", price=49.0)


def test_option_sl_outside_the_lpp_band_is_cancelled_when_it_triggers(live):
    """For SL orders NSE checks the LPP band once the order triggers and cancels it if
    the limit is outside (circular; Kite's text: forum discussion 13838)."""
    sim, kite = live
    order_id = kite.place_order(
        "regular", "NFO", CALL, "SELL", 50, "NRML", "SL", trigger_price=90.0, price=50.0
    )
    sim.tick(f"NFO:{CALL}", 95.0)
    sim.call(sim.market.advance_by, 40)
    sim.tick(f"NFO:{CALL}", 89.0)  # triggers; reference 89: band 53.40-124.60, limit 50
    cancelled = _order(kite, order_id)
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["status_message"] == rules.MSG_LPP_CANCELLED
    assert kite.order_trades(order_id) == []


# ---------------------------------------------------------------------- rules 6-8


def test_freeze_quantity_message(sim_factory):
    """Above the freeze quantity Kite answers 400 InputException with the limit in lots
    (forum comment 42709; the freeze quantity has no API: forum comment 46716)."""
    sim = sim_factory(freeze_limits={"NIFTY": 1800})
    sim.call(sim.market.advance_by, 60)
    refused = _refused(
        sim.kite().place_order, "regular", "NFO", FUT, "BUY", 1850, "NRML", "LIMIT", price=18000.0
    )
    assert str(refused).startswith(
        "The order quantity 1850 (37 lots) is higher than the maximum quantity of 1800 "
        "(36 lots) allowed by the exchanges. Please reduce the order quantity or use "
        "iceberg orders."
    )


def test_order_rate_limits_answer_kites_429(sim_factory):
    """10 order writes a second, placements and modifications alike (forum 35150, 7679),
    answered 429 with Kite's exact body (docs/kite-contract.md section 5; forum 48463)."""
    now = [1_700_000_000.25]
    sim = sim_factory(clock=lambda: now[0], rate_limits=True)
    sim.call(sim.market.advance_by, 60)
    kite = sim.kite()
    first = kite.place_order("regular", "NFO", FUT, "BUY", 50, "NRML", "LIMIT", price=17000.0)
    for _ in range(9):
        kite.modify_order("regular", first, price=17000.5)
    answer = requests.post(
        f"{sim.url}/orders/regular",
        headers={"X-Kite-Version": "3", "Authorization": f"token {API_KEY}:{kite.access_token}"},
        data={"exchange": "NFO", "tradingsymbol": FUT, "transaction_type": "BUY"},
        timeout=3,
    )
    assert answer.status_code == 429
    assert answer.json() == {
        "status": "error",
        "message": "Too many requests",
        "error_type": "NetworkException",
        "data": None,
    }


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"orders": ((60, 400),)}, "Too many requests"),
        ({"orders": ((86_400, 5000),)}, "Maximum allowed order requests exceeded."),
    ],
)
def test_rate_limiter_minute_and_day_windows(limits, message, monkeypatch):
    """400 order writes a minute and 5,000 a day (forum staff, kite-contract section 5);
    over the day's limit Kite says "Maximum allowed order requests exceeded." (forum
    7679, 51118; its HTTP status there is unverified: the sim answers 429)."""
    monkeypatch.setattr(RateLimiter, "LIMITS", {**RateLimiter.LIMITS, **limits})
    now = [1_700_000_000.0]
    limiter = RateLimiter(clock=lambda: now[0])
    (period, limit), *_ = limits["orders"]
    for i in range(limit):  # all in the same calendar window
        assert limiter.refusal("k", "modify_order" if i % 2 else "place_order") is None
    assert limiter.refusal("k", "place_order") == message
    assert limiter.refusal("other-key", "place_order") is None
    now[0] += period
    assert limiter.refusal("k", "place_order") is None


def test_tags_are_at_most_20_alphanumerics(live, sim_factory):
    """Kite docs: tag "alphanumeric, max 20 chars"; over 20 the order is refused, not
    truncated (forum comments 52970, 49028). Kite tolerates some other characters today
    (forum 46636: '@' "might be stopped any day"), so the strict sim refuses them."""
    _sim, kite = live
    for tag in ("x" * 21, "a-b", "kt_1", "ab c"):
        _refused(
            kite.place_order,
            "regular",
            "NSE",
            "SBIN",
            "BUY",
            1,
            "CNC",
            "LIMIT",
            price=500.0,
            tag=tag,
        )
    assert (
        str(
            _refused(
                kite.place_order,
                "regular",
                "NSE",
                "SBIN",
                "BUY",
                1,
                "CNC",
                "LIMIT",
                price=500.0,
                tag="x" * 21,
            )
        )
        == rules.MSG_TAG_LENGTH
    )
    assert kite.place_order(
        "regular", "NSE", "SBIN", "BUY", 1, "CNC", "LIMIT", price=500.0, tag="A1b2C3d4E5f6G7h8I9j0"
    )
    relaxed = sim_factory(rules={"tag_alphanumeric": False})
    relaxed.tick("NSE:SBIN", 520.0)
    assert relaxed.kite().place_order(
        "regular", "NSE", "SBIN", "BUY", 1, "CNC", "LIMIT", price=500.0, tag="kt_1"
    )


# ---------------------------------------------------------------------- rule 9: quote sizes


def test_quote_routes_take_their_documented_number_of_instruments(live):
    """ltp/ohlc up to 1,000 instruments a call, quote up to 500 (Kite docs, forum 51532);
    1,000 ``i=`` make a ~30 KB request line, far over aiohttp's 8 KiB default, and the
    answer keeps Kite's envelope either way (the over-limit text is unverified)."""
    sim, kite = live
    master = [f"NFO:{i.tradingsymbol}" for i in sim.market.master if i.exchange == "NFO"]
    keys = [*(master * 4)[:999], "NSE:SBIN"]
    assert len(kite.ltp(keys)) >= 2  # instruments with data only, keyed as asked
    assert kite.ohlc(keys)["NSE:SBIN"]["last_price"] == 520
    assert kite.quote(keys[-500:])["NSE:SBIN"]["last_price"] == 520
    with pytest.raises(kex.InputException, match="1000"):
        kite.ltp([*keys, "NSE:SBIN"])
    with pytest.raises(kex.InputException, match="500"):
        kite.quote(keys[-501:])
    answer = requests.get(
        f"{sim.url}/quote/ltp",
        params=[("i", key) for key in (keys * 3)],
        headers={"X-Kite-Version": "3", "Authorization": f"token {API_KEY}:{kite.access_token}"},
        timeout=5,
    )
    assert answer.status_code == 400 and answer.json()["error_type"] == "InputException"


# ---------------------------------------------------------------------- rule 10: modifications


def test_modifications_cap_and_completed_orders(live):
    """25 modifications per order, then Kite's NetworkException "Maximum allowed order
    modifications exceeded." (forum comment 31294; HTTP status unverified); a completed
    order cannot be modified (OrderException)."""
    _sim, kite = live
    order_id = kite.place_order("regular", "NSE", "SBIN", "BUY", 1, "CNC", "LIMIT", price=500.0)
    for step in range(25):
        kite.modify_order("regular", order_id, price=500.0 + (step % 2) * 0.05)
    with pytest.raises(kex.NetworkException, match="Maximum allowed order modifications"):
        kite.modify_order("regular", order_id, price=501.0)
    kite.cancel_order("regular", order_id)
    with pytest.raises(kex.OrderException):
        kite.modify_order("regular", order_id, price=501.0)


# ---------------------------------------------------------------------- rule 12: CNC holdings


def test_cnc_sells_beyond_the_holdings_are_rejected(live, sim_factory):
    """Kite: "To sell stocks as CNC, stocks need to be available in holdings"
    (kite.trade/docs/kite/orders); the OMS rejects it as "RMS:Rule: Check holdings"
    (tradingqna 24010), a REJECTED order like the margin rejection. The account holds
    10 SBIN; today's sells, working sells and today's CNC buys count."""
    _sim, kite = live

    def sell(quantity: int, **extra) -> dict:
        kind = {"order_type": "LIMIT", "price": 530.0} | extra
        return _order(
            kite, kite.place_order("regular", "NSE", "SBIN", "SELL", quantity, "CNC", **kind)
        )

    over = sell(11)
    assert over["status"] == "REJECTED" and over["status_message"] == rules.MSG_HOLDINGS
    assert over["status_message_raw"] == rules.MSG_HOLDINGS_RAW
    resting = sell(6)  # rests OPEN above the market, holding 6 of the 10
    assert resting["status"] == "OPEN"
    assert sell(5)["status"] == "REJECTED"
    assert sell(4, order_type="MARKET", market_protection=-1)["status"] == "COMPLETE"
    assert sell(1)["status"] == "REJECTED"  # 4 sold today + 6 working = the 10
    with pytest.raises(kex.InputException, match="holdings"):  # nor by modifying up
        kite.modify_order("regular", resting["order_id"], quantity=7)
    kite.cancel_order("regular", resting["order_id"])
    kite.place_order("regular", "NSE", "SBIN", "BUY", 3, "CNC", "LIMIT", price=525.0)
    assert sell(10)["status"] == "REJECTED"  # 10 - 4 sold + 3 bought = 9
    assert sell(9)["status"] == "OPEN"
    intraday = kite.place_order("regular", "NSE", "SBIN", "SELL", 5, "MIS", "LIMIT", price=530.0)
    assert _order(kite, intraday)["status"] == "OPEN"  # an intraday short needs no holdings
    other = _relaxed(sim_factory, "cnc_holdings")
    short = other.place_order("regular", "NSE", "SBIN", "SELL", 11, "CNC", "LIMIT", price=530.0)
    assert _order(other, short)["status"] == "OPEN"


# ---------------------------------------------------------------------- rule 13: 1,00,000 shares


def test_equity_orders_over_100000_shares_are_refused_at_the_gate(live):
    """Zerodha's support article "Why is the rejected order not displayed in the order
    book?": "Order quantity greater than 1,00,000 shares - Blocks orders placed with a
    quantity greater than 1,00,000", before the order book (a gate refusal)."""
    _sim, kite = live
    before = len(kite.orders())
    refused = _refused(
        kite.place_order, "regular", "NSE", "SBIN", "BUY", 100_001, "MIS", "LIMIT", price=500.0
    )
    assert str(refused) == rules.MSG_MAX_QUANTITY and len(kite.orders()) == before
    at_cap = kite.place_order("regular", "NSE", "SBIN", "BUY", 100_000, "MIS", "LIMIT", price=500.0)
    assert _order(kite, at_cap)["quantity"] == 100_000  # in the book (margin may reject it)
    small = kite.place_order("regular", "NSE", "SBIN", "BUY", 1, "MIS", "LIMIT", price=500.0)
    refused = _refused(kite.modify_order, "regular", small, quantity=100_001)
    assert str(refused) == rules.MSG_MAX_QUANTITY


# ---------------------------------------------------------------------- rule 14: AMO hours


def test_amos_are_refused_during_market_hours(sim_factory):
    """Zerodha's support article "Why is the rejected order not displayed in the order
    book?": AMOs blocked 9:00 AM-3:45 PM (equity), 9:10 AM-3:45 PM (F&O), and MARKET
    AMOs on index options always; "What is an After Market Order (AMO)?": place, modify
    or cancel AMOs only outside those hours. An AMO the exchange has is changed as a
    regular order (kite.trade forum comment 40302)."""
    sim = sim_factory()
    sim.tick("NSE:SBIN", 520.0)  # 2022-11-18 (a Friday), inside market hours
    kite = sim.kite()
    for exchange, symbol, quantity, product, price in (
        ("NFO", FUT, 50, "NRML", 18000.0),
        ("NSE", "SBIN", 1, "CNC", 500.0),
    ):
        refused = _refused(
            kite.place_order, "amo", exchange, symbol, "BUY", quantity, product, "LIMIT",
            price=price,
        )  # fmt: skip
        assert str(refused) == rules.MSG_AMO_HOURS
    sim.call(sim.market.advance_to, parse_ist("2022-11-18 15:50:00"))
    refused = _refused(
        kite.place_order, "amo", "NFO", CALL, "BUY", 50, "NRML", "MARKET", market_protection=-1
    )
    assert str(refused) == rules.MSG_AMO_INDEX_MARKET
    option = kite.place_order("amo", "NFO", CALL, "BUY", 50, "NRML", "LIMIT", price=90.0)
    future = kite.place_order(
        "amo", "NFO", FUT, "BUY", 50, "NRML", "MARKET", market_protection=-1
    )  # a MARKET AMO on a future is allowed
    stock = kite.place_order("amo", "NSE", "SBIN", "BUY", 1, "CNC", "LIMIT", price=500.0)
    with pytest.raises(kex.InputException):  # nor by modifying an option AMO into MARKET
        kite.modify_order("amo", option, order_type="MARKET", market_protection=-1)
    assert {_order(kite, o)["status"] for o in (option, future, stock)} == {"AMO REQ RECEIVED"}
    # Monday 9:05 AM, before the first batch: equity AMOs are frozen, F&O ones are not yet.
    sim.call(sim.market.advance_to, parse_ist("2023-04-03 09:05:00"))
    refused = _refused(kite.modify_order, "amo", stock, price=499.0)
    assert str(refused) == rules.MSG_AMO_HOURS
    assert str(_refused(kite.cancel_order, "amo", stock)) == rules.MSG_AMO_HOURS
    kite.modify_order("amo", future, quantity=100)
    sim.call(sim.market.advance_to, parse_ist("2023-04-03 09:11:00"))
    assert str(_refused(kite.cancel_order, "amo", option)) == rules.MSG_AMO_HOURS
    sim.call(sim.market.advance_to, parse_ist("2023-04-03 09:20:00"))
    assert _order(kite, stock)["status"] == "OPEN"  # released to the exchange
    kite.cancel_order("regular", stock)
    assert _order(kite, stock)["status"] == "CANCELLED"
    other = _relaxed(sim_factory, "amo_hours")
    waiting = other.place_order("amo", "NSE", "SBIN", "BUY", 1, "CNC", "LIMIT", price=500.0)
    assert _order(other, waiting)["status"] == "AMO REQ RECEIVED"


# ---------------------------------------------------------------------- what the exit manager uses


def test_exit_paths_stop_to_protected_market_reprice_and_cancel(live):
    """The moves an exit manager makes: an SL modified into a protected MARKET, a LIMIT
    re-priced, a cancel; every state change reaches the order-update listeners."""
    sim, kite = live
    updates: list[dict] = []
    sim.call(sim.exchange.on_order_update, updates.append)
    stop = kite.place_order(
        "regular", "NFO", CALL, "SELL", 50, "NRML", "SL", trigger_price=90.0, price=89.0
    )
    kite.modify_order("regular", stop, order_type="MARKET", market_protection=-1)
    done = _order(kite, stop)
    assert (done["status"], done["order_type"], done["price"]) == ("COMPLETE", "LIMIT", 98)
    target = kite.place_order("regular", "NFO", CALL, "SELL", 50, "NRML", "LIMIT", price=120.0)
    kite.modify_order("regular", target, price=110.0)
    assert _order(kite, target)["price"] == 110
    kite.cancel_order("regular", target)
    seen = [(u["order_id"], u["status"]) for u in updates]
    assert seen == [
        (stop, "TRIGGER PENDING"),
        (stop, "OPEN"),
        (stop, "COMPLETE"),
        (target, "OPEN"),
        (target, "OPEN"),
        (target, "CANCELLED"),
    ]


# ---------------------------------------------------------------------- config


def test_shipped_config_is_strict_and_flags_relax_it(tmp_path):
    """configs/sim-exchange.yaml enforces every rule; --relax/--whole-fills/
    --liquidity-fraction change a run, not the file."""
    shipped = load_sim_config()
    assert shipped.rules.to_rules() == rules.SimRules()
    assert all(
        getattr(shipped.rules, name)
        for name in (
            "sl_m_options",
            "require_market_protection",
            "circuit_limits",
            "lpp",
            "tag_alphanumeric",
            "amo_hours",
            "cnc_holdings",
        )
    )
    assert shipped.rules.liquidity_fraction == 0.25
    args = build_arg_parser().parse_args(
        ["--relax", "lpp", "--relax", "circuit_limits", "--whole-fills"]
    )
    relaxed = config_from_args(args).rules
    assert (relaxed.lpp, relaxed.circuit_limits, relaxed.liquidity_fraction) == (False, False, None)
    assert relaxed.require_market_protection
    args = build_arg_parser().parse_args(["--liquidity-fraction", "0.5"])
    assert config_from_args(args).rules.liquidity_fraction == 0.5
    with pytest.raises(SystemExit):
        build_arg_parser().parse_args(["--liquidity-fraction", "2"])
    with pytest.raises(SystemExit):
        build_arg_parser().parse_args(["--relax", "margins"])


def _shown_protection(order: dict) -> tuple[float, list[str]]:
    return order["market_protection"], order["tags"]


def _relaxed(sim_factory, rule: str):
    """A client of a sim without ``rule``, SBIN trading at 520."""
    relaxed = sim_factory(rules={rule: False})
    relaxed.tick("NSE:SBIN", 520.0)
    return relaxed.kite()
