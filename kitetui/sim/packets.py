"""Kite's ticker binary encoding: the bytes ``KiteTicker._parse_binary`` decodes.

The local exchange speaks the exact wire format of ``wss://ws.kite.trade`` so the real
``kiteconnect`` client can be its peer (docs/kite-contract.md §4.4). Everything here
is pure: values in, bytes out, no I/O and no clock.

A *frame* is one WebSocket binary message: a uint16 packet count, then per packet a
uint16 length and the packet. The packet length alone tells the client the layout
(8 ltp, 28/32 index quote/full, 44/184 tradable quote/full), so each encoder writes
exactly one of those sizes. All integers are big-endian and unsigned; prices travel as
integers scaled by the segment's divisor (``instrument_token & 0xFF``): ×100 almost
everywhere, ×10,000,000 for CDS (3), ×10,000 for BCD (6) and NCO (12). Index
instruments (segment 9) have their own layouts with a different OHLC order
(high, low, open, close) and a price-change field the Python client does not read.

Timestamps are Unix epoch seconds (uint32), as Kite sends them; the Python client turns
them into naive local datetimes with ``datetime.fromtimestamp``.

Rounding: a float price is scaled and rounded half-to-even (``round``), so a price that
came from ``ticks / divisor`` encodes back to the same integer and decodes to the same
float. A value that does not fit in the field (negative, or ≥ 2**32 after scaling; a
depth ``orders`` count ≥ 2**16) raises ``ValueError`` instead of wrapping silently.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "FULL_LENGTH",
    "HEARTBEAT",
    "INDEX_FULL_LENGTH",
    "INDEX_QUOTE_LENGTH",
    "LTP_LENGTH",
    "MODES",
    "MODE_FULL",
    "MODE_LTP",
    "MODE_QUOTE",
    "QUOTE_LENGTH",
    "SEGMENT_BCD",
    "SEGMENT_CDS",
    "SEGMENT_INDICES",
    "SEGMENT_NCO",
    "DepthLevel",
    "QuoteState",
    "encode_for_mode",
    "encode_frame",
    "encode_full",
    "encode_index_full",
    "encode_index_quote",
    "encode_ltp",
    "encode_many",
    "encode_quote",
    "is_tradable",
    "price_divisor",
    "scale_price",
    "split_frame",
]

HEARTBEAT = b"\x00"
"""Kite's keep-alive: a 1-byte binary message the client's parser ignores."""

MODE_LTP = "ltp"
MODE_QUOTE = "quote"
MODE_FULL = "full"
MODES = (MODE_LTP, MODE_QUOTE, MODE_FULL)

SEGMENT_CDS = 3
SEGMENT_BCD = 6
SEGMENT_INDICES = 9
SEGMENT_NCO = 12

LTP_LENGTH = 8
INDEX_QUOTE_LENGTH = 28
INDEX_FULL_LENGTH = 32
QUOTE_LENGTH = 44
FULL_LENGTH = 184
DEPTH_LEVELS = 5

_UINT32_MAX = 2**32 - 1
_UINT16_MAX = 2**16 - 1

_LTP = struct.Struct(">II")
_INDEX_QUOTE = struct.Struct(">7I")
_QUOTE = struct.Struct(">11I")
# A full packet is the quote packet followed by this tail: 5 more uint32 fields, then
# 10 depth entries of (qty uint32, price uint32, orders uint16, 2 zero padding bytes).
_FULL_TAIL = struct.Struct(">5I" + "IIHxx" * (2 * DEPTH_LEVELS))
# An index full packet is the index quote packet followed by the exchange timestamp.
_INDEX_FULL_TAIL = struct.Struct(">I")
_U16 = struct.Struct(">H")

assert _LTP.size == LTP_LENGTH
assert _INDEX_QUOTE.size == INDEX_QUOTE_LENGTH
assert _INDEX_QUOTE.size + _INDEX_FULL_TAIL.size == INDEX_FULL_LENGTH
assert _QUOTE.size == QUOTE_LENGTH
assert _QUOTE.size + _FULL_TAIL.size == FULL_LENGTH


def price_divisor(instrument_token: int) -> int:
    """The integer every price of this instrument is multiplied by on the wire."""
    segment = instrument_token & 0xFF
    if segment == SEGMENT_CDS:
        return 10_000_000
    if segment in (SEGMENT_BCD, SEGMENT_NCO):
        return 10_000
    return 100


def is_tradable(instrument_token: int) -> bool:
    """Indices (segment 9) are not tradable and use the 28/32-byte index layouts."""
    return instrument_token & 0xFF != SEGMENT_INDICES


def scale_price(price: float, divisor: int) -> int:
    """Price → the wire integer; ``ValueError`` when it does not fit a uint32."""
    value = round(price * divisor)
    if not 0 <= value <= _UINT32_MAX:
        raise ValueError(f"price {price!r} × {divisor} does not fit an unsigned 32-bit field")
    return value


def _u32(value: int, name: str) -> int:
    if not 0 <= value <= _UINT32_MAX:
        raise ValueError(f"{name}={value!r} does not fit an unsigned 32-bit field")
    return value


@dataclass(frozen=True, slots=True)
class DepthLevel:
    """One side's entry of the 5-level market depth."""

    price: float = 0.0
    quantity: int = 0
    orders: int = 0


