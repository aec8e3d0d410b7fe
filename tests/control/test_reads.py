"""The history reads over the control socket (control/reads.py): runs, history pages,
run reports and exports, as words of the protocol and as a real server answers them
from a real journal."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
from control_helpers import FakeDesk, make_snapshot

from kitetui.control.client import ControlClient, DeskRequestError
from kitetui.control.link import LocalLink, RemoteLink
from kitetui.control.protocol import (
    REQUESTS,
    parse_request,
    socket_path_for,
    view_from_json,
    view_to_json,
)
from kitetui.control.reads import NOT_SERVED, HistoryError
from kitetui.control.server import ControlServer
from kitetui.history_reads import DatabaseReads, read_page
from kitetui.views import (
    EventView,
    ExportResult,
    HeadlineView,
    HistoryFillView,
    HistoryPage,
    OrderView,
    RunReportView,
    RunView,
    SignalView,
)
from tests.history_helpers import journal_db, kitetui

T = 30.0  # a read of a real journal answers within this

RUN = RunView("r1", "replay", "dev.yaml", "FINISHED", 1, "2024-01-15 09:05", "2024-01-15",
              "2024-01-16", 3, 2, 0, -12.5)  # fmt: skip


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return journal_db(tmp_path_factory.mktemp("reads"))


# -- the words ----------------------------------------------------------------------------


def test_the_history_words_are_reads_that_ctl_does_not_offer() -> None:
    for word in ("runs", "history", "run-report", "export"):
        assert REQUESTS[word].command is None and not REQUESTS[word].ctl


def test_a_history_request_parses_with_its_defaults_and_all_its_fields() -> None:
    _, request = parse_request(b'{"id": 1, "cmd": "history", "table": "orders"}')
    assert not isinstance(request, str)
    assert request.model_dump() == {
        "id": 1, "cmd": "history", "table": "orders", "run": "", "filter": "", "offset": 0,
        "limit": 100,
    }  # fmt: skip
    line = {"id": 2, "cmd": "history", "table": "events", "run": "abc", "filter": "x y",
            "offset": 200, "limit": 50}  # fmt: skip
    _, request = parse_request(json.dumps(line).encode())
    assert not isinstance(request, str) and request.model_dump() == line


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ({"cmd": "history"}, "bad history request: table"),
        ({"cmd": "history", "table": ""}, "bad history request: table"),
        ({"cmd": "history", "table": "orders", "offset": "x"}, "offset"),
        ({"cmd": "history", "table": "orders", "sort": "ts"}, "sort"),
        ({"cmd": "export", "path": "x.csv"}, "bad export request: what"),
    ],
)
def test_bad_history_requests_are_refused_in_one_line(line: dict, says: str) -> None:
    _, problem = parse_request(json.dumps(line).encode())
    assert isinstance(problem, str) and says in problem and "\n" not in problem


@pytest.mark.parametrize(
    ("tp", "value"),
    [
        (tuple[RunView, ...], (RUN, RUN)),
        (RunReportView, RunReportView(RUN, HeadlineView(10.0, 2.5, 3, 2, 7.25, orders=4))),
        (ExportResult, ExportResult("/x/y.csv", "r1", "fills", 12)),
        (
            HistoryPage,
            HistoryPage(
                "r1",
                "orders",
                "sbin",
                100,
                250,
                dated=True,
                orders=(
                    OrderView(
                        "t1", 5, "eq", "SBIN", "BUY", 1, "MARKET", "ENTRY", "COMPLETE", price=1.5
                    ),
                ),
            ),
        ),
        (
            HistoryPage,
            HistoryPage(
                "r1",
                "signals",
                "",
                0,
                1,
                signals=(
                    SignalView(
                        1,
                        "s",
                        2,
                        "eq",
                        "orb",
                        "SBIN",
                        "ENTER_LONG",
                        1.0,
                        "why",
                        0.5,
                        (("atr", 4.0),),
                        "ALLOW",
                        "",
                    ),
                ),
            ),
        ),
        (
            HistoryPage,
            HistoryPage("r1", "events", "", 0, 1, events=(EventView(1, 2, "K", "INFO", "m"),)),
        ),
        (
            HistoryPage,
            HistoryPage(
                "r1",
                "fills",
                "",
                0,
                1,
                fills=(HistoryFillView("f1", 3, "t1", "eq", "SBIN", "BUY", 1, 601.5),),
            ),
        ),
    ],
)
def test_history_views_cross_json_exactly(tp: object, value: object) -> None:
    text = json.dumps(view_to_json(value))
    assert view_from_json(tp, json.loads(text)) == value


# -- a real server on a real journal --------------------------------------------------------


async def _serve(sock_dir: Path, reads: object | None) -> ControlServer:
    server = ControlServer(
        FakeDesk(make_snapshot()), socket_path_for(sock_dir / "state.db"), reads=reads
    )  # type: ignore[arg-type]
    await asyncio.wait_for(server.start(), T)
    return server


async def test_the_server_pages_and_filters_the_journal(db: Path, sock_dir: Path) -> None:
    server = await _serve(sock_dir, DatabaseReads(db))
    client = ControlClient(server.path, timeout=T)
    try:
        await asyncio.wait_for(client.connect(), T)
        first = await client.history("orders", limit=20)
        second = await client.history("orders", offset=20, limit=20)
        assert first.total == second.total > 40 and first.count == second.count == 20
        assert not {o.tag for o in first.orders} & {o.tag for o in second.orders}
        assert first.orders[-1].ts_ns >= second.orders[0].ts_ns
        assert first == read_page(db, "latest", "orders", limit=20)  # what the file says
        stops = await client.history("orders", text="stop", limit=1000)
        assert 0 < stops.total < first.total and stops.filter == "stop"
        runs = await client.runs()
        assert [r.run_id for r in runs] == [first.run_id]
        report = await client.run_report(first.run_id)
        assert report.run == runs[0] and report.headline.orders == first.total
    finally:
        client.close()
        await asyncio.wait_for(server.stop(), T)


async def test_an_unknown_run_is_a_one_line_refusal_and_the_link_stays_up(
    db: Path, sock_dir: Path
) -> None:
    server = await _serve(sock_dir, DatabaseReads(db))
    client = ControlClient(server.path, timeout=T)
    try:
        await asyncio.wait_for(client.connect(), T)
        for call in (
            client.history("orders", run="nosuchrun"),
            client.run_report("nosuchrun"),
            client.export("fills", run="nosuchrun", path="x.csv"),
        ):
            with pytest.raises(DeskRequestError) as caught:
                await call
            assert "no run 'nosuchrun'" in str(caught.value) and "\n" not in str(caught.value)
        with pytest.raises(DeskRequestError, match="no history table 'trades'"):
            await client.history("trades")
        assert (await client.history("events", limit=1)).count == 1  # still usable
    finally:
        client.close()
        await asyncio.wait_for(server.stop(), T)


async def test_a_desk_without_reads_says_so(sock_dir: Path) -> None:
    server = await _serve(sock_dir, None)
    client = ControlClient(server.path, timeout=T)
    try:
        await asyncio.wait_for(client.connect(), T)
        with pytest.raises(DeskRequestError, match="does not serve its history"):
            await client.runs()
        reply = await client.request("history", table="orders")
        assert reply == {"id": reply["id"], "ok": False, "error": NOT_SERVED}
    finally:
        client.close()
        await asyncio.wait_for(server.stop(), T)


async def test_an_export_over_the_socket_is_the_command_lines_file(
    db: Path, sock_dir: Path, tmp_path: Path
) -> None:
    cli_out = tmp_path / "cli.csv"
    proc = await asyncio.to_thread(
        kitetui, "export", "--db", str(db), "--what", "fills", "--out", str(cli_out)
    )
    assert proc.returncode == 0, proc.stderr
    server = await _serve(sock_dir, DatabaseReads(db))
    link = RemoteLink(server.path, timeout=T)
    try:
        await asyncio.wait_for(link.start(), T)
        done = await link.export("fills", "", str(tmp_path / "desk.csv"))
        assert Path(done.path).read_bytes() == cli_out.read_bytes()
        assert Path(done.path).stat().st_mode & 0o777 == 0o600
        assert done.rows == len(cli_out.read_text().splitlines()) - 1 > 0
        page = await link.history("fills", limit=3)
        assert page.count == 3 and page.total == done.rows
    finally:
        await link.close()
        await asyncio.wait_for(server.stop(), T)


class _DeskLoop:
    """A SupervisorThread stand-in: a loop in its own thread that runs what it is given,
    with the desk's history reads."""

    def __init__(self, reads: object | None) -> None:
        self.reads = reads
        self.failure = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.threads: list[str] = []

    def call(self, coro):
        self.threads.append("desk")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(T)
        self.loop.close()


