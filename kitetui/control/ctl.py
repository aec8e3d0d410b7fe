"""``kitetui ctl``: one request to a running desk from the command line.

Its words and their arguments are the protocol's (``REQUESTS`` in
``kitetui/control/protocol.py``, itself derived from ``kitetui.commands``), so a new
command needs nothing here. Exit codes: 0 done, 1 the desk refused (or has no such
order), 2 usage, 3 cannot connect.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kitetui.clock import format_ist
from kitetui.control.client import ControlClient, ControlError
from kitetui.control.protocol import (
    REQUESTS,
    order_detail_from_json,
    snapshot_from_json,
    socket_path_for,
)
from kitetui.shown import escaped
from kitetui.views import DeskSnapshot, OrderDetail

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

#: The words ``kitetui ctl`` offers: every request but the streaming ``watch``.
CTL_COMMANDS = tuple(name for name, kind in REQUESTS.items() if kind.ctl)


def _argument_help() -> str:
    """``tag (order, cancel), engine (start, stop, …) or reason (kill)``, from the words."""
    uses: dict[str, list[str]] = {}
    for name in CTL_COMMANDS:
        if REQUESTS[name].argument:
            uses.setdefault(REQUESTS[name].argument, []).append(name)
    parts = [f"{argument} ({', '.join(names)})" for argument, names in uses.items()]
    return ", ".join(parts[:-1]) + (" or " if len(parts) > 1 else "") + parts[-1]


def build_ctl_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kitetui ctl", description="Talk to a running desk over its control socket."
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--socket", help="control socket path")
    where.add_argument(
        "--db", help="the desk's database; the socket is beside it (default: state.db)"
    )
    parser.add_argument("--json", action="store_true", help="print the raw JSON reply")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds to wait (default 5; 30 for commands that reach the exchange)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="cancel: a protective stop too (the desk still refuses the stop of an open "
        "position: move it or flatten)",
    )
    parser.add_argument("command", choices=CTL_COMMANDS)
    parser.add_argument("arg", nargs="*", help=_argument_help())
    return parser


def ctl_request(command: str, arg: str | Sequence[str] | None) -> dict[str, Any] | str:
    """The request's arguments for ``kitetui ctl COMMAND [ARG…]``, or what is wrong (a
    command that takes words, ``set-limit`` say, joins them; the others take one)."""
    kind = REQUESTS[command]
    if arg is not None and not isinstance(arg, str):
        if len(arg) > 1 and not kind.words:
            return f"{command} takes one {kind.argument or 'argument'}, not {len(arg)}"
        arg = " ".join(arg) or None
    if kind.required and not arg:
        return f"{command} needs a {kind.argument}"
    if not kind.argument and arg:
        return f"{command} takes no argument"
    return {kind.argument: arg} if arg else {}


def run_ctl(argv: Sequence[str] | None = None) -> int:
    """``kitetui ctl``: 0 done, 1 the desk refused (or has no such order), 2 usage, 3 cannot
    connect."""
    parser = build_ctl_parser()
    try:
        # Intermixed: `ctl cancel --force TAG` and `ctl cancel TAG --force` both read.
        args = parser.parse_intermixed_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    request = ctl_request(args.command, args.arg)
    if isinstance(request, str):
        if REQUESTS[args.command].required:
            parser.print_usage(sys.stderr)
        print(f"kitetui ctl: {request}", file=sys.stderr)
        return EXIT_USAGE
    path = Path(args.socket) if args.socket else socket_path_for(args.db or "state.db")
    timeout = args.timeout
    if timeout is None:  # an order's answer waits on Kite's 7 s timeout and its lookup
        timeout = EXCHANGE_TIMEOUT_S if args.command in EXCHANGE_COMMANDS else 5.0
    try:
        reply = asyncio.run(_call(path, timeout, args.command, request, args.force))
    except ControlError as exc:  # it names the socket, a path the user gave
        print(f"kitetui ctl: {escaped(str(exc))}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except StopNotForced as exc:
        print(f"kitetui ctl: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    code = _exit_code(args, reply)
    try:
        _report(args, reply)
        sys.stdout.flush()
    except BrokenPipeError:
        # `kitetui ctl status | head -1`: the reader has what it wanted and left. Point
        # stdout at /dev/null so the interpreter's last flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


#: Commands whose answer waits on the exchange (a placement, a cancel, a modification):
#: 5 s told a trader "no reply" while the order was being placed, and a retry doubled it.
EXCHANGE_COMMANDS = frozenset({"ticket", "flatten", "cancel", "kill", "modify-stop"})
EXCHANGE_TIMEOUT_S = 30.0


class StopNotForced(Exception):
    """``ctl cancel`` named a working protective stop without ``--force``."""


async def _call(
    path: Path, timeout: float, command: str, request: dict[str, Any], force: bool = False
) -> dict[str, Any]:
    async with ControlClient(path, timeout=timeout) as client:
        if command == "cancel":
            request = await _checked_cancel(client, request["tag"], force)
        return await client.request(command, **request)


async def _checked_cancel(client: ControlClient, tag: str, force: bool) -> dict[str, Any]:
    """The cancel request for ``tag`` (or the one working order it is a prefix of);
    refused, saying why, when that order is a protective stop and ``force`` is not set:
    the TUI's ``c`` asks first, and a script must not drop a stop without saying so."""
    reply = await client.request("status")
    data = reply.get("snapshot") if reply.get("ok") else None
    if data is None:
        return {"tag": tag}  # nothing to check against: the desk decides
    working = [o for o in snapshot_from_json(data).orders if o.status in _OPEN_ORDER_STATES]
    exact = [o for o in working if o.tag == tag]
    matches = exact or [o for o in working if o.tag.startswith(tag)]
    if len(matches) != 1:
        return {"tag": tag}  # unknown, finished or ambiguous: the desk says which
    order = matches[0]
    if order.purpose == "STOP" and not force:
        # a stop that triggered and was re-priced is a LIMIT: its trigger is 0
        level = order.trigger_price or order.price
        raise StopNotForced(
            f"{order.tag} is the protective stop of {order.symbol} ({order.side} "
            f"{order.quantity} {order.order_type} @ {level:,.2f}): cancelling "
            "it leaves the position without a stop. Add --force to cancel it anyway."
        )
    return {"tag": order.tag}