_EMPTY_DEPTH: tuple[DepthLevel, ...] = (DepthLevel(),) * DEPTH_LEVELS


@dataclass(frozen=True, slots=True)
class QuoteState:
    """Everything a full packet carries for one instrument at one moment.

    The ticker server asks its market for one of these per changed token and encodes
    the subset the connection's mode needs. Field names follow the Python client's tick
    keys. Timestamps are Unix epoch seconds (0 = unknown).
    """

    last_price: float
    last_traded_quantity: int = 0
    average_traded_price: float = 0.0
    volume_traded: int = 0
    total_buy_quantity: int = 0
    total_sell_quantity: int = 0
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    close: float = 0.0
    last_trade_time: int = 0
    oi: int = 0
    oi_day_high: int = 0
    oi_day_low: int = 0
    exchange_timestamp: int = 0
    bids: tuple[DepthLevel, ...] = field(default=_EMPTY_DEPTH)
    offers: tuple[DepthLevel, ...] = field(default=_EMPTY_DEPTH)


# --------------------------------------------------------------------------- frames


def encode_frame(packets: Sequence[bytes]) -> bytes:
    """One binary WebSocket message: uint16 count, then (uint16 length, packet)…"""
    if len(packets) > _UINT16_MAX:
        raise ValueError(f"{len(packets)} packets do not fit one frame (max {_UINT16_MAX})")
    parts = [_U16.pack(len(packets))]
    for packet in packets:
        if len(packet) > _UINT16_MAX:
            raise ValueError(f"packet of {len(packet)} bytes is too long for a frame")
        parts.append(_U16.pack(len(packet)))
        parts.append(packet)
    return b"".join(parts)


def split_frame(frame: bytes) -> list[bytes]:
    """The inverse of ``encode_frame`` (for tests and tools); heartbeats give ``[]``."""
    if len(frame) < 2:
        return []
    (count,) = _U16.unpack_from(frame, 0)
    packets = []
    offset = 2
    for _ in range(count):
        (length,) = _U16.unpack_from(frame, offset)
        packets.append(frame[offset + 2 : offset + 2 + length])
        offset += 2 + length
    return packets


# --------------------------------------------------------------------------- packets


def encode_ltp(instrument_token: int, last_price: float) -> bytes:
    """8 bytes: token, last price. The same layout for tradables and indices."""
    divisor = price_divisor(instrument_token)
    return _LTP.pack(_u32(instrument_token, "instrument_token"), scale_price(last_price, divisor))


def encode_quote(
    instrument_token: int,
    *,
    last_price: float,
    last_traded_quantity: int = 0,
    average_traded_price: float = 0.0,
    volume_traded: int = 0,
    total_buy_quantity: int = 0,
    total_sell_quantity: int = 0,
    open: float = 0.0,
    high: float = 0.0,
    low: float = 0.0,
    close: float = 0.0,
) -> bytes:
    """44 bytes: a tradable instrument in quote mode (OHLC in open/high/low/close order)."""
    d = price_divisor(instrument_token)
    return _QUOTE.pack(
        _u32(instrument_token, "instrument_token"),
        scale_price(last_price, d),
        _u32(last_traded_quantity, "last_traded_quantity"),
        scale_price(average_traded_price, d),
        _u32(volume_traded, "volume_traded"),
        _u32(total_buy_quantity, "total_buy_quantity"),
        _u32(total_sell_quantity, "total_sell_quantity"),
        scale_price(open, d),
        scale_price(high, d),
        scale_price(low, d),
        scale_price(close, d),
    )


def _depth_fields(levels: Sequence[DepthLevel], divisor: int, side: str) -> list[int]:
    if len(levels) > DEPTH_LEVELS:
        raise ValueError(f"{side} depth has {len(levels)} levels; Kite sends {DEPTH_LEVELS}")
    out: list[int] = []
    for level in levels:
        if not 0 <= level.orders <= _UINT16_MAX:
            raise ValueError(f"depth orders={level.orders!r} does not fit an unsigned 16-bit field")
        out += (
            _u32(level.quantity, "depth quantity"),
            scale_price(level.price, divisor),
            level.orders,
        )
    out += (0, 0, 0) * (DEPTH_LEVELS - len(levels))  # missing levels are zeros, as at Kite
    return out


