"""Verifying the chains on every core: a chain cut at rowids is still one chain.

One streaming pass costs about 1-3 µs a row in CPython, nearly all of it turning SQLite
values into Python objects, which one core cannot do faster. But a chain needs no
reading from its start to be checked from its middle: a slice that starts after row
``r`` starts from the checksum (or link) *stored* in row ``r``, and the slice that ends
at ``r`` proves that stored value is the one it computes. So each chained table is cut
into slices of ``SLICE_ROWS`` by rowid, the slices go to child processes (one per
core, up to ``MAX_WORKERS``), and the answers are joined in rowid order: the first
failing row of the first failing slice is the first failing row of the chain, and the
last slice's end must be the chain's recorded end.

Small journals are verified in-process (starting processes costs more than it saves
under ``PARALLEL_FROM_ROWS`` rows), and so is everything if a child cannot be started
or does not answer.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kitetui.store.chain import (
    BY_NAME,
    ChainedTable,
    ChainHead,
    ChainMismatch,
    data_columns,
    end_check,
    seed,
    stream,
)

PARALLEL_FROM_ROWS = 200_000
SLICE_ROWS = 100_000
MAX_WORKERS = 8


@dataclass(frozen=True, slots=True)
class Slice:
    table: str
    data: tuple[str, ...]
    start: bytes  # the seed, or the value stored in the row before ``rowids[0]``
    rowids: tuple[int, int | None] | None  # None: the whole table
    position: int  # rows of the table before this slice


def workers_for(rows: int, workers: int | None = None) -> int:
    """How many processes: 1 (in-process) for a small journal or a single core."""
    if workers is not None:
        return max(1, workers)
    if rows < PARALLEL_FROM_ROWS:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def plan(
    con: sqlite3.Connection,
    tables: Sequence[tuple[ChainedTable, Sequence[str]]],
    heads: dict[str, ChainHead],
    identity: str,
) -> list[Slice]:
    """Cut each table at every ``SLICE_ROWS``-th rowid (an index walk per cut)."""
    slices = []
    for table, columns in tables:
        data = data_columns(columns)
        start = seed(table.name, identity)
        rows = heads[table.name].rows if table.name in heads else 0
        if rows <= SLICE_ROWS:
            slices.append(Slice(table.name, data, start, None, 0))
            continue
        value = "chk" if table.append_only else "link"
        lo, position = None, 0
        while True:
            found = con.execute(
                f"SELECT rowid FROM {table.name} WHERE rowid >= ? ORDER BY rowid "
                f"LIMIT 1 OFFSET {SLICE_ROWS}",
                (lo if lo is not None else -(2**63),),
            ).fetchone()
            hi = found[0] if found else None
            slices.append(
                Slice(table.name, data, start, (lo if lo is not None else -(2**63), hi), position)
            )
            if hi is None:
                break
            before = con.execute(
                f"SELECT {value} FROM {table.name} WHERE rowid < ? ORDER BY rowid DESC LIMIT 1",
                (hi,),
            ).fetchone()
            start, lo, position = before[0], hi, position + SLICE_ROWS
    return slices


class ChainFailure(Exception):
    def __init__(self, table: ChainedTable, mismatch: ChainMismatch) -> None:
        super().__init__(mismatch.reason)
        self.table = table
        self.mismatch = mismatch


class ChainCheck:
    """Every chain of ``tables``, started now and answered by ``result()``.

    With ``workers`` > 1 the child processes start at once, so the caller can run
    SQLite's structure check meanwhile; ``cancel()`` stops them if that fails first.
    """

    def __init__(
        self,
        uri: str,
        con: sqlite3.Connection,
        tables: Sequence[tuple[ChainedTable, Sequence[str]]],
        heads: dict[str, ChainHead],
        identity: str,
        workers: int,
    ) -> None:
        self._con = con
        self._tables = [t for t, _ in tables]
        self._heads = heads
        self._identity = identity
        self._slices = plan(con, tables, heads, identity)
        self._children: list[tuple[list[int], subprocess.Popen[bytes]]] = []
        if workers > 1 and len(self._slices) > 1:
            shares = [list(range(w, len(self._slices), workers)) for w in range(workers)]
            self._children = _start(uri, [s for s in shares if s], self._slices)

    def cancel(self) -> None:
        for _, child in self._children:
            if child.poll() is None:
                child.kill()
            child.wait()
        self._children = []

    def result(self) -> dict[str, int]:
        """Rows verified per table; ``ChainFailure`` at the first row that fails."""
        answers = _collect(self._children, len(self._slices))
        self._children = []
        if answers is None:  # no children, or one failed: never a pass, verify here
            answers = [_check(self._con, part) for part in self._slices]
        counted: dict[str, int] = {}
        ends: dict[str, bytes] = {}
        for part, answer in zip(self._slices, answers, strict=True):
            if answer[0] == "bad":
                _, position, row, reason = answer
                raise ChainFailure(
                    BY_NAME[part.table], ChainMismatch(part.position + position, row, reason)
                )
            _, n, last = answer
            counted[part.table] = counted.get(part.table, 0) + n
            ends[part.table] = last
        for table in self._tables:
            head = self._heads.get(table.name) or ChainHead.empty(table.name, self._identity)
            try:
                end_check(counted.get(table.name, 0), ends[table.name], head)
            except ChainMismatch as mismatch:
                raise ChainFailure(table, mismatch) from None
        return counted


def _start(
    uri: str, shares: list[list[int]], slices: list[Slice]
) -> list[tuple[list[int], subprocess.Popen[bytes]]]:
    """One ``python -m kitetui.store.parallel`` per share of the slices.

    Plain child processes rather than ``multiprocessing``: its spawn start re-runs the
    caller's main script in each child, and kitetui may be imported by any script.
    The children import kitetui from where this process did, installed or not.
    """
    source = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": source + (os.pathsep + path if path else "")}
    children: list[tuple[list[int], subprocess.Popen[bytes]]] = []
    try:
        for share in shares:
            child = subprocess.Popen(
                [sys.executable, "-m", "kitetui.store.parallel"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            children.append((share, child))
            assert child.stdin is not None
            child.stdin.write(pickle.dumps((uri, [slices[i] for i in share])))
            child.stdin.close()
    except OSError:  # no process to be had: the parent verifies everything
        for _, child in children:
            child.kill()
            child.wait()
        return []
    return children


def _collect(
    children: list[tuple[list[int], subprocess.Popen[bytes]]], count: int
) -> list[tuple] | None:
    """The children's answers in slice order; None if there were none or one failed."""
    if not children:
        return None
    answers: list[tuple] = [()] * count
    failed = False
    for share, child in children:
        assert child.stdout is not None
        try:
            output = child.stdout.read()
            if child.wait() != 0:
                failed = True
                continue
            for index, answer in zip(share, pickle.loads(output), strict=True):
                answers[index] = answer
        except (OSError, ValueError, pickle.UnpicklingError, EOFError):
            failed = True
    return None if failed else answers


def _check(con: sqlite3.Connection, part: Slice) -> tuple:
    """One slice, as ``("ok", rows, last)`` or ``("bad", at, row, why)`` (picklable)."""
    try:
        n, last = stream(con, BY_NAME[part.table], part.data, part.start, part.rowids)
    except ChainMismatch as mismatch:
        return ("bad", mismatch.position, mismatch.row, mismatch.reason)
    return ("ok", n, last)


def _child() -> None:
    """A child: (uri, slices) pickled on stdin, their answers pickled on stdout."""
    uri, share = pickle.loads(sys.stdin.buffer.read())
    con = sqlite3.connect(uri, uri=True, timeout=5.0)
    try:
        answers = [_check(con, part) for part in share]
    finally:
        con.close()
    sys.stdout.buffer.write(pickle.dumps(answers))


if __name__ == "__main__":
    _child()
