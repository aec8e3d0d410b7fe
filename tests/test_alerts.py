"""Alerts (kitetui/alerts.py): which events become alerts, and a hook that can never hurt
the desk: rate-limited, bounded in time, without Kite's credentials, failures said."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from kitetui import alerts
from kitetui.alerts import Alerter, terminal_sequences
from kitetui.config import AlertsConfig
from kitetui.domain import (
    Event,
    Exchange,
    Fill,
    Order,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    Side,
)
from kitetui.views import AlertView

TIMEOUT_S = 20.0


def order(purpose: OrderPurpose, tag: str = "T1") -> Order:
    return Order(
        tag=tag,
        engine="fno",
        symbol="NIFTY24JANFUT",
        exchange=Exchange.NFO,
        side=Side.BUY,
        quantity=50,
        order_type=OrderType.MARKET,
        product=Product.MIS,
        purpose=purpose,
        status=OrderStatus.COMPLETE,
        ts_ns=1,
    )


def fill(tag: str = "T1") -> Fill:
    return Fill(f"{tag}-1", tag, "NIFTY24JANFUT", Side.BUY, 50, 21_500.5, 7)


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


def test_alerts_from_events_fills_and_the_kill_switch() -> None:
    alerter = Alerter(AlertsConfig(), Recorder())
    alerter.on_event(Event(ts_ns=1, kind="PositionNaked", message="NIFTY naked", symbol="N"))
    alerter.on_event(Event(ts_ns=2, kind="BarSkipped", message="not an alert"))
    # the pull, journaled before its flatten waits on the exchange; the command's own
    # CommandExecuted after the flatten is no second alert
    alerter.on_event(Event(ts_ns=3, kind="KillSwitchPulled", message="KILL"))
    alerter.on_event(
        Event(
            ts_ns=3, kind="CommandExecuted", message="KILL", data={"command": "TriggerKillSwitch"}
        )
    )
    alerter.on_event(
        Event(ts_ns=4, kind="CommandExecuted", message="paused", data={"command": "PauseEntries"})
    )
    alerter.on_fill(order(OrderPurpose.ENTRY), fill())
    alerter.on_fill(order(OrderPurpose.STOP, "T2"), fill("T2"))  # StopFilled says it
    got = [(a.seq, a.kind, a.title, a.level) for a in alerter.recent]
    assert got == [
        (1, "PositionNaked", "Position NAKED", "ERROR"),
        (2, "KillSwitch", "Kill switch", "ERROR"),
        (3, "Filled", "Filled BUY NIFTY24JANFUT", "INFO"),
    ]
    assert "entry BUY 50 NIFTY24JANFUT @ 21,500.50 (T1)" in alerter.recent[-1].message


def test_alerts_with_kinds_listed_raise_only_those() -> None:
    alerter = Alerter(AlertsConfig(kinds=["StopRejected"]), Recorder())
    alerter.on_fill(order(OrderPurpose.ENTRY), fill())
    alerter.on_event(Event(ts_ns=1, kind="FeedStale", message="stale"))
    alerter.on_event(Event(ts_ns=2, kind="StopRejected", message="refused"))
    assert [a.kind for a in alerter.recent] == ["StopRejected"]


def test_alerts_config_refuses_unknown_kinds_and_a_shell_string() -> None:
    with pytest.raises(ValueError, match="Nope"):
        AlertsConfig(kinds=["Nope"])
    with pytest.raises(ValueError, match="list"):
        AlertsConfig(command="notify-send hello")


def test_terminal_sequences_ring_notify_and_cannot_be_broken_out_of() -> None:
    alert = AlertView(1, 1, "Filled", "Filled; x", "BUY\x07\x1b]0;pwned\x1b\\ 50", "INFO")
    text = terminal_sequences(alert, bell=True, desktop=True)
    assert text.startswith("\a\x1b]9;")
    # the bell, then our two OSC sequences each ended by a BEL; nothing of the message
    # can end one early or start another
    assert text.count("\x1b") == 2 and text.count("\x07") == 3
    assert "\x1b]777;notify;kitetui Filled x;BUY]0pwned\\ 50\x07" in text
    assert terminal_sequences(alert, bell=False, desktop=False) == ""


def hook(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "hook.py"
    script.write_text(body)
    return [sys.executable, str(script)]


async def test_hook_gets_the_alert_as_json_without_kite_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITE_API_SECRET", "s3cret")
    monkeypatch.setenv("ALERT_CHAT", "42")
    out = tmp_path / "out.jsonl"
    command = hook(
        tmp_path,
        "import json, os, sys\n"
        f"with open({str(out)!r}, 'a') as f:\n"
        "    alert = json.load(sys.stdin)\n"
        "    alert['env'] = sorted(k for k in os.environ if k.startswith(('KITE', 'ALERT')))\n"
        "    f.write(json.dumps(alert) + '\\n')\n",
    )
    record = Recorder()
    alerter = Alerter(AlertsConfig(command=command), record)
    alerter.start()
    alerter.on_event(Event(ts_ns=5, kind="StopRejected", message="SL-M refused", symbol="X"))
    await asyncio.wait_for(alerter.stop(), TIMEOUT_S)
    (line,) = out.read_text().splitlines()
    sent = json.loads(line)
    assert sent["kind"] == "StopRejected" and sent["message"] == "SL-M refused"
    assert sent["suppressed"] == 0 and sent["env"] == ["ALERT_CHAT"]
    assert record.events == []


async def test_hook_over_the_rate_is_suppressed_and_said(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    command = hook(
        tmp_path,
        f"import sys\nopen({str(out)!r}, 'a').write(sys.stdin.read() + '\\n')\n",
    )
    now = [0.0]
    record = Recorder()
    alerter = Alerter(AlertsConfig(command=command, max_per_minute=2), record, wall=lambda: now[0])
    alerter.start()
    for i in range(5):
        alerter.on_event(Event(ts_ns=i, kind="OrderRejected", message=f"r{i}"))
    now[0] = 61.0  # a minute later the hook may run again
    alerter.on_event(Event(ts_ns=9, kind="OrderRejected", message="later"))
    await asyncio.wait_for(alerter.stop(), TIMEOUT_S)
    sent = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(s["message"], s["suppressed"]) for s in sent] == [
        ("r0", 0),
        ("r1", 0),
        ("later", 3),
    ]
    assert len(alerter.recent) == 6  # every alert still reaches the screen
    (said,) = record.events
    assert said.kind == "AlertsSuppressed" and "3 alert(s)" in said.message


async def test_a_stop_that_cuts_the_backlog_short_says_how_many_were_not_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stopping desk gave the hook's whole backlog one run's timeout and dropped the
    rest without a word: on a loaded machine 13 of a replay's 59 fill alerts."""
    monkeypatch.setattr(alerts, "STOP_DRAIN_S", 0.1)  # so one run's timeout + 1 s rules
    out = tmp_path / "out.txt"
    command = ["/bin/sh", "-c", f"sleep 0.3; cat >> {out}; echo >> {out}"]
    record = Recorder()
    alerter = Alerter(AlertsConfig(command=command, timeout_s=0.4), record)
    alerter.start()
    for i in range(8):
        alerter.on_event(Event(ts_ns=i, kind="OrderRejected", message=f"r{i}"))
    await asyncio.wait_for(alerter.stop(), TIMEOUT_S)
    sent = out.read_text().splitlines() if out.exists() else []
    (said,) = record.events
    assert said.kind == "AlertsSuppressed"
    unsent = int(said.message.split(" ")[0])
    assert unsent > 0 and len(sent) + unsent == 8, (said.message, sent)
    assert "after 1.4 s" in said.message


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("import time\ntime.sleep(30)\n", "ran over 0.5 s and was killed"),
        ("import sys\nsys.exit(3)\n", "exited 3"),
        (None, "could not start"),
    ],
    ids=["slow", "fails", "missing"],
)
async def test_hook_that_fails_is_an_event_and_the_desk_goes_on(
    tmp_path: Path, body: str | None, says: str
) -> None:
    command = hook(tmp_path, body) if body else [str(tmp_path / "no-such-hook")]
    record = Recorder()
    alerter = Alerter(AlertsConfig(command=command, timeout_s=0.5), record)
    alerter.start()
    alerter.on_event(Event(ts_ns=1, kind="FeedStale", message="no ticks for 30 s"))
    await asyncio.wait_for(alerter.stop(), TIMEOUT_S)
    (failed,) = record.events
    assert failed.kind == "AlertHookFailed" and says in failed.message
    assert "'Feed stale'" in failed.message