def encode_full(
    instrument_token: int,
    *,
    last_price: float,
    last_traded_quantity: int = 0,
    average_traded_price: float = 0.0,
    volume_traded: int = 0,
    total_buy_quantity: int = 0,
    total_sell_quantity: int = 0,
    open: float = 0.0,
    high: float = 0.0,
    low: float = 0.0,
    close: float = 0.0,
    last_trade_time: int = 0,
    oi: int = 0,
    oi_day_high: int = 0,
    oi_day_low: int = 0,
    exchange_timestamp: int = 0,
    bids: Sequence[DepthLevel] = (),
    offers: Sequence[DepthLevel] = (),
) -> bytes:
    """184 bytes: the quote packet, then timestamps, OI and 5 bid + 5 offer depth levels."""
    quote = encode_quote(
        instrument_token,
        last_price=last_price,
        last_traded_quantity=last_traded_quantity,
        average_traded_price=average_traded_price,
        volume_traded=volume_traded,
        total_buy_quantity=total_buy_quantity,
        total_sell_quantity=total_sell_quantity,
        open=open,
        high=high,
        low=low,
        close=close,
    )
    d = price_divisor(instrument_token)
    return quote + _FULL_TAIL.pack(
        _u32(last_trade_time, "last_trade_time"),
        _u32(oi, "oi"),
        _u32(oi_day_high, "oi_day_high"),
        _u32(oi_day_low, "oi_day_low"),
        _u32(exchange_timestamp, "exchange_timestamp"),
        *_depth_fields(bids, d, "bid"),
        *_depth_fields(offers, d, "offer"),
    )


def _change_field(last_price: float, close: float, change: float | None, divisor: int) -> int:
    # Kite's docs call it the price change; the Python client never reads it (it
    # recomputes a percentage). Sent as the absolute change in two's complement, so a
    # fall survives for readers that take it as a signed int32.
    value = round((last_price - close if change is None else change) * divisor)
    if not -(2**31) <= value < 2**31:
        raise ValueError(f"index change {value!r} does not fit a 32-bit field")
    return value & _UINT32_MAX


def encode_index_quote(
    instrument_token: int,
    *,
    last_price: float,
    high: float = 0.0,
    low: float = 0.0,
    open: float = 0.0,
    close: float = 0.0,
    change: float | None = None,
) -> bytes:
    """28 bytes: an index in quote mode (OHLC in high/low/open/close order, then change)."""
    d = price_divisor(instrument_token)
    return _INDEX_QUOTE.pack(
        _u32(instrument_token, "instrument_token"),
        scale_price(last_price, d),
        scale_price(high, d),
        scale_price(low, d),
        scale_price(open, d),
        scale_price(close, d),
        _change_field(last_price, close, change, d),
    )


def encode_index_full(
    instrument_token: int,
    *,
    last_price: float,
    high: float = 0.0,
    low: float = 0.0,
    open: float = 0.0,
    close: float = 0.0,
    change: float | None = None,
    exchange_timestamp: int = 0,
) -> bytes:
    """32 bytes: the 28-byte index quote packet plus the exchange timestamp."""
    quote = encode_index_quote(
        instrument_token,
        last_price=last_price,
        high=high,
        low=low,
        open=open,
        close=close,
        change=change,
    )
    return quote + _INDEX_FULL_TAIL.pack(_u32(exchange_timestamp, "exchange_timestamp"))


_QUOTE_FIELDS = (
    "last_price",
    "last_traded_quantity",
    "average_traded_price",
    "volume_traded",
    "total_buy_quantity",
    "total_sell_quantity",
    "open",
    "high",
    "low",
    "close",
)
"""The ``QuoteState`` fields a tradable quote packet carries (``encode_quote``'s keywords)."""

_INDEX_FIELDS = ("last_price", "high", "low", "open", "close")
"""The ``QuoteState`` fields an index quote packet carries (``encode_index_quote``'s)."""

_FULL_FIELDS = tuple(f.name for f in fields(QuoteState))
"""Every ``QuoteState`` field: exactly ``encode_full``'s keywords."""


def _state_fields(state: QuoteState, names: tuple[str, ...]) -> dict[str, Any]:
    """The ``names`` fields of ``state`` as keyword arguments for an encoder.

    Shallow on purpose (unlike ``dataclasses.asdict``): depth levels stay ``DepthLevel``
    objects, as ``encode_full`` wants them. One name list per layout keeps
    ``encode_for_mode`` from restating every field for every mode.
    """
    return {name: getattr(state, name) for name in names}


def encode_for_mode(instrument_token: int, mode: str, state: QuoteState) -> bytes:
    """The packet a connection subscribed in ``mode`` gets for ``state``.

    Chooses the index layouts for segment 9, exactly as Kite does.
    """
    if mode == MODE_LTP:
        return encode_ltp(instrument_token, state.last_price)
    tradable = is_tradable(instrument_token)
    if mode == MODE_QUOTE:
        if tradable:
            return encode_quote(instrument_token, **_state_fields(state, _QUOTE_FIELDS))
        return encode_index_quote(instrument_token, **_state_fields(state, _INDEX_FIELDS))
    if mode == MODE_FULL:
        if tradable:
            return encode_full(instrument_token, **_state_fields(state, _FULL_FIELDS))
        return encode_index_full(
            instrument_token,
            **_state_fields(state, _INDEX_FIELDS),
            exchange_timestamp=state.exchange_timestamp,
        )
    raise ValueError(f"unknown ticker mode {mode!r}; expected one of {MODES}")


def encode_many(items: Iterable[tuple[int, str, QuoteState]]) -> bytes:
    """A frame of packets for (token, mode, state) triples, in the given order."""
    return encode_frame([encode_for_mode(token, mode, state) for token, mode, state in items])
