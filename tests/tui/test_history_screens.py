"""Pilot tests of the journal on screen: history mode (h, /, [ ]), the Runs screen (R) and
CSV export (w), on canned reads and on a real journal. Every await is bounded."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kitetui.history_reads import DatabaseReads
from kitetui.tui.app import KiteTuiApp, make_app
from kitetui.tui.export_screen import ExportScreen
from kitetui.tui.runs_screen import RunScreen, RunsScreen
from tests.history_helpers import journal_db, kitetui

from .fakes import CannedReads, FakeLink, busy_snapshot, next_snapshot, wall_clock

SIZE = (120, 40)
STEP_S = 10.0


def app_on(reads: object | None) -> tuple[KiteTuiApp, FakeLink]:
    link = FakeLink(busy_snapshot())
    link.reads = reads
    return make_app(link, wall_clock=wall_clock), link


async def settle(app: KiteTuiApp, pilot, pause: float = 0.0) -> None:
    if pause:
        await pilot.pause(pause)
    await asyncio.wait_for(app.workers.wait_for_complete(), STEP_S)
    for screen in app.screen_stack:
        await asyncio.wait_for(screen.workers.wait_for_complete(), STEP_S)
    await pilot.pause()


def info(app: KiteTuiApp, tab: str) -> str:
    return str(app.desk.pane(tab).query_one(".pane-info").render())


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return journal_db(tmp_path_factory.mktemp("tui-history"))


# -- history mode ----------------------------------------------------------------------


async def test_history_mode_pages_through_the_whole_run() -> None:
    reads = CannedReads()
    app, _link = app_on(reads)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        desk = app.desk
        await pilot.press("2")
        assert desk.allows("next_page") is False  # no paging on the live rows
        await pilot.press("h")
        await settle(app, pilot)
        assert reads.queries[-1] == ("orders", "", "", 0, 100)
        assert info(app, "orders").startswith("history · rows 1–100 of 250 orders")
        assert desk.pane("orders").table.row_count == 100
        assert desk.allows("previous_page") is None and desk.allows("next_page") is True
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        assert "rows 101–200 of 250" in info(app, "orders")
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        assert "rows 201–250 of 250" in info(app, "orders")
        assert desk.pane("orders").table.row_count == 50
        asked = len(reads.queries)
        await pilot.press("right_square_bracket")  # the last page: nothing more to ask
        await settle(app, pilot)
        assert len(reads.queries) == asked and desk.allows("next_page") is None
        await pilot.press("left_square_bracket")
        await settle(app, pilot)
        assert reads.queries[-1][3] == 100 and "rows 101–200" in info(app, "orders")
        # the oldest row of the page is the one under it in the journal
        assert desk.pane("orders").table.key_at(0) == "h-0149"


async def test_history_filter_searches_the_database_and_esc_clears_it() -> None:
    reads = CannedReads()
    app, _link = app_on(reads)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("2", "h")
        await settle(app, pilot)
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        await pilot.press("slash", *"sbin", "enter")
        await settle(app, pilot, pause=0.6)  # past the debounce
        table, run, text, offset, _limit = reads.queries[-1]
        assert (table, run, text, offset) == ("orders", "", "sbin", 0)  # back to page 1
        shown = app.desk.pane("orders").table.shown_rows
        assert len(shown) == 84 and all(row[2].text == "SBIN" for row in shown.values())
        assert "rows 1–84 of 84 orders · filter “sbin”" in info(app, "orders")
        await pilot.press("escape")
        await settle(app, pilot, pause=0.6)
        assert reads.queries[-1][2] == "" and "of 250 orders" in info(app, "orders")


async def test_h_again_goes_back_to_the_live_rows() -> None:
    app, link = app_on(CannedReads())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("2", "h")
        await settle(app, pilot)
        link.publish(next_snapshot(busy_snapshot()))  # the desk moves on meanwhile
        await settle(app, pilot, pause=0.4)
        assert app.desk.pane("orders").table.row_count == 100  # still the journal's page
        await pilot.press("h")
        await settle(app, pilot)
        assert "orders" not in app.desk.history_tabs
        assert app.desk.pane("orders").table.row_count == len(busy_snapshot().orders)
        assert "history" not in info(app, "orders")


async def test_a_history_row_has_its_detail_and_keys() -> None:
    app, _link = app_on(CannedReads())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("2", "h")
        await settle(app, pilot)
        assert app.desk.selected("orders").tag == "h-0249"
        assert app.desk.pane("orders").detail_pane.detail  # the order's story, from its tag


async def test_history_refused_by_the_desk_says_why() -> None:
    app, _link = app_on(None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("6", "h")
        await settle(app, pilot)
        assert "error: this desk does not serve its history" in info(app, "log")


async def test_history_on_a_real_journal_counts_every_row(db: Path) -> None:
    app, _link = app_on(DatabaseReads(db))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("3", "h")
        await settle(app, pilot)
        page = app.desk.history_tabs["signals"].browser.page
        assert page is not None and page.total > 1000 and page.count == 100
        assert f"rows 1–100 of {page.total:,} signals" in info(app, "signals")


# -- the Runs screen -------------------------------------------------------------------------


async def test_runs_screen_lists_opens_and_goes_back_while_the_desk_runs() -> None:
    reads = CannedReads()
    app, link = app_on(reads)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        await settle(app, pilot)
        runs = app.screen
        assert isinstance(runs, RunsScreen) and runs.loaded
        assert runs.selected_run == "run-busy"  # newest first, this desk's marked
        await pilot.press("down", "enter")
        await settle(app, pilot)
        run = app.screen
        assert isinstance(run, RunScreen) and run.run.run_id == "run-old"
        assert run.report is not None and run.report.headline.trades == 118
        assert ("orders", "run-old", "", 0, 100) in reads.queries
        assert run.panes["orders"].table.row_count == 100
        await pilot.press("4")
        await settle(app, pilot)
        assert run.active_table == "events"
        assert run.panes["events"].table.row_count == len(busy_snapshot().events)
        link.publish(next_snapshot(busy_snapshot()))  # the desk keeps going underneath
        await settle(app, pilot, pause=0.6)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is app.desk
        await settle(app, pilot, pause=0.4)
        assert app.desk.snapshot.seq == busy_snapshot().seq + 1


async def test_run_screen_searches_and_pages_its_own_run() -> None:
    reads = CannedReads()
    app, _link = app_on(reads)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        await settle(app, pilot)
        await pilot.press("down", "enter")
        await settle(app, pilot)
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        assert reads.queries[-1] == ("orders", "run-old", "", 100, 100)
        await pilot.press("slash", *"stop")
        await settle(app, pilot, pause=0.6)
        assert reads.queries[-1] == ("orders", "run-old", "stop", 0, 100)
        await pilot.press("escape")  # clears the search first…
        await settle(app, pilot, pause=0.6)
        assert isinstance(app.screen, RunScreen) and reads.queries[-1][2] == ""
        await pilot.press("escape")  # …then goes back
        await settle(app, pilot)
        assert isinstance(app.screen, RunsScreen)


async def test_runs_screen_on_a_desk_without_reads_says_so() -> None:
    app, _link = app_on(None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        await settle(app, pilot)
        assert "cannot read them" in str(app.screen.query_one("#runs-title").render())


# -- export ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "what"), [("1", "trades"), ("2", "orders"), ("3", "signals"), ("6", "events")]
)
async def test_w_offers_the_tabs_table_beside_the_database(key: str, what: str) -> None:
    reads = CannedReads()
    app, _link = app_on(reads)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press(key, "w")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ExportScreen) and dialog.what == what
        await pilot.press("enter")
        await settle(app, pilot)
        assert reads.exports == [(what, "", f"run-busy-{what}.csv")]
        notes = [n.message for n in app._notifications]
        assert any(f"42 rows of {what}" in m and f"/desk/run-busy-{what}.csv" in m for m in notes)


async def test_escape_in_the_export_dialog_writes_nothing() -> None:
    reads = CannedReads()
    app, _link = app_on(reads)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("2", "w")
        await settle(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert reads.exports == [] and app.screen is app.desk


async def test_tui_export_is_kitetui_exports_file(db: Path, tmp_path: Path) -> None:
    cli_out = tmp_path / "cli.csv"
    proc = await asyncio.to_thread(
        kitetui, "export", "--db", str(db), "--what", "fills", "--out", str(cli_out)
    )
    assert proc.returncode == 0, proc.stderr
    app, _link = app_on(DatabaseReads(db))
    target = tmp_path / "from-the-screen.csv"
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("2", "w")
        await settle(app, pilot)
        await pilot.press("tab")  # from the path to the choice of table
        dialog = app.screen
        assert isinstance(dialog, ExportScreen)
        dialog.query_one("#export-what").query("RadioButton")[1].value = True  # fills
        await settle(app, pilot)
        box = dialog.query_one("#export-path")
        assert box.value == "run-busy-fills.csv"  # the offer follows the choice
        box.value = str(target)
        box.focus()
        await pilot.press("enter")
        await settle(app, pilot)
    assert target.read_bytes() == cli_out.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o600