async def test_the_local_link_reads_on_the_desks_loop(db: Path, tmp_path: Path) -> None:
    desk = _DeskLoop(DatabaseReads(db))
    link = LocalLink(desk)  # type: ignore[arg-type]
    try:
        page = await asyncio.wait_for(link.history("events", limit=7), T)
        assert page.count == 7 and page == read_page(db, "latest", "events", limit=7)
        assert [r.run_id for r in await asyncio.wait_for(link.runs(), T)] == [page.run_id]
        report = await asyncio.wait_for(link.run_report(page.run_id), T)
        assert report.run.run_id == page.run_id
        done = await asyncio.wait_for(link.export("equity", "", str(tmp_path / "e.csv")), T)
        assert done.rows > 0 and Path(done.path).stat().st_mode & 0o777 == 0o600
        assert desk.threads == ["desk"] * 4
    finally:
        desk.close()


async def test_a_local_desk_without_reads_says_so() -> None:
    desk = _DeskLoop(None)
    try:
        with pytest.raises(HistoryError, match="does not serve its history"):
            await LocalLink(desk).runs()  # type: ignore[arg-type]
    finally:
        desk.close()


async def test_a_trading_desk_answers_history_from_its_journal_as_it_grows(
    tmp_path: Path, sock_dir: Path
) -> None:
    """The CLI's wiring (``_database_reads``) on a real supervisor: pages read while the
    replay trades, flushed first, and the last one equal to the finished journal."""
    from kitetui.cli import _database_reads
    from kitetui.config import load_config
    from kitetui.supervisor import Supervisor
    from tests.attacks.sigkill_corpus import light_config

    config = light_config(tmp_path)
    supervisor = Supervisor(load_config(config), str(config), database=tmp_path / "s.db")
    await asyncio.wait_for(supervisor.open(), 60)
    reads = _database_reads(supervisor)
    server = ControlServer(supervisor, socket_path_for(sock_dir / "s.db"), reads=reads)
    await asyncio.wait_for(server.start(), T)
    client = ControlClient(server.path, timeout=T)
    run = asyncio.create_task(supervisor.run())
    try:
        await asyncio.wait_for(client.connect(), T)
        totals = []
        while not run.done():
            page = await client.history("events", limit=5)
            assert page.run_id == supervisor.run_id
            totals.append(page.total)
            await asyncio.sleep(0.05)
        await asyncio.wait_for(run, 120)
        last = await client.history("events", limit=5)
        assert totals == sorted(totals) and last.total >= totals[-1]
        (count,) = _count(tmp_path / "s.db", supervisor.run_id)
        assert last.total == count
    finally:
        client.close()
        await asyncio.wait_for(server.stop(), T)
        if not run.done():
            run.cancel()
        await asyncio.wait_for(supervisor.close(), 30)


def _count(db: Path, run_id: str) -> tuple[int]:
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT count(*) FROM events WHERE run_id = ?", (run_id,)).fetchone()
