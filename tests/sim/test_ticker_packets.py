"""Kite's ticker binary encoding, checked against the real client's decoder.

``kiteconnect.KiteTicker._parse_binary`` (the installed 5.2.2 client) is the oracle:
every packet ``kitetui.sim.packets`` writes must decode back to the values it was given,
for each mode, each layout (tradable/index) and each segment's price divisor; and
Kite's own mock packets must decode and re-encode byte for byte. Pure and fast: no
sockets, no reactor (``_parse_binary`` needs no connection).
"""

from __future__ import annotations

import base64
import json
import struct
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kiteconnect import KiteTicker

from kitetui.sim import packets as p

MOCKS = Path(__file__).resolve().parents[3] / "shared" / "kite-mocks"
SEGMENTS = (1, 2, 3, 4, 5, 6, 7, 8, 12)  # tradable segment ids the client knows
UINT32 = st.integers(min_value=0, max_value=2**32 - 1)
# Prices as Kite sends them: whole wire integers; keep them < 2**31 so sums stay sane.
WIRE_PRICE = st.integers(min_value=0, max_value=2**31 - 1)
EPOCH = st.integers(min_value=0, max_value=2**32 - 1)


def decode(frame: bytes) -> list[dict]:
    return KiteTicker._parse_binary(KiteTicker.__new__(KiteTicker), frame)


def decode_one(packet: bytes) -> dict:
    (tick,) = decode(p.encode_frame([packet]))
    return tick


def token_in(segment: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=1, max_value=2**24 - 1).map(lambda n: (n << 8) | segment)


def client_time(epoch: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(epoch)
    except Exception:
        return None


def expected_change(last: float, close: float) -> float:
    return (last - close) * 100 / close if close != 0 else 0


def mock_packet(name: str) -> bytes:
    path = MOCKS / name
    if not path.is_file():
        pytest.skip(f"Kite mock {path} not found")
    return base64.b64decode(path.read_text())


# --------------------------------------------------------------------------- divisors


@pytest.mark.parametrize(
    ("segment", "divisor"),
    [
        (1, 100),
        (2, 100),
        (3, 10_000_000),
        (4, 100),
        (5, 100),
        (6, 10_000),
        (7, 100),
        (8, 100),
        (9, 100),
        (12, 10_000),
    ],
)
def test_price_divisor_with_segment_matches_client(segment: int, divisor: int) -> None:
    token = (1234 << 8) | segment
    assert p.price_divisor(token) == divisor
    assert p.is_tradable(token) is (segment != 9)
    # The client agrees: 1 wire unit decodes to 1/divisor.
    assert decode_one(struct.pack(">II", token, 1))["last_price"] == 1 / divisor


# --------------------------------------------------------------------------- property tests


@settings(max_examples=150, deadline=None)
@given(st.sampled_from((*SEGMENTS, 9)).flatmap(token_in), WIRE_PRICE)
def test_ltp_round_trips_through_client(token: int, wire: int) -> None:
    price = wire / p.price_divisor(token)
    packet = p.encode_ltp(token, price)
    assert len(packet) == p.LTP_LENGTH
    tick = decode_one(packet)
    assert tick == {
        "tradable": token & 0xFF != 9,
        "mode": "ltp",
        "instrument_token": token,
        "last_price": price,
    }
    assert p.encode_ltp(token, tick["last_price"]) == packet


quote_fields = st.fixed_dictionaries(
    {
        "last_price": WIRE_PRICE,
        "last_traded_quantity": UINT32,
        "average_traded_price": WIRE_PRICE,
        "volume_traded": UINT32,
        "total_buy_quantity": UINT32,
        "total_sell_quantity": UINT32,
        "open": WIRE_PRICE,
        "high": WIRE_PRICE,
        "low": WIRE_PRICE,
        "close": WIRE_PRICE,
    }
)
PRICE_KEYS = ("last_price", "average_traded_price", "open", "high", "low", "close")
# The quote packet's fields that the client hands back as top-level tick keys (OHLC comes
# back nested under "ohlc").
QUOTE_SCALARS = (
    "last_price",
    "last_traded_quantity",
    "average_traded_price",
    "volume_traded",
    "total_buy_quantity",
    "total_sell_quantity",
)


def _prices(raw: dict, divisor: int) -> dict:
    return {k: (v / divisor if k in PRICE_KEYS else v) for k, v in raw.items()}


def _check_quote_part(tick: dict, token: int, values: dict, mode: str) -> None:
    assert tick["tradable"] is True
    assert tick["mode"] == mode
    assert tick["instrument_token"] == token
    for key in QUOTE_SCALARS:
        assert tick[key] == values[key], key
    assert tick["ohlc"] == {k: values[k] for k in ("open", "high", "low", "close")}
    assert tick["change"] == expected_change(values["last_price"], values["close"])


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(SEGMENTS).flatmap(token_in), quote_fields)
def test_quote_round_trips_through_client(token: int, raw: dict) -> None:
    values = _prices(raw, p.price_divisor(token))
    packet = p.encode_quote(token, **values)
    assert len(packet) == p.QUOTE_LENGTH
    tick = decode_one(packet)
    _check_quote_part(tick, token, values, "quote")
    assert set(tick) == {"tradable", "mode", "instrument_token", *QUOTE_SCALARS, "ohlc", "change"}


