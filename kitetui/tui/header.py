"""What the header says, laid out to fit the terminal's width, without a screen.

The header is the trader's glance: mode, wall clock, data clock and market session,
feed health, engines, the day's P&L (net of charges, with gross beside it) and the risk
state. ``header_model`` reduces a snapshot
to plain values once per snapshot; ``header_segments`` lays them out for a width and a
wall-clock instant (the wall clock and the age of the last tick move even when the
desk is idle, so they are computed at paint time, never stored in the snapshot).

When the line does not fit, segments first switch to their short form, then the least
important ones drop: the mode, the P&L and the risk state always stay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kitetui.tui.cells import DASH, STATE_TONES, ist_datetime, money, tone_of
from kitetui.views import DeskSnapshot, RiskView

SEPARATOR = " │ "

_FEED_TONES = {
    "RUNNING": "up",
    "CONNECTED": "up",
    "FINISHED": "",
    "STARTING": "warn",
    "CONNECTING": "warn",
    "STALE": "down",
    "RECONNECTING": "down",
    "ERROR": "down",
    "STOPPED": "warn",
}
_SESSION_TONES = {"OPEN": "up", "PRE_OPEN": "warn", "POST_CLOSE": "warn", "CLOSED": ""}
#: After this long without a new snapshot from a desk that says it is running, say so.
DESK_SILENT_S = 5.0


@dataclass(frozen=True, slots=True)
class HeaderModel:
    """Everything the header shows, reduced from one snapshot."""

    mode: str
    live: bool
    data_ts_ns: int
    session: str
    feed_state: str
    items_per_s: float
    last_item_wall_ns: int
    reconnects: int
    speed: str
    engines_running: int
    engines_total: int
    pnl: float  # the day's, net of charges
    risk: str
    alarms: tuple[str, ...]
    published_wall_ns: int = 0
    gross: float = 0.0  # the day's, before charges


STARTING_HEADER = HeaderModel(
    mode="",
    live=False,
    data_ts_ns=0,
    session="",
    feed_state="STARTING",
    items_per_s=0.0,
    last_item_wall_ns=0,
    reconnects=0,
    speed="",
    engines_running=0,
    engines_total=0,
    pnl=0.0,
    risk="",
    alarms=(),
)


def header_model(snapshot: DeskSnapshot) -> HeaderModel:
    risk = snapshot.risk
    feed = snapshot.feed
    feed_state = feed.state if feed.state != "STARTING" else snapshot.feed_state
    return HeaderModel(
        mode=snapshot.mode.upper(),
        live=snapshot.mode.upper() == "LIVE",
        data_ts_ns=snapshot.data_ts_ns,
        session=feed.session,
        feed_state=feed_state,
        items_per_s=feed.items_per_s,
        last_item_wall_ns=feed.last_item_wall_ns,
        reconnects=feed.reconnects,
        speed=snapshot.speed if snapshot.mode == "replay" else "",
        engines_running=sum(e.state.upper() in ("RUNNING", "PAUSED") for e in snapshot.engines),
        engines_total=len(snapshot.engines),
        pnl=risk.day_pnl,
        gross=risk.day_gross_pnl,
        risk=risk.state.upper(),
        alarms=_alarms(snapshot, feed_state),
        published_wall_ns=snapshot.published_wall_ns,
    )


def _alarms(snapshot: DeskSnapshot, feed_state: str) -> tuple[str, ...]:
    """The banner's alarms, in the order the trader must read them: an open position
    without its stop first (money at risk now), then what stops new orders."""
    risk, feed = snapshot.risk, snapshot.feed
    alarms = ["NAKED: " + ", ".join(symbol for symbol, _ in risk.naked)] if risk.naked else []
    alarms.extend(_trading_state_alarms(risk))
    if feed_state in ("STALE", "RECONNECTING"):
        alarms.append(f"FEED {feed_state}: entries blocked")
    errors = [e.name for e in snapshot.engines if e.state.upper() == "ERROR"]
    if errors:
        alarms.append(f"ENGINE ERROR: {', '.join(errors)}")
    idle: dict[str, list[str]] = {}
    for engine in snapshot.engines:
        if engine.shown_state != engine.state:
            idle.setdefault(engine.idle, []).append(engine.name)
    alarms.extend(f"{word}: {', '.join(names)}" for word, names in idle.items())
    if risk.reconcile_failures >= 3:
        alarms.append(f"RECONCILE FAILING ({risk.reconcile_failures} passes)")
    if feed.dropped_batches:
        alarms.append(f"TICKS DROPPED: {feed.dropped_batches} batches")
    alarms.extend(
        reason
        for name, reason, _ in risk.blocks
        if name.startswith(("placement_unknown", "login_required"))
    )
    return tuple(alarms)


def _trading_state_alarms(risk: RiskView) -> list[str]:
    """Halted, kill switch, entries paused: what stops new orders, first."""
    alarms: list[str] = []
    if risk.state.upper() == "HALTED":  # the whole reason is on the Risk tab
        reason = _clipped(risk.halt_reason, HALT_REASON_SHOWN)
        alarms.append(f"HALTED: {reason}" if reason else "HALTED")
    if risk.kill_switch:
        alarms.append("KILL SWITCH")
    if risk.entries_paused:
        alarms.append("ENTRIES PAUSED")
    return alarms


def rate_text(per_second: float) -> str:
    """``950/s``, ``12.3k/s``, ``1.2M/s``: short enough for an 80-column header."""
    if per_second >= 1_000_000:
        return f"{per_second / 1_000_000:.1f}M/s"
    if per_second >= 10_000:
        return f"{per_second / 1000:.0f}k/s"
    if per_second >= 1000:
        return f"{per_second / 1000:.1f}k/s"
    return f"{per_second:.0f}/s"


def age_text(seconds: float) -> str:
    """How long ago, at a precision a person reads: 0.3s, 12s, 4m, 2h."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of the header line: text and a tone (up/down/warn/mode/live/"")."""

    text: str
    tone: str = ""


