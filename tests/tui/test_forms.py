"""The hand-entry forms on a running desk (Pilot): a risk limit (``l`` on Risk), an order
ticket (``t``) and a stop move (``m`` on Positions). Each answers a typo on the form,
then asks y/n, and sends its command only on yes."""

from __future__ import annotations

import asyncio

from textual.widgets import Input, Label, OptionList

from kitetui.commands import ModifyStop, PlaceTicket, SetRiskLimit
from kitetui.tui.app import KiteTuiApp, make_app
from kitetui.tui.forms import LimitForm, StopForm, TicketForm
from kitetui.tui.screens import ConfirmScreen

from .fakes import FakeLink, busy_snapshot, wall_clock

SIZE = (120, 40)


async def settle(app: KiteTuiApp, pilot) -> None:
    await asyncio.wait_for(app.workers.wait_for_complete(), 5.0)
    await pilot.pause()


def hint(app: KiteTuiApp) -> str:
    return str(app.screen.query_one(".form-hint", Label).render())


def fill(app: KiteTuiApp, **values: str) -> None:
    for name, value in values.items():
        app.screen.query_one(f"#{name}", Input).value = value


async def test_limit_form_with_bounds_refuses_on_the_form_then_asks_and_sends() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("l")  # not on the Positions tab
        await pilot.pause()
        assert not isinstance(app.screen, LimitForm)
        await pilot.press("4", "l")
        await pilot.pause()
        assert isinstance(app.screen, LimitForm)
        names = app.screen.query_one(OptionList)
        assert names.option_count == 7
        assert str(names.get_option_at_index(0).prompt).endswith("10,000.00  * changed")
        bounds = str(app.screen.query_one("#limit-bounds", Label).render())
        assert bounds == (
            "max_daily_loss: now 10,000.00, config 20,000.00, "
            "bounds above 0, at most 100,000,000,000"
        )
        await pilot.press("down", "down", "enter")  # max_open_positions, its value to edit
        await pilot.pause()
        value = app.screen.query_one("#limit-value", Input)
        assert value.value == "5" and value.has_focus
        fill(app, **{"limit-value": "0"})
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LimitForm)
        assert hint(app) == "max_open_positions: 0 is outside its bounds (1 to 1,000)"
        fill(app, **{"limit-value": "3"})
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(app, pilot)
        assert link.sent == []
        await pilot.press("l", "down", "down", "enter")
        await pilot.pause()
        fill(app, **{"limit-value": "3"})
        await pilot.press("enter", "y")
        await settle(app, pilot)
        assert link.sent == [SetRiskLimit("max_open_positions=3")]


async def test_limit_form_with_escape_sends_nothing() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "l")
        await pilot.pause()
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, LimitForm | ConfirmScreen)
        assert link.sent == []


async def test_ticket_form_with_selected_position_fills_its_symbol_then_asks_and_sends() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TicketForm)
        assert app.screen.query_one("#ticket-symbol", Input).value == "NIFTY24JANFUT"
        await pilot.press("enter")  # no stop yet
        await pilot.pause()
        assert isinstance(app.screen, TicketForm)
        assert hint(app) == "a manual entry needs its protective stop: add STOP PRICE"
        fill(app, **{"ticket-price": "21700", "ticket-stop": "21640"})  # Type still MARKET
        await pilot.press("enter")
        await pilot.pause()
        assert hint(app) == "a limit price needs Type LIMIT (or clear it for a MARKET order)"
        fill(
            app, **{"ticket-qty": "²", "ticket-price": ""}
        )  # isdigit() says yes, int() raised in the TUI
        await pilot.press("enter")
        await pilot.pause()
        assert hint(app) == "quantity '²' is not a whole number from 1 to 100,000"
        fill(app, **{"ticket-qty": "1", "ticket-symbol": "SBIN LIMIT 900"})
        await pilot.press("enter")
        await pilot.pause()
        assert hint(app) == "Symbol 'SBIN LIMIT 900' is more than one word"
        fill(app, **{"ticket-symbol": "NIFTY24JANFUT"})
        fill(app, **{"ticket-type": "limit", "ticket-price": "21700", "ticket-stop": "21750"})
        await pilot.press("enter")
        await pilot.pause()
        assert hint(app) == "the stop 21750 must be below the limit price 21700"
        fill(app, **{"ticket-qty": "2", "ticket-stop": "21640.05"})
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert link.sent == [PlaceTicket("BUY 2 NIFTY24JANFUT LIMIT 21700 STOP 21640.05")]


async def test_stop_form_on_open_position_checks_the_side_then_asks_and_sends() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("m")  # NIFTY24JANFUT, long 50, stop 21650, last 21755.5
        await pilot.pause()
        assert isinstance(app.screen, StopForm)
        price = app.screen.query_one("#stop-price", Input)
        assert price.value == "21650" and price.has_focus
        fill(app, **{"stop-price": "21760"})
        await pilot.press("enter")
        await pilot.pause()
        assert hint(app) == "the stop must be below the market (last 21755.5)"
        fill(app, **{"stop-price": "21700.5"})
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert link.sent == [ModifyStop("NIFTY24JANFUT 21700.5")]


async def test_stop_key_on_a_flat_row_does_nothing() -> None:
    link = FakeLink(busy_snapshot())
    app = make_app(link, wall_clock=wall_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("end")  # INFY is flat
        await pilot.pause()
        assert app.desk.allows("modify_stop") is None
        await pilot.press("m")
        await pilot.pause()
        assert not isinstance(app.screen, StopForm)
        assert link.sent == []
