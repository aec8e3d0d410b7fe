"""Contract tests: the sim's REST answers, read by the real kiteconnect client, have the
same keys and value kinds as Zerodha's own mock responses (../shared/kite-mocks).

Shape rule (``assert_shape``): for an object, every key the mock has must be present;
every key we send must be one the mock (or, for order rows, any orders.json row) has;
each value's kind (number, string, bool, null, object, list) must be one the mock shows
for that key across all its rows. Nested objects and lists are compared recursively.
Values that the client converts (timestamps) are compared after the client did so,
through the same client call applied to the mock file served raw.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from kitetui.sim.market import NS_PER_SECOND, parse_ist

NFO_FUT = "NFO:NIFTY22NOVFUT"
# Keys null in one Kite mock and a string in another (profile.json vs
# generate_session.json): null is as faithful as a string.
NULLABLE = {"avatar_url"}


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dt.datetime | dt.date):
        return "datetime"
    return type(value).__name__


def assert_shape(ours: Any, mocks: list[Any], path: str = "$", extra_keys: set[str] = frozenset()):
    """``ours`` has the shape of the mock value(s) ``mocks`` (see module docstring)."""
    kinds = {kind(m) for m in mocks}
    if path.rsplit(".", 1)[-1] in NULLABLE:
        kinds.add("null")
    assert kind(ours) in kinds or (kind(ours) != "null" and kinds == {"null"}), (
        f"{path}: {kind(ours)} ({ours!r:.80}) not in {sorted(kinds)}"
    )
    if isinstance(ours, dict):
        objects = [m for m in mocks if isinstance(m, dict)]
        required = set.intersection(*(set(m) for m in objects))
        allowed = set.union(*(set(m) for m in objects)) | set(extra_keys)
        missing = required - set(ours)
        assert not missing, f"{path}: missing keys {sorted(missing)}"
        unknown = set(ours) - allowed
        assert not unknown, f"{path}: keys the mock does not have {sorted(unknown)}"
        for key, value in ours.items():
            samples = [m[key] for m in objects if key in m]
            if samples:
                assert_shape(value, samples, f"{path}.{key}")
    elif isinstance(ours, list):
        samples = [item for m in mocks if isinstance(m, list) for item in m]
        if samples:
            for index, item in enumerate(ours):
                assert_shape(item, samples, f"{path}[{index}]")


def mock(mocks_dir: Path, name: str) -> Any:
    return json.loads((mocks_dir / name).read_text())["data"]


def parsed_mock(kite_cls: Any, mocks_dir: Path, name: str, method: str, *args: Any) -> Any:
    """What the client's ``method`` returns for the mock body (its conversions applied)."""
    kite = kite_cls("x")
    body = json.loads((mocks_dir / name).read_text())

    class _Response:
        status_code = 200
        headers = {"content-type": "application/json"}  # noqa: RUF012
        content = json.dumps(body).encode()

        def json(self) -> Any:
            return body

    kite.reqsession.request = lambda *a, **k: _Response()  # type: ignore[method-assign]
    return getattr(kite, method)(*args)


@pytest.fixture
def busy(sim_rest):
    """A sim 10 minutes into the NIFTY day, with a filled, an open, a rejected and a
    cancelled order, and SBIN priced."""
    sim = sim_rest
    sim.call(sim.market.advance_by, 600)
    sim.tick("NSE:SBIN", 520.0, 100)
    kite = sim.kite()
    filled = kite.place_order(
        "regular",
        "NFO",
        "NIFTY22NOVFUT",
        "BUY",
        50,
        "NRML",
        "MARKET",
        tag="fill1",
        market_protection=-1,
    )
    kite.place_order("regular", "NFO", "NIFTY22NOVFUT", "SELL", 50, "NRML", "LIMIT", price=19000.0)
    kite.place_order(
        "regular", "NSE", "SBIN", "BUY", 10, "MIS", "LIMIT", price=500.03, tag="badtick"
    )
    cancelled = kite.place_order("regular", "NSE", "SBIN", "BUY", 1, "CNC", "LIMIT", price=450.0)
    kite.cancel_order("regular", cancelled)
    sim.call(sim.market.advance_by, 120)
    return sim, kite, filled