depth_side = st.lists(
    st.tuples(UINT32, WIRE_PRICE, st.integers(min_value=0, max_value=2**16 - 1)),
    min_size=0,
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(SEGMENTS).flatmap(token_in),
    quote_fields,
    st.fixed_dictionaries(
        {
            "last_trade_time": EPOCH,
            "oi": UINT32,
            "oi_day_high": UINT32,
            "oi_day_low": UINT32,
            "exchange_timestamp": EPOCH,
        }
    ),
    depth_side,
    depth_side,
)
def test_full_round_trips_through_client(
    token: int, raw: dict, extra: dict, bids_raw: list, offers_raw: list
) -> None:
    divisor = p.price_divisor(token)
    values = _prices(raw, divisor)
    bids = [p.DepthLevel(price / divisor, qty, orders) for qty, price, orders in bids_raw]
    offers = [p.DepthLevel(price / divisor, qty, orders) for qty, price, orders in offers_raw]
    packet = p.encode_full(token, **values, **extra, bids=bids, offers=offers)
    assert len(packet) == p.FULL_LENGTH
    tick = decode_one(packet)
    _check_quote_part(tick, token, values, "full")
    assert tick["last_trade_time"] == client_time(extra["last_trade_time"])
    assert tick["exchange_timestamp"] == client_time(extra["exchange_timestamp"])
    for key in ("oi", "oi_day_high", "oi_day_low"):
        assert tick[key] == extra[key]
    empty = {"quantity": 0, "price": 0.0, "orders": 0}

    def side(levels: list[p.DepthLevel]) -> list[dict]:
        out = [{"quantity": lv.quantity, "price": lv.price, "orders": lv.orders} for lv in levels]
        return out + [empty] * (5 - len(out))

    assert tick["depth"] == {"buy": side(bids), "sell": side(offers)}


index_fields = st.fixed_dictionaries(
    {k: WIRE_PRICE for k in ("last_price", "high", "low", "open", "close")}
)