def test_replay_with_a_hook_sends_every_fill_and_alert_from_kitetui_run(tmp_path: Path) -> None:
    """End to end from the command: the desk's alerts reach the hook as JSON lines."""
    import sqlite3
    import subprocess

    import yaml

    from tests.attacks.sigkill_corpus import light_config

    out = tmp_path / "alerts.jsonl"
    config = light_config(tmp_path)
    data = yaml.safe_load(config.read_text())
    data["alerts"] = {  # a shell hook: a Python one per alert took seconds on a loaded machine
        "command": ["/bin/sh", "-c", f"cat >> {out}; echo >> {out}"],
        "max_per_minute": 600,
    }
    config.write_text(yaml.safe_dump(data))
    db = tmp_path / "state.db"
    proc = subprocess.run(
        [sys.executable, "-m", "kitetui", "run", "--config", str(config), "--no-ui",
         "--db", str(db)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    sent = [json.loads(line) for line in out.read_text().splitlines()]
    with sqlite3.connect(db) as conn:
        (fills,) = conn.execute(
            "SELECT COUNT(*) FROM fills JOIN orders USING (tag) WHERE orders.purpose != 'STOP'"
        ).fetchone()
        (stops,) = conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'StopFilled'").fetchone()
    assert fills > 0 and stops > 0
    kinds = [s["kind"] for s in sent]
    assert kinds.count("Filled") == fills and kinds.count("StopFilled") == stops
    assert all(s["suppressed"] == 0 for s in sent)
    assert {(s["mode"], len(s["run_id"])) for s in sent} == {("replay", 22)}  # whose alert


def test_a_backtest_never_runs_the_hook_and_says_so(tmp_path: Path) -> None:
    """The probe's F6: a backtest and every sweep point ran the live hook, so a trader
    sweeping a copy of the live config got simulated fills on the phone for real ones."""
    import sqlite3
    import subprocess

    import yaml

    from tests.attacks.sigkill_corpus import light_config

    out = tmp_path / "alerts.jsonl"
    config = light_config(tmp_path)
    data = yaml.safe_load(config.read_text())
    data["alerts"] = {
        "command": hook(tmp_path, f"open({str(out)!r}, 'a').write('ran\\n')\n"),
        "max_per_minute": 600,
    }
    config.write_text(yaml.safe_dump(data))
    db = tmp_path / "bt.db"
    proc = subprocess.run(
        [sys.executable, "-m", "kitetui", "backtest", "--config", str(config),
         "--db", str(db), "--out", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not out.exists()
    with sqlite3.connect(db) as conn:
        (fills,) = conn.execute("SELECT COUNT(*) FROM fills").fetchone()
        said = conn.execute("SELECT message FROM events WHERE kind = 'AlertHookOff'").fetchall()
    assert fills > 0
    assert len(said) == 1 and "not run by a backtest or a sweep" in said[0][0]
