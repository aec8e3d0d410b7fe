"""Figure 7 of bench.py: `kitetui attach` on a headless desk, the real TUI in a pty.

    python scripts/bench.py --only 7 [--quick]

7a: time from spawning ``python -m kitetui attach`` to its first byte and to its first
frame with data, and 'q' exits 0 leaving the daemon running. 7b: what one attached TUI
costs while a replay runs (CPU of the attach process, frames/s and bytes/s on the
terminal) at two terminal sizes and three replay speeds. The desk is
``benchlib.desk.Daemon``, the terminal ``benchlib.terminal.PtyTerminal`` (which counts
frames by their synchronized-update markers).
"""

from __future__ import annotations

import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchlib.desk import Daemon, socket_status
from benchlib.procs import cpu_seconds, kitetui_command, self_cpu_seconds
from benchlib.report import Figure, log, wrap
from benchlib.stats import median
from benchlib.terminal import DATA_DATE_RE, GONE_RE, MODE_RE, PtyTerminal

FF_COLS, FF_ROWS = 160, 48  # figure 7a's terminal: wide enough for the whole header


@dataclass
class Load:
    """What one attached TUI cost over one window."""

    label: str
    window_s: float
    cpu_s: float  # the attach process
    desk_cpu_s: float  # the daemon, for context
    bench_cpu_s: float  # this process (the 'terminal': pty reader, polling)
    frames: int
    nbytes: int
    frame_bytes: list[int]
    notes: list[str] = field(default_factory=list)

    def pct(self, cpu_s: float) -> float:
        return 100 * cpu_s / self.window_s if self.window_s > 0 else float("nan")

    @property
    def fps(self) -> float:
        return self.frames / self.window_s if self.window_s > 0 else float("nan")

    @property
    def bps(self) -> float:
        return self.nbytes / self.window_s if self.window_s > 0 else float("nan")


def measure_load(
    label: str,
    term: PtyTerminal,
    daemon: Daemon,
    until: Callable[[], bool],
    *,
    daemon_exits: bool = False,
) -> Load:
    """From now until ``until()`` is true (polled every 10 ms): CPU of the TUI, of the
    daemon (last sample before it exits, if ``daemon_exits``), of this process, and the
    frames and bytes the TUI wrote meanwhile."""
    t_from = time.perf_counter()
    cpu0, desk0, bench0 = cpu_seconds(term.pid), cpu_seconds(daemon.pid), self_cpu_seconds()
    desk1 = desk0
    while not until() and term.alive():
        if daemon_exits and (sample := cpu_seconds(daemon.pid)) is not None:
            desk1 = sample
        time.sleep(0.01)
    t_to = time.perf_counter()
    cpu1, bench1 = cpu_seconds(term.pid), self_cpu_seconds()
    if not daemon_exits:
        desk1 = cpu_seconds(daemon.pid)
    if cpu0 is None or cpu1 is None:
        raise RuntimeError(f"{label}: the attached TUI exited during the window")
    frames, nbytes = term.window(t_from, t_to)
    return Load(
        label,
        t_to - t_from,
        cpu1 - cpu0,
        (desk1 - desk0) if desk0 is not None and desk1 is not None else float("nan"),
        bench1 - bench0,
        frames,
        nbytes,
        term.frame_sizes(t_from, t_to),
    )


def attach_command(daemon: Daemon) -> list[str]:
    return kitetui_command("attach", "--db", str(daemon.db))


def speed_label(speed: str) -> str:
    return speed if speed == "max" else f"{speed}x"


def quit_attached(
    term: PtyTerminal, daemon: Daemon | None, notes: list[str], what: str
) -> tuple[bool, float]:
    """Type 'q'; (the TUI exited 0 and the daemon, if given, still answers; seconds
    from 'q' to the exit)."""
    code, took = term.quit()
    ok = code == 0
    if code != 0:
        notes.append(f"{what}: attach exit code {code} after 'q'")
    if daemon is not None:
        if not daemon.alive():
            notes.append(f"{what}: the daemon exited (rc {daemon.proc.returncode}) with attach")
            ok = False
        elif socket_status(daemon.sock) is None:
            notes.append(f"{what}: the daemon stopped answering after attach quit")
            ok = False
    return ok, took


