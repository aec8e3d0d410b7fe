"""The report of a run, from its database alone: ``kitetui report`` and the report
process a backtest starts (``runner.write_report_apart``).

Apart from ``kitetui.backtest.runner`` so that neither imports what runs a desk: the
config and its pydantic models, the strategies, the data loaders and numpy. Through the
runner, each of these processes spent ~0.5 s of CPU importing before it read a row;
from here ~0.2 s.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import TextIO

from kitetui.backtest.build import Report, build_report
from kitetui.backtest.errors import OutputError
from kitetui.backtest.files import check_report_folder, report_run_in, write_report_files
from kitetui.backtest.ledger import list_runs, load_ledger, open_read_only
from kitetui.private_files import make_private_dir, write_private
from kitetui.shown import escaped, one_line

DEFAULT_DATABASE = Path("backtests.db")
DEFAULT_REPORTS = Path("reports")


def _report_text(database: Path, run: str, out: Path | None, tty: bool, width: int | None) -> str:
    """The report's process: write the report; return the summary's text."""
    buffer = io.StringIO()
    write_report(database, run, out, buffer, terminal=(tty, width))
    return buffer.getvalue()


def write_report(
    database: Path,
    run: str,
    out: Path | None,
    stdout: TextIO,
    terminal: tuple[bool, int | None] | None = None,
) -> Report:
    """Build the report of ``run`` from ``database`` (read-only), write its files into
    ``out`` (default ``reports/<run id>``), and print the summary. ``terminal``: print as
    to a terminal (colour, and its width) or not, whatever ``stdout`` is."""
    from rich.console import Console

    # Here, not at the top: plotly and rich's tables (~0.3 s of CPU to import) are for
    # the report alone, and every sweep, its workers (each point's process) and a
    # backtest's own process import this module through the runner, never writing one.
    from kitetui.backtest.html import render_html
    from kitetui.backtest.terminal import print_summary

    report = build_report(load_ledger(database, run))
    folder = out if out is not None else DEFAULT_REPORTS / report.run_id
    replaced = report_run_in(folder)
    if replaced is not None and replaced != report.run_id:
        # said, not refused: re-running into one folder is a way of working
        print(
            f"kitetui: {escaped(str(folder))}: replacing the report of run {replaced}",
            file=sys.stderr,
        )
    try:
        make_private_dir(folder)
        check_report_folder(folder)
        paths = write_report_files(report, folder)
        html = folder / "report.html"
        write_private(html, render_html(report))
    except OSError as exc:
        inside = exc.filename and Path(exc.filename) != folder  # which of its files
        which = f"{Path(exc.filename).name}: " if inside else ""
        raise OutputError(
            f"{folder}: cannot write the report ({which}{exc.strerror or exc})"
        ) from None
    paths.append(html)
    tty, width = terminal if terminal is not None else (stdout.isatty(), None)
    # Not a terminal: rich decides (FORCE_COLOR still colours a pipe, as it always did).
    console = Console(file=stdout, width=width if tty else 120, force_terminal=tty or None)
    print_summary(report, console, paths=[escaped(str(html))])
    return report


def list_report_runs(database: Path, stdout: TextIO) -> int:
    """``kitetui report --list``: the runs a database holds, newest first."""
    from kitetui.clock import format_ist

    conn = open_read_only(database)
    try:
        runs = list_runs(conn)
    finally:
        conn.close()
    for run in runs:
        print(
            f"{run.run_id}  {run.status:<8} {run.mode:<6} {format_ist(run.started_wall_ns)}  "
            f"{one_line(run.config_path, 80)}",
            file=stdout,
        )
    if not runs:
        print(f"{escaped(str(database))}: no runs", file=stdout)
    return 0
