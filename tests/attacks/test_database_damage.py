"""The database damage corpus against the real CLI (tests/attacks/database_damage_corpus.py).

Two real databases are built once per session by the CLI itself (a finished demo
replay, and one SIGKILLed mid-run whose WAL the resume path would read); each case
copies one, damages the copy and runs ``kitetui run --no-ui --speed max --db COPY``.
Every case must end with its documented exit code (3 for a refused database, 2 for a
path that cannot hold one), exactly one line on stderr, no traceback, and the database
and its WAL hashing exactly as before.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .database_damage_corpus import DAMAGES, Damage, Masters, build_masters, run_case

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX files and signals")


@pytest.fixture(scope="session")
def masters(tmp_path_factory: pytest.TempPathFactory) -> Masters:
    return build_masters(tmp_path_factory.mktemp("damage-masters"))


def test_corpus_with_every_kind_of_damage_is_large_enough() -> None:
    assert len(DAMAGES) >= 25
    assert len({d.name for d in DAMAGES}) == len(DAMAGES)


@pytest.mark.parametrize("damage", DAMAGES, ids=[d.name for d in DAMAGES])
def test_cli_with_damaged_database_refuses_in_one_line_and_changes_nothing(
    masters: Masters, damage: Damage, tmp_path: Path
) -> None:
    outcome = run_case(damage, masters, tmp_path / "case")
    assert outcome.ok, f"{damage.name}: {'; '.join(outcome.problems)} :: {outcome.stderr}"


def test_cli_with_undamaged_copies_runs_and_resumes(masters: Masters, tmp_path: Path) -> None:
    # The control: the same copies, undamaged, are accepted (and the killed run resumes),
    # so every refusal above is the damage's doing.
    from .database_damage_corpus import finished, interrupted, kitetui

    for base, expect in ((finished, "started run"), (interrupted, "(resumed)")):
        folder = tmp_path / base.__name__
        folder.mkdir()
        path = base(masters, folder)
        done = kitetui("run", "--no-ui", "--speed", "max", "--db", str(path))
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        if expect == "(resumed)":
            assert "(resumed)" in done.stdout