def _unknown_order(args: argparse.Namespace, reply: dict[str, Any]) -> bool:
    return args.command == "order" and bool(reply.get("ok")) and reply.get("detail") is None


def _exit_code(args: argparse.Namespace, reply: dict[str, Any]) -> int:
    return EXIT_OK if reply.get("ok") and not _unknown_order(args, reply) else EXIT_REFUSED


def _report(args: argparse.Namespace, reply: dict[str, Any]) -> None:
    """Print the reply as ``kitetui ctl`` does."""
    if args.json:
        print(json.dumps(reply, indent=2))
    elif not reply.get("ok"):
        refused = str(reply.get("error") or reply.get("message", ""))
        print(f"refused: {escaped(refused)}", file=sys.stderr)
    elif _unknown_order(args, reply):
        print(f"kitetui ctl: the desk has no order {' '.join(args.arg)!r}", file=sys.stderr)
    else:
        print(_reply_text(args.command, reply))


def _reply_text(command: str, reply: dict[str, Any]) -> str:
    if command == "order":
        return format_order(order_detail_from_json(reply["detail"]))
    if command == "status":
        snapshot = reply.get("snapshot")
        if snapshot is None:
            return "the desk is up but has not published a snapshot yet"
        return format_status(snapshot_from_json(snapshot))
    return escaped(str(reply.get("message", "ok")))


_OPEN_ORDER_STATES = {"NEW", "OPEN", "TRIGGER PENDING"}


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def format_order(detail: OrderDetail) -> str:
    """``kitetui ctl order TAG``: each state the order passed through, then its fills."""
    lines = [f"order {escaped(detail.tag)}", "", f"history ({len(detail.history)})"]
    if detail.history:
        lines += _table(
            [("TIME", "STATUS", "REASON")]
            + [(format_ist(e.ts_ns), escaped(e.status), escaped(e.reason)) for e in detail.history]
        )
    lines += ["", f"fills ({len(detail.fills)})"]
    if detail.fills:
        lines += _table(
            [("TIME", "SIDE", "QTY", "PRICE", "FILL")]
            + [
                (
                    format_ist(f.ts_ns),
                    f.side,
                    str(f.quantity),
                    f"{f.price:,.2f}",
                    escaped(f.fill_id),
                )
                for f in detail.fills
            ]
        )
        quantity = sum(f.quantity for f in detail.fills)
        average = sum(f.quantity * f.price for f in detail.fills) / quantity if quantity else 0.0
        lines.append(f"  filled {quantity} at an average of {average:,.2f}")
    return "\n".join(lines)


def _drawdown(value: float) -> str:
    """A drawdown as the TUI shows it: negative money (never ``-0.00``)."""
    return f"{-abs(value):,.2f}" if round(value * 100) else "0.00"