def _wall(now_ns: int, short: bool) -> str:
    return ist_datetime(now_ns).strftime("%H:%M" if short else "%H:%M:%S IST")


def _data_clock(ts_ns: int, short: bool) -> str:
    if ts_ns <= 0:
        return f"data {DASH}"
    moment = ist_datetime(ts_ns)
    return moment.strftime("%H:%M:%S") if short else moment.strftime("data %Y-%m-%d %H:%M:%S")


def _feed(model: HeaderModel, now_ns: int, short: bool) -> str:
    parts = [] if short else [model.feed_state]
    if model.feed_state not in ("FINISHED", "STOPPED", "STARTING"):
        parts.append(rate_text(model.items_per_s))
        if model.last_item_wall_ns > 0:
            parts.append(age_text((now_ns - model.last_item_wall_ns) / 1e9))
    elif short:
        parts.append(model.feed_state)
    if model.reconnects and not short:
        parts.append(f"rc {model.reconnects}")
    if model.speed and not short:
        parts.append(model.speed)
    return " ".join(parts)


def header_segments(model: HeaderModel, now_ns: int, width: int, title: str) -> list[Segment]:
    """The header line for ``width`` columns at wall time ``now_ns``."""
    if not model.mode:
        return [Segment(title, "title"), Segment("starting…", "")]
    feed_tone = _FEED_TONES.get(model.feed_state, "")
    engines_tone = "" if model.engines_running == model.engines_total else "warn"
    full = {
        "title": Segment(title, "title"),
        "mode": Segment(model.mode, "live" if model.live else "mode"),
        "wall": Segment(_wall(now_ns, False)),
        "data": Segment(_data_clock(model.data_ts_ns, False)),
        "session": Segment(model.session, _SESSION_TONES.get(model.session, "")),
        "feed": Segment(_feed(model, now_ns, False), feed_tone),
        "engines": Segment(f"eng {model.engines_running}/{model.engines_total}", engines_tone),
        "pnl": Segment(f"net {money(model.pnl)} gross {money(model.gross)}", tone_of(model.pnl)),
        "risk": Segment(model.risk, STATE_TONES.get(model.risk, "")),
    }
    medium = {"pnl": Segment(f"net {money(model.pnl)}", tone_of(model.pnl))}
    short = {
        "engines": Segment(f"{model.engines_running}/{model.engines_total}", engines_tone),
        "feed": Segment(_feed(model, now_ns, True), feed_tone),
        "data": Segment(_data_clock(model.data_ts_ns, True)),
        "pnl": Segment(money(model.pnl), tone_of(model.pnl)),
    }
    shown = {key: segment for key, segment in full.items() if segment.text}
    for step, key in _DEGRADE:
        if _width(shown.values()) <= width:
            break
        if key not in shown:
            continue
        if step == "short":
            shown[key] = short[key]
        elif step == "medium":
            shown[key] = medium[key]
        else:
            del shown[key]
    return [shown[key] for key in full if key in shown]


#: How the header gives way as the terminal narrows: mode, net P&L and risk always stay;
#: the gross beside the net goes once the wall clock has.
_DEGRADE = (
    ("drop", "title"),
    ("short", "engines"),
    ("short", "feed"),
    ("drop", "wall"),
    ("medium", "pnl"),
    ("short", "data"),
    ("drop", "engines"),
    ("drop", "session"),
    ("short", "pnl"),
    ("drop", "feed"),
    ("drop", "data"),
)


def _width(segments: Iterable[Segment]) -> int:
    segments = list(segments)
    return sum(len(s.text) for s in segments) + len(SEPARATOR) * max(0, len(segments) - 1)


HALT_REASON_SHOWN = 48  # characters of a halt's free-text reason on the banner
BANNER_SEPARATOR = "  │  "


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit_banner(lines: Sequence[str], width: int) -> str:
    """The alarms joined on one line of ``width``: those that fit whole, then how many
    more there are (``+2 more``), so a cut line never hides that an alarm exists."""
    joined = BANNER_SEPARATOR.join(lines)
    if len(joined) <= width:
        return joined
    for kept in range(len(lines) - 1, 0, -1):
        more = f"{BANNER_SEPARATOR}+{len(lines) - kept} more"
        text = BANNER_SEPARATOR.join(lines[:kept])
        if len(text) + len(more) <= width:
            return text + more
    more = f" +{len(lines) - 1} more" if len(lines) > 1 else ""
    return _clipped(lines[0], max(1, width - len(more))) + more


def banner_lines(model: HeaderModel, now_ns: int, link_problem: str | None) -> tuple[str, ...]:
    """Alarms for the line under the header; the link's own trouble comes first."""
    lines: list[str] = []
    if link_problem:
        lines.append(link_problem)
    elif (
        model.published_wall_ns > 0
        and model.feed_state in ("RUNNING", "STALE", "RECONNECTING")
        and (silent := (now_ns - model.published_wall_ns) / 1e9) > DESK_SILENT_S
    ):
        lines.append(f"NO UPDATE FROM THE DESK FOR {age_text(silent)}")
    lines.extend(model.alarms)
    return tuple(lines)