def test_session_and_profile(sim_rest, kite_mocks):
    from kiteconnect import KiteConnect

    kite = KiteConnect("simtestkey", root=sim_rest.url, timeout=3)
    token = sim_rest.call(sim_rest.exchange.issue_request_token, "simtestkey")
    session = kite.generate_session(token, "simtestsecret")
    expected = parsed_mock(
        KiteConnect, kite_mocks, "generate_session.json", "generate_session", "t", "s"
    )
    assert_shape(session, [expected])
    assert isinstance(session["login_time"], dt.datetime)
    assert kite.access_token == session["access_token"]
    assert_shape(kite.profile(), [mock(kite_mocks, "profile.json")])
    assert kite.invalidate_access_token() is True
    assert mock(kite_mocks, "session_logout.json") is True


def test_orders_history_trades(busy, kite_mocks):
    from kiteconnect import KiteConnect

    _sim, kite, filled = busy
    orders = kite.orders()
    assert len(orders) == 4
    expected = parsed_mock(KiteConnect, kite_mocks, "orders.json", "orders")
    for order in orders:
        assert_shape(order, expected)
        assert isinstance(order["order_id"], str) and order["order_id"].isdigit()
        assert isinstance(order["order_timestamp"], dt.datetime)
    statuses = {o["status"] for o in orders}
    assert statuses == {"COMPLETE", "OPEN", "REJECTED", "CANCELLED"}

    history = kite.order_history(filled)
    info = parsed_mock(KiteConnect, kite_mocks, "order_info.json", "order_history", "1")
    order_keys = {k for row in mock(kite_mocks, "orders.json") for k in row}
    for row in history:
        assert_shape(row, info, extra_keys=order_keys)

    trades = kite.trades()
    assert len(trades) == 1
    expected_trades = parsed_mock(KiteConnect, kite_mocks, "trades.json", "trades")
    assert_shape(trades, [expected_trades])
    assert isinstance(trades[0]["order_timestamp"], str) and len(trades[0]["order_timestamp"]) == 8
    order_trades = kite.order_trades(filled)
    expected_ot = parsed_mock(KiteConnect, kite_mocks, "order_trades.json", "order_trades", "1")
    assert_shape(order_trades, [expected_ot])
    assert order_trades == trades


def test_place_modify_cancel_answers(sim_rest, kite_mocks):
    sim = sim_rest
    sim.call(sim.market.advance_by, 60)
    kite = sim.kite()
    # The client returns only the id; check the raw envelopes too.
    import requests

    headers = {"X-Kite-Version": "3", "Authorization": f"token simtestkey:{kite.access_token}"}
    form = {
        "exchange": "NFO",
        "tradingsymbol": "NIFTY22NOVFUT",
        "transaction_type": "BUY",
        "quantity": "50",
        "product": "MIS",
        "order_type": "LIMIT",
        "price": "17000",
    }
    placed = requests.post(f"{sim.url}/orders/regular", data=form, headers=headers, timeout=3)
    assert placed.headers["Content-Type"].startswith("application/json")
    body = placed.json()
    assert_shape(body, [json.loads((kite_mocks / "order_response.json").read_text())])
    order_id = body["data"]["order_id"]
    modified = requests.put(
        f"{sim.url}/orders/regular/{order_id}", data={"price": "17001"}, headers=headers, timeout=3
    ).json()
    assert_shape(modified, [json.loads((kite_mocks / "order_modify.json").read_text())])
    cancelled = requests.delete(
        f"{sim.url}/orders/regular/{order_id}", headers=headers, timeout=3
    ).json()
    assert_shape(cancelled, [json.loads((kite_mocks / "order_cancel.json").read_text())])


def test_portfolio_and_margins(busy, kite_mocks):
    _sim, kite, _ = busy
    positions = kite.positions()
    expected = mock(kite_mocks, "positions.json")
    assert_shape(positions, [expected])
    assert positions["net"] and positions["day"]
    holdings = kite.holdings()
    assert_shape(holdings, [mock(kite_mocks, "holdings.json")])
    assert holdings[0]["last_price"] == 520.0
    assert_shape(kite.margins(), [mock(kite_mocks, "margins.json")])
    assert_shape(kite.margins("equity"), [mock(kite_mocks, "margins_equity.json")])
    assert_shape(kite.margins("commodity"), [mock(kite_mocks, "margin_commodity.json")])


