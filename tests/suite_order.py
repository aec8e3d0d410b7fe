"""The order in which ``--dist loadfile`` hands the test files to the workers.

pytest-xdist gives each worker a whole file and, by default, queues the files by their
number of tests, most first (``--loadscope-reorder``). The files that take longest are a
handful of end-to-end tests, each starting processes: they came last, and a worker still
on one of them kept the run going while the others had nothing left to take. These go
first, longest first (``tests/conftest.py`` sorts the collection by this list), the rest
keep their order after them, so the end of a run is made of short files.

Ordered by their share of a whole-suite run (``--junitxml``, the tests' times summed per
file, 2026-12-07). A file renamed or gone only loses its place at the front of the queue;
``test_suite_order.py`` says so.
"""

from __future__ import annotations

LONGEST_FILES_FIRST = (
    "tests/attacks/test_sigkill_points.py",
    "tests/sweep/test_sweep_command.py",
    "tests/test_rehearsal.py",
    "tests/attacks/test_database_damage.py",
    "tests/backtest/test_runner.py",
    "tests/test_crash_recovery.py",
    "tests/tui/test_history_screens.py",
    "tests/test_desk.py",
    "tests/supervisor/test_gate.py",
    "tests/test_export.py",
    "tests/attacks/test_private_files.py",
    "tests/tui/test_tables_and_details.py",
    "tests/supervisor/test_ledger_parity.py",
    "tests/test_import_hygiene.py",
    "tests/sweep/test_executors.py",
    "tests/tui/test_desk_screen.py",
    "tests/attacks/test_disk_full.py",
    "tests/tui/test_snapshots.py",
    "tests/test_commands.py",
    "tests/test_cli.py",
    "tests/tui/test_live_link.py",
    "tests/venues/test_kite_margins.py",
    "tests/sweep/test_local_pool.py",
    "tests/tui/test_app.py",
)
