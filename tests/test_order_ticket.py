"""A manual order ticket and a stop move as typed: the text parsed in one place."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kitetui.order_ticket import (
    StopMove,
    Ticket,
    TicketRefused,
    on_tick,
    parse_stop_move,
    parse_ticket,
)

NOT_A_PRICE = " is not a price (digits 0-9, a point for paise)"


@pytest.mark.parametrize(
    ("text", "ticket"),
    [
        (
            "BUY 2 NIFTY24MAYFUT STOP 22400",
            Ticket("BUY", 2, "NIFTY24MAYFUT", "MARKET", 0.0, 22400.0),
        ),
        ("sell 10 sbin limit 812.50 stop 830", Ticket("SELL", 10, "SBIN", "LIMIT", 812.5, 830.0)),
        ("BUY 1 M&M MARKET STOP 1,500", Ticket("BUY", 1, "M&M", "MARKET", 0.0, 1500.0)),
        ("BUY 1 MRF STOP 1,20,500.5", Ticket("BUY", 1, "MRF", "MARKET", 0.0, 120500.5)),
        ("BUY 1 SBIN STOP 790 LIMIT 800", Ticket("BUY", 1, "SBIN", "LIMIT", 800.0, 790.0)),
    ],
)
def test_parse_ticket_with_good_text_gives_the_ticket(text, ticket) -> None:
    assert parse_ticket(text) == ticket
    assert parse_ticket(ticket.text) == ticket


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "BUY 1",
            "a ticket is SIDE QTY SYMBOL [MARKET | LIMIT PRICE] STOP PRICE, "
            "e.g. BUY 1 SBIN STOP 800",
        ),
        ("HOLD 1 SBIN STOP 800", "side 'HOLD' is not BUY or SELL"),
        ("BUY 0 SBIN STOP 800", "quantity '0' is not a whole number from 1 to 100,000"),
        ("BUY 1.5 SBIN STOP 800", "quantity '1.5' is not a whole number from 1 to 100,000"),
        ("BUY 100001 SBIN STOP 800", "quantity '100001' is not a whole number from 1 to 100,000"),
        ("BUY 1 SBIN", "a manual entry needs its protective stop: add STOP PRICE"),
        ("BUY 1 SBIN LIMIT STOP 800", "limit price 'STOP'" + NOT_A_PRICE),
        ("BUY 1 SBIN STOP", "STOP needs its trigger price, e.g. STOP 800"),
        ("BUY 1 SBIN LIMIT", "LIMIT needs its price, e.g. LIMIT 812.50"),
        ("BUY 1 SBIN STOP -5", "stop '-5' is not a positive price"),
        ("BUY 1 SBIN STOP nan", "stop 'NAN'" + NOT_A_PRICE),
        # what Python reads as numbers and a trader does not mean
        ("BUY ² SBIN STOP 800", "quantity '²' is not a whole number from 1 to 100,000"),
        ("BUY ١٠ SBIN STOP 800", "quantity '١٠' is not a whole number from 1 to 100,000"),
        ("BUY 1 SBIN STOP ８００", "stop '８００'" + NOT_A_PRICE),
        (
            "BUY 1 SBIN LIMIT 812,50 STOP 800",
            "limit price '812,50'" + NOT_A_PRICE,
        ),
        (
            "BUY 1 SBIN STOP 18500,5",
            "stop '18500,5'" + NOT_A_PRICE,
        ),
        ("BUY 1 ＳＢＩＮ STOP 800", "'ＳＢＩＮ' is not a trading symbol"),
        (
            "BUY 1 SBIN STOP 800 NOW",
            "unexpected 'NOW': a ticket is SIDE QTY SYMBOL [MARKET | LIMIT PRICE] STOP PRICE",
        ),
        ("BUY 1 SBIN LIMIT 800 STOP 810", "the stop 810 must be below the limit price 800"),
        ("SELL 1 SBIN LIMIT 800 STOP 800", "the stop 800 must be above the limit price 800"),
        ("BUY 1 SB;N STOP 800", "'SB;N' is not a trading symbol"),
    ],
)
def test_parse_ticket_with_bad_text_is_refused_in_one_line(text, message) -> None:
    with pytest.raises(TicketRefused) as refused:
        parse_ticket(text)
    assert str(refused.value) == message


def test_parse_stop_move_with_symbol_and_price() -> None:
    assert parse_stop_move("nifty24mayfut 22410.5") == StopMove("NIFTY24MAYFUT", 22410.5)
    assert StopMove("SBIN", 801.5).text == "SBIN 801.5"
    for text in ("SBIN", "SBIN 1 2", "SBIN zero", "SBIN 0"):
        with pytest.raises(TicketRefused):
            parse_stop_move(text)


@given(
    side=st.sampled_from(["BUY", "SELL"]),
    quantity=st.integers(1, 100_000),
    ticks=st.integers(2, 10**7),
    gap=st.integers(1, 10**4),
    limit=st.booleans(),
)
def test_ticket_text_with_any_ticket_reads_back_the_same(side, quantity, ticks, gap, limit) -> None:
    price = round(ticks * 0.05, 2)
    stop = round((ticks - gap) * 0.05 if side == "BUY" else (ticks + gap) * 0.05, 2)
    if stop <= 0:
        return
    ticket = Ticket(
        side, quantity, "SBIN", "LIMIT" if limit else "MARKET", price if limit else 0.0, stop
    )
    assert parse_ticket(ticket.text) == ticket


def test_ticket_text_with_five_digit_price_keeps_its_paise() -> None:
    ticket = parse_ticket("BUY 1 NIFTY24MAYFUT LIMIT 22400.05 STOP 22350.55")
    assert ticket.text == "BUY 1 NIFTY24MAYFUT LIMIT 22400.05 STOP 22350.55"


def test_on_tick_with_float_prices() -> None:
    assert on_tick(812.55, 0.05) and on_tick(22400.0, 0.05) and on_tick(0.1 + 0.2, 0.05)
    assert not on_tick(812.51, 0.05) and not on_tick(100.5, 1.0)