def attach_first_frames(tmp: str, daemon: Daemon, repeats: int, notes: list[str]) -> Figure:
    fig = Figure(
        "7a",
        "`kitetui attach`: time to the first frame with data (real TUI in a pty)",
        "A headless desk (`python -m kitetui run --no-ui --speed 60 --db TMP/state.db`, "
        "demo config) is up and `python -m kitetui ctl --db TMP/state.db status --json` "
        f"answers. Then {repeats}x: `python -m kitetui attach --db TMP/state.db` is spawned "
        f"in a {FF_COLS}x{FF_ROWS} pty (TERM=xterm-256color) whose output a thread reads as "
        "it comes; wall time from just before the spawn to the first output byte and to the "
        "first output holding a data date (YYYY-MM-DD: the header's data clock, which only a "
        "desk with a snapshot shows; 'starting…' comes before). Then 'q': the exit code must "
        "be 0 and the daemon must still answer `status`. Includes Python start-up, imports.",
    )
    first_bytes, firsts, cpus, exits = [], [], [], []
    fine = 0
    for i in range(repeats):
        with PtyTerminal(attach_command(daemon), tmp, FF_ROWS, FF_COLS) as term:
            found = term.wait_for(DATA_DATE_RE, 30)
            cpu = cpu_seconds(term.pid)
            if found is None:
                notes.append(f"run {i + 1}: no data date within 30 s: {term.text()[-300:]}")
                continue
            firsts.append(found - term.t0)
            if (first_byte := term.first_byte_s()) is not None:
                first_bytes.append(first_byte)
            if cpu is not None:
                cpus.append(cpu)
            time.sleep(0.3)
            ok, took = quit_attached(term, daemon, notes, f"run {i + 1}")
            if ok:
                fine += 1
                exits.append(took)
            log(f"attach {i + 1}/{repeats}: first frame {firsts[-1]:.2f}s")
    fig.add("spawn -> first byte on the terminal (median)", median(first_bytes), "s")
    fig.add(
        "spawn -> first frame with data (median)",
        median(firsts),
        "s",
        f"{len(firsts)}/{repeats}; all: " + ", ".join(f"{x:.2f}" for x in firsts),
    )
    fig.add("CPU of attach up to that frame (median)", median(cpus), "s", "user+sys")
    fig.add("'q' -> exit 0, daemon still answers (median)", median(exits), "s")
    fig.add("quits with exit 0 and the daemon alive", f"{fine}/{repeats}")
    return fig


def attach_steady(tmp: str, daemon: Daemon, cols: int, rows: int, seconds: float) -> Load:
    """A window of ``seconds`` from 1 s after the first frame, on the running daemon."""
    label = f"{speed_label(daemon.speed)} {cols}x{rows}"
    with PtyTerminal(attach_command(daemon), tmp, rows, cols) as term:
        if term.wait_for(MODE_RE, 30) is None:
            raise RuntimeError(f"attach {label}: no desk on screen: {term.text()[-300:]}")
        time.sleep(1.0)
        deadline = time.perf_counter() + seconds
        load = measure_load(label, term, daemon, lambda: time.perf_counter() >= deadline)
        quit_attached(term, daemon, load.notes, "after 'q'")
    return load


def attach_replay(tmp: str, speed: str, cols: int, rows: int, seconds: float | None) -> Load:
    """A fresh daemon at ``speed``; attach as soon as its socket exists. With ``seconds``,
    a window that long from 1 s after the first frame (then both are stopped); without,
    from the first frame until the daemon exits by itself at the end of the replay."""
    label = f"{speed_label(speed)} {cols}x{rows}"
    with (
        tempfile.TemporaryDirectory(prefix="kt", dir=tmp) as sub,
        Daemon(sub, speed) as daemon,
    ):
        socket_s = daemon.wait_socket()
        with PtyTerminal(attach_command(daemon), sub, rows, cols) as term:
            first = term.wait_for(MODE_RE, 30)
            if first is None:
                raise RuntimeError(f"attach {label}: no desk on screen: {term.text()[-300:]}")
            if not daemon.alive():
                raise RuntimeError(f"attach {label}: the replay ended before the first frame")
            if seconds is not None:
                time.sleep(1.0)
                deadline = time.perf_counter() + seconds
                load = measure_load(label, term, daemon, lambda: time.perf_counter() >= deadline)
                if not daemon.alive():
                    load.notes.append("the replay ended inside the window")
                quit_attached(term, daemon, load.notes, "after 'q'")
                return load
            load = measure_load(label, term, daemon, lambda: not daemon.alive(), daemon_exits=True)
            t_end = time.perf_counter()
            replay_s = daemon.replay_wall_s()
            load.notes.append(
                f"the replay took {replay_s or float('nan'):.2f} s; the first frame came "
                f"{first - daemon.started - socket_s:.2f} s after the socket appeared"
            )
            # The desk has gone: what does the attached TUI do?
            gone = term.wait_for(GONE_RE, 3.0, since=t_end)
            finished = term.search(re.compile(rb"FINISHED"), first) is not None
            load.notes.append(
                "after the daemon exited the TUI "
                + ("exited" if not term.alive() else "kept running")
                + (f", showed 'reconnecting…' after {gone - t_end:.2f} s" if gone else "")
                + (", showed FINISHED" if finished else ", never showed FINISHED")
            )
            quit_attached(term, None, load.notes, "after 'q'")
    return load


