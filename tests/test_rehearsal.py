"""The dress rehearsal: kitetui in live and paper mode against `kitetui sim-exchange`.

Everything runs as a user would run it — separate processes, the real kiteconnect
client and KiteTicker, a login through the exchange — on 127.0.0.1 only. The exchange's
order book and kitetui's journal must agree, and faults must be survived the way the
rules say (a placement that times out is placed exactly once).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_kitetui

from kitetui.clock import IST
from kitetui.kite.session import TOKEN_EXPIRY_HOUR_IST

REPO = Path(__file__).resolve().parents[1]
SECRET = "rehearsal-secret"


class Exchange:
    def __init__(self, tmp: Path, *args: str) -> None:
        self.log = tmp / "sim.log"
        env = {**os.environ, "KITETUI_SIM_API_SECRET": SECRET}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kitetui",
                    "sim-exchange",
                    "--port",
                    "0",
                    "--ws-port",
                    "0",
                    "--no-rate-limits",
                    *args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(
                r"REST (http://127\.0\.0\.1:\d+)\s+WS (ws://127\.0\.0\.1:\d+)", self.log.read_text()
            )
            if found:
                self.rest, self.ws = found.groups()
                return
            assert self.proc.poll() is None, self.log.read_text()
            time.sleep(0.1)
        self.stop()
        pytest.fail("the exchange did not start")

    def request_token(self) -> str:
        with urllib.request.urlopen(f"{self.rest}/connect/login?api_key=kitetui_demo") as r:
            return json.load(r)["data"]["request_token"]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def exchange(tmp_path: Path, request: pytest.FixtureRequest):
    args = getattr(request, "param", ())
    # The exchange's 600x day (37.5 s) starts when the desk connects its ticker: a desk
    # slow to start on a loaded machine still finds the session from its open.
    sim = Exchange(tmp_path, "--speed", "600", "--start-on-connect", *args)
    yield sim
    sim.stop()


#: The longest a rehearsal takes on a loaded machine: a token obtained closer than this
#: to 06:00 IST expires mid-test (Kite's daily expiry, which the desk rightly obeys).
REHEARSAL_S = 180


def _after_the_daily_expiry_if_near() -> None:
    """Wait out 06:00 IST when it falls within a rehearsal's time (a run at 05:59 IST
    failed: its token expired under the restarted desk, exit 5)."""
    now = datetime.now(IST)
    expiry = now.replace(hour=TOKEN_EXPIRY_HOUR_IST, minute=0, second=0, microsecond=0)
    if expiry <= now:
        expiry += timedelta(days=1)
    left = (expiry - now).total_seconds()
    if left < REHEARSAL_S:
        time.sleep(left + 2)


def _login(tmp: Path, sim: Exchange) -> tuple[Path, Path]:
    _after_the_daily_expiry_if_near()
    credentials = tmp / "credentials.json"
    credentials.write_text(json.dumps({"api_key": "kitetui_demo", "api_secret": SECRET}))
    credentials.chmod(0o600)
    token = tmp / "token.json"
    proc = run_kitetui(
        "login",
        "--root",
        sim.rest,
        "--credentials",
        str(credentials),
        "--token",
        str(token),
        input=sim.request_token() + "\n",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (token.stat().st_mode & 0o777) == 0o600
    assert SECRET not in proc.stdout + proc.stderr
    return credentials, token


def _config(tmp: Path, sim: Exchange, mode: str) -> Path:
    data = yaml.safe_load((REPO / "configs" / "rehearsal.yaml").read_text())
    credentials, token = _login(tmp, sim)
    data["mode"] = mode
    data["database"] = str(tmp / f"{mode}.db")
    data["kite"].update(
        root=sim.rest,
        ws_root=sim.ws,
        credentials_file=str(credentials),
        token_file=str(token),
        record_dir=str(tmp / "recordings"),
        reconcile_interval_s=1,
    )
    data["engines"] = [e for e in data["engines"] if e["name"] == "fno"]
    path = tmp / f"{mode}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM, as a person stops a desk; killed if it has not stopped in 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _run_until(config: Path, db: Path, orders: int, *extra: str, timeout: float = 90) -> str:
    log = config.with_suffix(".log")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kitetui",
                "run",
                "--config",
                str(config),
                "--no-ui",
                "--log-level",
                "INFO",
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                    try:
                        done = conn.execute(
                            "SELECT count(*) FROM orders WHERE status IN "
                            "('COMPLETE','CANCELLED','REJECTED')"
                        ).fetchone()[0]
                    except sqlite3.OperationalError:
                        done = 0
                if done >= orders:
                    break
            time.sleep(0.25)
        time.sleep(2)  # let the last order updates and a reconcile pass land
    finally:
        _stop(proc)
    text = log.read_text()
    assert proc.returncode == 0, text[-3000:]
    return text


def _books_agree(journal: list[tuple], book: list[tuple]) -> None:
    """The journal's orders are the exchange's, tag for tag, each once; a finished one
    alike in every field. One left working when the desk stopped (on_stop: leave) may
    have moved on since at the exchange, whose market goes on at 600x without the desk
    (a stop journaled TRIGGER PENDING was COMPLETE there in a loaded whole-suite run),
    never backwards."""
    there = {row[0]: row for row in book}
    assert len(there) == len(book), "a tag reached the exchange twice"
    assert sorted(there) == [row[0] for row in journal]
    for row in journal:
        if row[4] in ("COMPLETE", "CANCELLED", "REJECTED"):
            assert there[row[0]] == row
        else:
            assert there[row[0]] == row or there[row[0]][4] in ("COMPLETE", "CANCELLED"), (
                row,
                there[row[0]],
            )


def _exchange_orders(sim: Exchange, token_file: Path) -> list[tuple]:
    from kiteconnect import KiteConnect

    token = json.loads(token_file.read_text())
    access = token.get("access_token") or token.get("value")
    client = KiteConnect("kitetui_demo", access_token=access, root=sim.rest)
    return sorted(
        (
            o["tag"],
            o["tradingsymbol"],
            o["transaction_type"],
            o["quantity"],
            o["status"],
            o["filled_quantity"],
            float(o["average_price"]),
        )
        for o in client.orders()
        if o["status"] in ("COMPLETE", "CANCELLED", "REJECTED", "OPEN", "TRIGGER PENDING")
    )


def _journal_orders(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return sorted(
            (tag, symbol, side, qty, status, filled, float(avg))
            for tag, symbol, side, qty, status, filled, avg in conn.execute(
                "SELECT tag, symbol, side, quantity, status, filled_qty, avg_price FROM orders"
            )
        )


def test_live_rehearsal_with_local_exchange_books_agree(tmp_path: Path, exchange) -> None:
    config = _config(tmp_path, exchange, "live")
    db = tmp_path / "live.db"
    log = _run_until(config, db, 4, "--live")
    assert "kind=FeedConnected" in log
    journal = _journal_orders(db)
    assert len(journal) >= 4
    token_file = Path(yaml.safe_load(config.read_text())["kite"]["token_file"])
    _books_agree(journal, _exchange_orders(exchange, token_file))
    with sqlite3.connect(db) as conn:
        drift = conn.execute("SELECT count(*) FROM events WHERE kind='ReconcileDrift'")
        assert drift.fetchone()[0] == 0
        # At the stop, the day's journaled charges were held against the exchange's
        # virtual contract note (POST /charges/orders) and agreed figure by figure.
        checked = conn.execute(
            "SELECT message FROM events WHERE kind LIKE 'ContractNote%' OR "
            "kind = 'ChargesMismatched'"
        ).fetchall()
        charged = conn.execute("SELECT count(*) FROM fills WHERE charges_paise > 0").fetchone()
    assert charged[0] >= 1
    assert len(checked) == 1 and checked[0][0].endswith(": 0 difference(s)"), checked
    assert (
        SECRET not in log and json.loads(token_file.read_text()).get("access_token", "x") not in log
    )


def test_live_mode_without_live_flag_refuses_to_start(tmp_path: Path, exchange) -> None:
    config = _config(tmp_path, exchange, "live")
    proc = subprocess.run(
        [sys.executable, "-m", "kitetui", "run", "--config", str(config), "--no-ui"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--live" in proc.stderr


def test_paper_session_on_kite_ticks_records_and_replays_the_same(tmp_path: Path, exchange):
    config = _config(tmp_path, exchange, "paper")
    db = tmp_path / "paper.db"
    _run_until(config, db, 4)
    with sqlite3.connect(db) as conn:
        (run_id,) = conn.execute("SELECT run_id FROM runs").fetchone()
    recording = tmp_path / "recordings" / f"{run_id}.ticks.gz"
    assert recording.exists()
    replay_db = tmp_path / "replay.db"
    proc = run_kitetui(
        "replay", str(recording), "--config", str(config), "--db", str(replay_db), timeout=120
    )
    assert proc.returncode == 0, proc.stderr

    def ledger(path: Path) -> tuple[list, list]:
        # Each order as placed (its first event): an order row holds its latest state,
        # and the session stopped at some moment while the replay ran on (a stop it left
        # working became the square-off's close in place, with that time and purpose).
        with sqlite3.connect(path) as conn:
            orders = conn.execute(
                "SELECT e.ts_ns, o.symbol, o.side, e.status FROM order_events e "
                "JOIN orders o USING (tag) "
                "WHERE e.id IN (SELECT min(id) FROM order_events GROUP BY tag) ORDER BY 1, 2, 3"
            ).fetchall()
            fills = conn.execute(
                "SELECT ts_ns, symbol, side, quantity, price FROM fills ORDER BY 1, 2"
            ).fetchall()
        return orders, fills

    session, replayed = ledger(db), ledger(replay_db)
    assert session[1], "the paper session must have traded"
    # the session was stopped mid-batch-stream: compare what both processed
    assert replayed[1][: len(session[1])] == session[1]
    assert replayed[0][: len(session[0])] == session[0]


@pytest.mark.parametrize("exchange", [("--fault", "place_order:timeout:1")], indirect=True)
def test_live_placement_that_times_out_is_placed_exactly_once(tmp_path: Path, exchange):
    config = _config(tmp_path, exchange, "live")
    data = yaml.safe_load(config.read_text())
    data["kite"]["timeout_s"] = 2
    config.write_text(yaml.safe_dump(data))
    db = tmp_path / "live.db"
    _run_until(config, db, 3, "--live")
    token_file = Path(data["kite"]["token_file"])
    book = _exchange_orders(exchange, token_file)
    tags = [row[0] for row in book]
    assert len(tags) == len(set(tags)), "a tag reached the exchange twice"
    journal = _journal_orders(db)
    assert len(journal) >= 3
    _books_agree(journal, book)  # the timed-out order is in both, once


@pytest.mark.parametrize("exchange", [("--fault", "place_order:token:1")], indirect=True)
def test_live_token_expiry_mid_session_halts_sending_and_asks_for_login(
    tmp_path: Path, exchange
) -> None:
    config = _config(tmp_path, exchange, "live")
    db = tmp_path / "live.db"
    log = _run_until(config, db, 1, "--live")
    assert "kind=LoginRequired" in log
    with sqlite3.connect(db) as conn:
        rejected = conn.execute(
            "SELECT count(*) FROM orders WHERE status='REJECTED' AND reason LIKE '%kitetui login%'"
        ).fetchone()[0]
    assert rejected >= 1
    # nothing reached the exchange after the token died
    token_file = Path(yaml.safe_load(config.read_text())["kite"]["token_file"])
    from kiteconnect.exceptions import TokenException

    with pytest.raises(TokenException):
        _exchange_orders(exchange, token_file)


def test_live_run_without_a_token_exits_5_with_how_to_log_in(tmp_path: Path, exchange):
    config = _config(tmp_path, exchange, "live")
    data = yaml.safe_load(config.read_text())
    data["kite"]["token_file"] = str(tmp_path / "missing-token.json")
    config.write_text(yaml.safe_dump(data))
    proc = subprocess.run(
        [sys.executable, "-m", "kitetui", "run", "--config", str(config), "--no-ui", "--live"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 5, proc.stderr
    assert "kitetui login" in proc.stderr


def _sim_post(sim: Exchange, route: str, payload: dict, timeout: float = 10) -> None:
    """POST to one of the exchange's own ``/_sim`` routes; it must succeed."""
    request = urllib.request.Request(
        f"{sim.rest}/_sim/{route}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        assert json.load(answer)["status"] == "success"


def _post_fault(sim: Exchange, spec: str) -> None:
    _sim_post(sim, "faults", {"spec": spec})


def _clear_faults(sim: Exchange) -> None:
    request = urllib.request.Request(f"{sim.rest}/_sim/faults", method="DELETE")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.load(answer)["status"] == "success"


def _open_position(db: Path) -> bool:
    if not db.exists():
        return False
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        try:
            rows = conn.execute("SELECT side, quantity FROM fills").fetchall()
        except sqlite3.OperationalError:
            return False
    return sum(q if side == "BUY" else -q for side, q in rows) != 0


@pytest.mark.parametrize("exchange", [("--speed", "manual")], indirect=True)
def test_live_rehearsal_with_rest_and_ticker_faults_ends_flat(tmp_path: Path, exchange) -> None:
    """Faults on the exit path while a position is open — every modification and
    placement refused with 429 for a while, order-book reads failing, the ticker dropped —
    and the desk still ends flat at the exchange, each fault in the journal and the log.

    The market moves only when the test moves it: at 600x a loaded machine let the
    position's stop fill at the exchange before the kill switch, and no fault was met."""
    config = _config(tmp_path, exchange, "live")
    data = yaml.safe_load(config.read_text())
    data["on_stop"] = "square_off"
    config.write_text(yaml.safe_dump(data))
    db = tmp_path / "live.db"
    log = config.with_suffix(".log")
    proc = _desk(config, log)
    try:
        _until_protected(exchange, db, proc, log)
        for spec in ("modify_order:429:6", "place_order:429:3", "orders:503:4", "ticker:drop:1"):
            _post_fault(exchange, spec)
        flatten = subprocess.run(
            [sys.executable, "-m", "kitetui", "ctl", "--db", str(db), "kill", "rehearsal"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert flatten.returncode == 0, flatten.stderr
        # the stop is turned into the close through the refusals, retried under backoff,
        # while the market goes on half a minute at a time
        deadline = time.monotonic() + 60
        while _open_position(db) and time.monotonic() < deadline:
            _advance(exchange, 30)
            time.sleep(0.5)
        time.sleep(2)  # the last updates and a reconcile pass
    finally:
        _stop(proc)
    text = log.read_text()
    assert proc.returncode == 0, text[-3000:]
    assert not _open_position(db), "the journal is not flat"
    # Faults the desk did not use up (it stopped first) are cleared: the checks below read
    # the exchange's book, and a fault meant for the desk must not fail them.
    _clear_faults(exchange)
    from kiteconnect import KiteConnect

    token = json.loads(Path(data["kite"]["token_file"]).read_text())
    client = KiteConnect(
        "kitetui_demo", access_token=token.get("access_token") or token.get("value"),
        root=exchange.rest,
    )  # fmt: skip
    assert all(p["quantity"] == 0 for p in client.positions()["net"]), client.positions()
    tags = [o["tag"] for o in client.orders()]
    assert len(tags) == len(set(tags)), "a tag reached the exchange twice"
    with sqlite3.connect(db) as conn:
        kinds = {k for (k,) in conn.execute("SELECT kind FROM events")}
    # each fault left its mark: the refused modification and placements, the failed
    # reads, the dropped ticker
    assert "ExitRetryScheduled" in kinds or "OrderNotAccepted" in kinds, kinds
    assert "kind=ExitRetryScheduled" in text or "kind=OrderNotAccepted" in text
    assert kinds & {"FeedDisconnected", "FeedReconnecting", "FeedStale"}, kinds


def _desk(config: Path, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "kitetui", "run", "--config", str(config), "--no-ui",
             "--log-level", "INFO", "--live"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return []


def _advance(sim: Exchange, seconds: int) -> None:
    _sim_post(sim, "market/advance", {"seconds": seconds}, timeout=30)


_STOP_WORKING = "SELECT count(*) FROM orders WHERE purpose = 'STOP' AND status = 'TRIGGER PENDING'"


def _until_protected(sim: Exchange, db: Path, proc: subprocess.Popen, log: Path) -> None:
    """Move the manual market on until the desk holds a position with its stop working:
    five minutes of market a step until the first order (the strategy's warm-up took 100
    of the 144 half-minute steps), then half a minute a step, so that a position is
    caught with its stop working."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        _open_position(db) and _rows(db, _STOP_WORKING)[0][0]
    ):
        assert proc.poll() is None, log.read_text()[-3000:]
        ordered = db.exists() and (_rows(db, "SELECT count(*) FROM orders") or [(0,)])[0][0]
        _advance(sim, 30 if ordered else 300)
        time.sleep(0.3)
    assert _open_position(db), "the rehearsal never opened a position"
    assert _rows(db, _STOP_WORKING)[0][0], "its stop never worked"


@pytest.mark.parametrize("exchange", [("--speed", "manual")], indirect=True)
def test_a_live_desk_killed_and_restarted_rebuilds_before_any_tick(tmp_path, exchange) -> None:
    """A live desk killed outright, restarted while no tick comes (a night, a quiet
    feed): it rebuilds its fills, orders and cover at once, says so in the journal, and
    journals a person's command, not only from the first tick (the probe's restart sat
    "warming up" until then, its P&L zero, its kill switch unjournaled, and an order
    update in that window cancelled a working stop as "position flat")."""
    config = _config(tmp_path, exchange, "live")
    db = tmp_path / "live.db"
    log = config.with_suffix(".log")
    proc = _desk(config, log)
    try:
        _until_protected(exchange, db, proc, log)
    finally:
        proc.kill()
        proc.wait(30)
    fills = _rows(db, "SELECT count(*), coalesce(sum(charges_paise), 0) FROM fills")[0]
    last_event = _rows(db, "SELECT coalesce(max(id), 0) FROM order_events")[0][0]
    proc = _desk(config, log)  # the market stands still: not one tick comes
    try:
        deadline = time.monotonic() + 60
        rebuilt: list[tuple] = []
        while not rebuilt and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            rebuilt = _rows(db, "SELECT data FROM events WHERE kind = 'StateRebuilt'")
            time.sleep(0.2)
        assert rebuilt, "no StateRebuilt while no tick came: " + log.read_text()[-2000:]
        (data,) = rebuilt[-1]
        assert json.loads(data)["charges_paise"] == fills[1]
        assert json.loads(data)["positions"], "the open position was not rebuilt"
        assert _rows(db, "SELECT count(*) FROM events WHERE kind = 'RunResumed'")[0][0] == 1
        pause = subprocess.run(
            [sys.executable, "-m", "kitetui", "ctl", "--db", str(db), "pause"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert pause.returncode == 0, pause.stderr
        journaled = "SELECT count(*) FROM events WHERE kind = 'CommandExecuted'"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _rows(db, journaled)[0][0]:
            time.sleep(0.2)
        assert _rows(db, journaled)[0][0], "the command was not journaled"
        time.sleep(2.5)  # reconcile passes over the rebuilt book
    finally:
        _stop(proc)
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert _rows(db, "SELECT count(*) FROM fills")[0][0] == fills[0]  # no tick, no fill
    cancelled = _rows(
        db,
        f"SELECT tag, reason FROM order_events WHERE id > {last_event} AND status = 'CANCELLED'",
    )
    assert cancelled == [], f"the restart cancelled {cancelled}"
