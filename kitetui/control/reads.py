"""The history reads a desk answers besides its snapshot: runs, a run's report, pages of
its journal tables, and CSV exports.

The desk side (``kitetui.history_reads.DatabaseReads``) reads its database file
read-only in a worker thread; this package only declares what it needs of it
(``HistoryReads``), so neither the socket nor the screens above it import the store.
``answer`` turns one request into its reply for the control server; the local link
calls the same methods on the desk's loop.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from kitetui.control.protocol import Request, view_to_json
from kitetui.views import ExportResult, HistoryPage, RunReportView, RunView

log = logging.getLogger(__name__)

#: The words served by ``answer`` (declared with the others in ``protocol.READS``).
HISTORY_WORDS = ("runs", "history", "run-report", "export")

NOT_SERVED = "this desk does not serve its history (no database reads attached)"


class HistoryError(Exception):
    """A history read refused: the message is one line saying why (no such run, a
    table that does not exist, a file that cannot be written)."""


class HistoryReads(Protocol):
    """What the desk offers to read of its database (``kitetui.history_reads``).
    Each method raises an exception whose message is one line on a refusal."""

    async def runs(self) -> tuple[RunView, ...]: ...

    async def history(
        self, table: str, run: str = "", text: str = "", offset: int = 0, limit: int = 100
    ) -> HistoryPage: ...

    async def run_report(self, run: str = "") -> RunReportView: ...

    async def export(self, what: str, run: str = "", path: str = "") -> ExportResult: ...


async def answer(reads: HistoryReads | None, request: Request) -> dict[str, Any]:
    """The reply (without its id) to a ``runs``, ``history``, ``run-report`` or ``export``
    request: ``{"ok": true, "<what>": {...}}`` or ``{"ok": false, "error": "one line"}``."""
    if reads is None:
        return {"ok": False, "error": NOT_SERVED}
    args = request.model_dump(exclude={"id", "cmd"})
    try:
        if request.cmd == "runs":
            return {"ok": True, "runs": view_to_json(await reads.runs())}
        if request.cmd == "history":
            page = await reads.history(
                args["table"], args["run"], args["filter"], args["offset"], args["limit"]
            )
            return {"ok": True, "page": view_to_json(page)}
        if request.cmd == "run-report":
            return {"ok": True, "report": view_to_json(await reads.run_report(args["run"]))}
        if request.cmd == "export":
            done = await reads.export(args["what"], args["run"], args["path"])
            return {"ok": True, "export": view_to_json(done)}
    except Exception as exc:  # a failed read must not take the connection down
        if not isinstance(exc, HistoryError):
            log.exception("control socket: %s failed", request.cmd)
        return {"ok": False, "error": one_line(str(exc) or type(exc).__name__)}
    return {"ok": False, "error": f"not a history read: {request.cmd}"}


def one_line(text: str) -> str:
    return " ".join(text.split())