def load_table(loads: list[Load]) -> list[str]:
    lines = [
        f"    {'desk speed, terminal':<22}{'window':>7}{'attach':>8}{'frames':>8}"
        f"{'bytes':>9}{'bytes':>8}{'desk':>7}{'bench':>7}",
        f"    {'':<22}{'s':>7}{'CPU %':>8}{'/s':>8}{'/s':>9}{'/frame':>8}{'CPU %':>7}{'CPU %':>7}",
    ]
    for x in loads:
        lines.append(
            f"    {x.label:<22}{x.window_s:>7.2f}{x.pct(x.cpu_s):>8.1f}{x.fps:>8.1f}"
            f"{x.bps:>9,.0f}{median(x.frame_bytes):>8,.0f}{x.pct(x.desk_cpu_s):>7.0f}"
            f"{x.pct(x.bench_cpu_s):>7.0f}"
        )
    for x in loads:
        for note in x.notes:
            for i, chunk in enumerate(wrap(f"{x.label}: {note}", 88)):
                lines.append(f"      {'  ' if i else ''}{chunk}")
    return lines


def figure_attach(quick: bool) -> list[Figure]:
    repeats = 2 if quick else 5
    steady_s = 3.0 if quick else 8.0
    fixed_s = 3.0 if quick else 6.0
    sizes = [(160, 48), (80, 24)]
    notes: list[str] = []
    loads: list[Load] = []
    load_before = os.getloadavg()[0]
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on SIGTERM
    try:
        with tempfile.TemporaryDirectory(prefix="kt") as tmp:
            with Daemon(tmp, "60") as daemon:
                ready_s = daemon.wait_ctl_status()
                log(f"attach: daemon at 60x answers `ctl status` after {ready_s:.2f}s")
                first = attach_first_frames(tmp, daemon, repeats, notes)
                first.add("context: daemon spawn -> `ctl status` answers", ready_s, "s")
                for cols, rows in sizes[:1] if quick else sizes:
                    loads.append(attach_steady(tmp, daemon, cols, rows, steady_s))
                    log(f"attach {loads[-1].label}: {loads[-1].pct(loads[-1].cpu_s):.1f}% CPU")
                if not daemon.alive():
                    notes.append(f"the 60x daemon exited early (rc {daemon.proc.returncode})")
            for speed, seconds, shapes in (
                ("max", None, sizes),
                ("2000", fixed_s, sizes[:1] if quick else sizes),
            ):
                for cols, rows in shapes:
                    loads.append(attach_replay(tmp, speed, cols, rows, seconds))
                    log(f"attach {loads[-1].label}: {loads[-1].pct(loads[-1].cpu_s):.1f}% CPU")
    finally:
        signal.signal(signal.SIGTERM, previous)
    for note in notes:
        first.add("problem", note)
    load = Figure(
        "7b",
        "`kitetui attach` under a replay: CPU, frames/s and bytes/s on the terminal",
        "The TUI attached in a pty of the given size. attach CPU = user+sys of the attach "
        "process (/proc/PID/stat, all threads, 10 ms ticks) / wall, in % of one core; desk "
        "and bench (this process, the terminal) for context. frames = synchronized-output "
        "begin markers ESC[?2026h: Textual wraps every screen update in ESC[?2026h..l once "
        "the terminal says it supports mode 2026 (the bench answers the DECRQM query as "
        "modern terminals do); bytes = all the TUI wrote, what an SSH link carries. "
        f"Windows: 60x, the 7a daemon, {steady_s:g} s from 1 s after the first frame; "
        "max, a fresh daemon each, attach spawned when its socket appears, from the first "
        "frame until the daemon exits at the replay's end (the replay is ~3 s, so the TUI "
        f"sees part of it); 2000x, a fresh daemon each, {fixed_s:g} s from 1 s after the "
        "first frame (the tick-heavy first day). ui.refresh_hz is 4.",
    )
    for x in loads:
        load.add(f"{x.label} attach CPU", x.pct(x.cpu_s), "% core", f"window {x.window_s:.2f}s")
        load.add(f"{x.label} frames/s", x.fps, "1/s")
        load.add(f"{x.label} bytes/s", x.bps, "B/s", "; ".join(x.notes))
        load.add(f"{x.label} desk CPU", x.pct(x.desk_cpu_s), "% core")
    loadavg = f"{load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    load.add("load average (1 min) at the start / end", loadavg)
    load.table = [*load_table(loads), f"    load average (1 min) at the start / end: {loadavg}"]
    return [first, load]