@settings(max_examples=150, deadline=None)
@given(token_in(9), index_fields, EPOCH, st.booleans())
def test_index_round_trips_through_client(token: int, raw: dict, ts: int, full: bool) -> None:
    values = _prices(raw, p.price_divisor(token))
    if full:
        packet = p.encode_index_full(token, **values, exchange_timestamp=ts)
        assert len(packet) == p.INDEX_FULL_LENGTH
    else:
        packet = p.encode_index_quote(token, **values)
        assert len(packet) == p.INDEX_QUOTE_LENGTH
    tick = decode_one(packet)
    expected = {
        "tradable": False,
        "mode": "full" if full else "quote",
        "instrument_token": token,
        "last_price": values["last_price"],
        "ohlc": {k: values[k] for k in ("high", "low", "open", "close")},
        "change": expected_change(values["last_price"], values["close"]),
    }
    if full:
        expected["exchange_timestamp"] = client_time(ts)
    assert tick == expected
    # The change field the client ignores carries last - close (two's complement).
    (change,) = struct.unpack_from(">i", packet, 24)
    assert change == raw["last_price"] - raw["close"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from((*SEGMENTS, 9)).flatmap(token_in), st.sampled_from(p.MODES)),
        max_size=40,
    ),
    WIRE_PRICE,
)
def test_frame_of_many_packets_decodes_in_order(items: list, wire: int) -> None:
    states = []
    for token, mode in items:
        price = wire / p.price_divisor(token)
        states.append((token, mode, p.QuoteState(last_price=price, close=price)))
    frame = p.encode_many(states)
    ticks = decode(frame)
    assert [(t["instrument_token"], t["mode"]) for t in ticks] == [(tok, m) for tok, m in items]
    assert all(t["last_price"] == wire / p.price_divisor(t["instrument_token"]) for t in ticks)
    assert p.split_frame(frame) == [p.encode_for_mode(*s) for s in states]


# --------------------------------------------------------------------------- layouts


@pytest.mark.parametrize(
    ("segment", "mode", "length"),
    [
        (1, "ltp", 8),
        (1, "quote", 44),
        (1, "full", 184),
        (3, "full", 184),
        (9, "ltp", 8),
        (9, "quote", 28),
        (9, "full", 32),
    ],
)
def test_encode_for_mode_with_segment_picks_kites_layout(
    segment: int, mode: str, length: int
) -> None:
    token = (77 << 8) | segment
    packet = p.encode_for_mode(token, mode, p.QuoteState(last_price=1.5))
    assert len(packet) == length
    assert decode_one(packet)["mode"] == mode


def test_encode_for_mode_with_unknown_mode_raises() -> None:
    with pytest.raises(ValueError, match="unknown ticker mode"):
        p.encode_for_mode(408065, "snapquote", p.QuoteState(last_price=1.0))


def test_heartbeat_is_one_byte_the_client_ignores() -> None:
    assert p.HEARTBEAT == b"\x00"
    assert decode(p.HEARTBEAT) == []
    seen: list = []
    kws = KiteTicker("k", "t")
    kws.on_ticks = lambda ws, ticks: seen.append(ticks)
    kws._on_message(None, p.HEARTBEAT, True)
    assert seen == []
    assert p.split_frame(p.HEARTBEAT) == []