def format_status(s: DeskSnapshot) -> str:
    """One screen for ``kitetui ctl status``."""
    risk = s.risk
    clock = format_ist(s.data_ts_ns) if s.data_ts_ns else "-"
    lines = [
        f"desk      {s.mode}  run {s.run_id}  feed {s.feed_state}  speed {s.speed}",
        f"data      {clock}",
        f"risk      {risk.state}  kill switch {'ON' if risk.kill_switch else 'off'}"
        # A reason is text a client sent (and the database kept): never raw on a terminal.
        f"  entries {risk.entries}"
        + (f"  ({escaped(risk.halt_reason)})" if risk.halt_reason else ""),
        *(
            f"block     {escaped(name)}: {escaped(reason)} (clears {clears})"
            for name, reason, clears in risk.blocks
        ),
        *(f"NAKED     {escaped(symbol)}: {escaped(why)}" for symbol, why in risk.naked),
        f"today     net P&L {risk.day_pnl:+,.2f}  gross {risk.day_gross_pnl:+,.2f}"
        f"  charges {risk.day_charges:,.2f}" + (f"  ({s.day})" if s.day else ""),
        f"          realized {risk.day_realized:+,.2f}  unrealized {risk.unrealized:+,.2f}"
        f"  max drawdown {_drawdown(risk.day_max_drawdown)}",
        f"run       net P&L {risk.net_pnl:+,.2f}  gross {risk.gross_pnl:+,.2f}"
        f"  charges {risk.charges:,.2f}  over {risk.days} day(s)",
        f"          realized {risk.realized:+,.2f}  unrealized {risk.unrealized:+,.2f}"
        f"  max drawdown {_drawdown(risk.max_drawdown)}",
        f"charges   {risk.charges:,.2f}"
        + (
            "  = " + "  ".join(f"{name} {value:,.2f}" for name, value in risk.charges_by_component)
            if risk.charges_by_component
            else ""
        ),
        *(
            [
                f"margin    used {risk.margin_used:,.2f}  available "
                f"{risk.margin_available:,.2f}  ({risk.margin_source})"
            ]
            if risk.margin_source
            else []
        ),
        *(
            f"limit     {x.name} {x.value:,.{0 if x.integer else 2}f} changed by hand "
            f"(config {x.config_value:,.{0 if x.integer else 2}f})"
            for x in risk.changed_settings
        ),
        "",
        f"engines ({len(s.engines)})",
    ]
    if s.engines:
        lines += _table(
            [("NAME", "KIND", "STATE", "STRATEGY", "SYMBOLS", "BARS", "ORDERS", "ERROR")]
            + [
                (
                    e.name,
                    e.kind,
                    e.state if e.shown_state == e.state else f"{e.state} ({e.shown_state})",
                    e.strategy,
                    str(len(e.symbols)),
                    str(e.bars_seen),
                    str(e.orders_placed),
                    e.last_error,
                )
                for e in s.engines
            ]
        )
    # Today's, as the TUI shows by default: open, or traded today, with today's P&L.
    positions = [p for p in s.positions if p.today]
    lines += ["", f"positions today ({len(positions)})"]
    if positions:
        lines += _table(
            [
                (
                    "SYMBOL",
                    "ENGINE",
                    "PRODUCT",
                    "QTY",
                    "AVG",
                    "LAST",
                    "NET",
                    "GROSS",
                    "CHARGES",
                    "COVER",
                )
            ]
            + [
                (
                    p.symbol,
                    p.engine,
                    p.product,
                    str(p.quantity),
                    f"{p.avg_price:,.2f}",
                    f"{p.last_price:,.2f}",
                    f"{p.day_net:+,.2f}",
                    f"{p.day_pnl:+,.2f}",
                    f"{p.day_charges:,.2f}",
                    p.cover or "-",
                )
                for p in positions
            ]
        )
    open_orders = [o for o in s.orders if o.status in _OPEN_ORDER_STATES]
    lines += ["", f"open orders ({len(open_orders)})"]
    if open_orders:
        lines += _table(
            [("TAG", "ENGINE", "SYMBOL", "SIDE", "QTY", "TYPE", "PRICE", "STATUS")]
            + [
                (
                    o.tag,
                    o.engine,
                    o.symbol,
                    o.side,
                    f"{o.filled_qty}/{o.quantity}",
                    o.order_type,
                    f"{o.price or o.trigger_price:,.2f}",
                    o.status,
                )
                for o in open_orders
            ]
        )
    return "\n".join(lines)