def test_quotes(busy, kite_mocks):
    from kiteconnect import KiteConnect

    _sim, kite, _ = busy
    wanted = (NFO_FUT, "NSE:SBIN", "NSE:NIFTY 50")
    quote = kite.quote(*wanted)
    assert set(quote) == set(wanted)
    expected = parsed_mock(KiteConnect, kite_mocks, "quote.json", "quote", "NSE:INFY")["NSE:INFY"]
    for value in quote.values():
        assert_shape(value, [expected])
        assert len(value["depth"]["buy"]) == len(value["depth"]["sell"]) == 5
    fut = quote[NFO_FUT]
    assert fut["depth"]["buy"][0]["price"] < fut["depth"]["sell"][0]["price"]
    assert quote["NSE:NIFTY 50"]["depth"]["buy"][0]["quantity"] == 0
    ohlc = kite.ohlc(*wanted)
    for value in ohlc.values():
        assert_shape(value, [mock(kite_mocks, "ohlc.json")["NSE:INFY"]])
    ltp = kite.ltp(*wanted, "NSE:NOSUCH")
    assert set(ltp) == set(wanted)  # unknown instruments are left out
    for value in ltp.values():
        assert_shape(value, [mock(kite_mocks, "ltp.json")["NSE:INFY"]])
    assert ltp[NFO_FUT]["last_price"] == quote[NFO_FUT]["last_price"]


def test_historical(busy, kite_mocks):
    from kiteconnect import KiteConnect

    sim, kite, _ = busy
    token = sim.market.state_for_key(NFO_FUT).token
    candles = kite.historical_data(token, "2022-11-18 09:15:00", "2022-11-18 15:30:00", "minute")
    assert 10 <= len(candles) <= 13  # complete minutes only: the clock is ~09:27
    expected = parsed_mock(
        KiteConnect, kite_mocks, "historical_minute.json", "historical_data", 1, "a", "b", "minute"
    )
    assert_shape(candles, [expected])
    assert candles[0]["date"] == dt.datetime(
        2022, 11, 18, 9, 15, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))
    )
    with_oi = kite.historical_data(
        token,
        dt.datetime(2022, 11, 18, 9, 15),
        dt.datetime(2022, 11, 18, 9, 30),
        "5minute",
        oi=True,
    )
    expected_oi = parsed_mock(
        KiteConnect,
        kite_mocks,
        "historical_oi.json",
        "historical_data",
        1,
        "a",
        "b",
        "minute",
        False,
        True,
    )
    assert_shape(with_oi, [expected_oi])
    assert [c["date"].minute for c in with_oi] == [15, 20]
    assert with_oi[0]["volume"] == sum(c["volume"] for c in candles[:5])
    assert parse_ist("2022-11-18") % NS_PER_SECOND == 0


def test_instruments_csv(sim_rest, kite_mocks):
    from kiteconnect import KiteConnect

    kite = sim_rest.kite()
    ours = kite.instruments()
    expected = KiteConnect("x")._parse_instruments(
        (kite_mocks / "instruments_all.csv").read_bytes()
    )
    assert len(ours) == len(sim_rest.market.master)
    for row in ours[:50]:
        assert_shape(row, expected[:1] + [r for r in expected if r["expiry"]][:1])
    nse = kite.instruments("NSE")
    assert nse and all(row["exchange"] == "NSE" for row in nse)
    nifty = next(r for r in ours if r["tradingsymbol"] == "NIFTY22NOVFUT")
    assert nifty["expiry"] == dt.date(2022, 11, 24) and nifty["lot_size"] == 50
    assert nifty["instrument_token"] & 0xFF == 2


def test_error_envelopes(sim_rest):
    import requests

    for response in (
        requests.get(f"{sim_rest.url}/nope", timeout=3),
        requests.get(f"{sim_rest.url}/orders", timeout=3),
        requests.patch(f"{sim_rest.url}/orders", timeout=3),
    ):
        assert response.headers["Content-Type"].startswith("application/json")
        body = response.json()
        assert body["status"] == "error" and body["error_type"] and body["message"]
    assert requests.get(f"{sim_rest.url}/nope", timeout=3).status_code == 404
    no_version = requests.get(
        f"{sim_rest.url}/orders", headers={"Authorization": "token a:b"}, timeout=3
    )
    assert no_version.status_code == 400
    assert no_version.json()["error_type"] == "InputException"
    gz = requests.get(f"{sim_rest.url}/instruments", timeout=3)
    assert gz.headers["Content-Type"].startswith("text/csv")
    assert gz.headers.get("Content-Encoding") == "gzip"
    assert gz.text.startswith(
        "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,"
        "tick_size,lot_size,instrument_type,segment,exchange\n"
    )