def test_empty_frame_and_frame_header() -> None:
    assert p.encode_frame([]) == b"\x00\x00"
    frame = p.encode_frame([b"abcdefgh", b"xyz"])
    assert frame == b"\x00\x02\x00\x08abcdefgh\x00\x03xyz"
    assert p.split_frame(frame) == [b"abcdefgh", b"xyz"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: p.encode_ltp(408065, -0.05), "price"),
        (lambda: p.encode_ltp(408065, 42_949_672.96), "price"),
        (lambda: p.encode_ltp((1 << 8) | 3, 430.0), "price"),  # CDS ×1e7 overflows
        (lambda: p.encode_quote(408065, last_price=1.0, volume_traded=2**32), "volume_traded"),
        (lambda: p.encode_ltp(2**32, 1.0), "instrument_token"),
        (
            lambda: p.encode_full(408065, last_price=1.0, bids=[p.DepthLevel(1.0, 1, 2**16)]),
            "orders",
        ),
        (lambda: p.encode_full(408065, last_price=1.0, bids=[p.DepthLevel()] * 6), "levels"),
    ],
)
def test_values_that_do_not_fit_raise_instead_of_wrapping(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_float_prices_round_to_the_nearest_wire_unit() -> None:
    # 1573.15 * 100 is 157314.99999999997 in binary; it must still send 157315.
    assert struct.unpack(">II", p.encode_ltp(408065, 1573.15))[1] == 157_315
    assert struct.unpack(">II", p.encode_ltp((5 << 8) | 3, 74.6125))[1] == 746_125_000


# --------------------------------------------------------------------------- Kite's mocks


def _reencode(tick: dict) -> bytes:
    token = tick["instrument_token"]
    fields = {
        "last_price": tick["last_price"],
        "last_traded_quantity": tick["last_traded_quantity"],
        "average_traded_price": tick["average_traded_price"],
        "volume_traded": tick["volume_traded"],
        "total_buy_quantity": tick["total_buy_quantity"],
        "total_sell_quantity": tick["total_sell_quantity"],
        **tick["ohlc"],
    }
    if tick["mode"] == "quote":
        return p.encode_quote(token, **fields)

    def levels(side: str) -> list[p.DepthLevel]:
        return [p.DepthLevel(d["price"], d["quantity"], d["orders"]) for d in tick["depth"][side]]

    return p.encode_full(
        token,
        **fields,
        last_trade_time=round(tick["last_trade_time"].timestamp()),
        oi=tick["oi"],
        oi_day_high=tick["oi_day_high"],
        oi_day_low=tick["oi_day_low"],
        exchange_timestamp=round(tick["exchange_timestamp"].timestamp()),
        bids=levels("buy"),
        offers=levels("sell"),
    )


@pytest.mark.parametrize(("name", "length"), [("ticker_quote", 44), ("ticker_full", 184)])
def test_kite_mock_packet_decodes_and_reencodes_byte_identical(name: str, length: int) -> None:
    raw = mock_packet(f"{name}.packet")
    assert len(raw) == length
    tick = decode_one(raw)
    assert _reencode(tick) == raw
    # The values are the ones Kite's decoded mock (Go field names) lists.
    expected = json.loads((MOCKS / f"{name}.json").read_text())
    assert tick["instrument_token"] == expected["instrument_token"] == 408065
    assert tick["mode"] == expected["mode"]
    assert tick["last_price"] == expected["last_price"]
    assert tick["last_traded_quantity"] == expected["last_quantity"]
    assert tick["average_traded_price"] == expected["average_price"]
    assert tick["volume_traded"] == expected["volume"]
    assert tick["total_buy_quantity"] == expected["buy_quantity"]
    assert tick["total_sell_quantity"] == expected["sell_quantity"]
    assert tick["ohlc"] == expected["ohlc"]
    if name == "ticker_full":
        stamp = datetime.fromisoformat(expected["timestamp"]).timestamp()
        assert tick["exchange_timestamp"].timestamp() == stamp
        for side in ("buy", "sell"):
            assert tick["depth"][side] == [
                {"quantity": d["quantity"], "price": d["price"], "orders": d["orders"]}
                for d in expected["depth"][side]
            ]


def test_kite_mock_quote_through_encoder_from_its_json_values() -> None:
    raw = mock_packet("ticker_quote.packet")
    ltp = json.loads((MOCKS / "ticker_ltp.json").read_text())
    quote = json.loads((MOCKS / "ticker_quote.json").read_text())
    built = p.encode_quote(
        quote["instrument_token"],
        last_price=quote["last_price"],
        last_traded_quantity=quote["last_quantity"],
        average_traded_price=quote["average_price"],
        volume_traded=quote["volume"],
        total_buy_quantity=quote["buy_quantity"],
        total_sell_quantity=quote["sell_quantity"],
        **quote["ohlc"],
    )
    assert built == raw
    assert decode_one(p.encode_ltp(ltp["instrument_token"], ltp["last_price"])) == {
        "tradable": True,
        "mode": "ltp",
        "instrument_token": 408065,
        "last_price": 1573.15,
    }
