"""The queue order of ``tests/suite_order.py`` names files that exist: a renamed file would
silently lose its place at the front and could end the run alone again."""

from __future__ import annotations

from pathlib import Path

from suite_order import LONGEST_FILES_FIRST

ROOT = Path(__file__).resolve().parents[1]


def test_every_file_put_first_exists_once() -> None:
    assert len(set(LONGEST_FILES_FIRST)) == len(LONGEST_FILES_FIRST)
    missing = [path for path in LONGEST_FILES_FIRST if not (ROOT / path).is_file()]
    assert not missing, f"tests/suite_order.py names no such file: {missing}"
