"""What the benchmarks in ``scripts/`` share, so each script holds only its figures.

    report     Figure/Row, the table printer, the machine header, progress lines
    stats      median, nearest-rank percentile, a median/p95/max summary
    procs      the kitetui command, a clean environment, CPU and memory of a process,
               a child process that answers with a JSON line
    desk       a desk database in a fresh temporary folder, a headless daemon, its
               control socket, a read-only poller of its database
    terminal   the one terminal driver: a command in a pty of a given size, every byte
               kept with its arrival time, frames counted by ESC[?2026h
    profiling  a stopwatch around a coroutine function, cProfile around a call

The scripts import it as ``benchlib`` (``scripts/`` is the first entry of
``sys.path`` when one of them runs). Nothing here edits or patches ``kitetui``: the
benchmarks wrap methods of their own instances.
"""
