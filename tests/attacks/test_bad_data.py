"""Hostile data files: each is either skipped row by row with a recorded reason (exit 0,
the event in the journal), or, when a source yields nothing, exit 4 with one line naming
the file. The corpus is ``scripts/attack_corpus.py``; in-process here (what
``check-config`` loads), a representative subset through ``kitetui run``."""

from __future__ import annotations

from pathlib import Path

import pytest

from attacks.corpus import attack_corpus, run_cli_cases

CORPUS = attack_corpus()
CASES = [case for case in CORPUS.build_corpus() if case.klass == "data files"]
CLI_RUN = [case for case in CASES if case.cli]


def test_data_corpus_has_at_least_40_files_both_outcomes() -> None:
    assert len(CASES) >= 40
    assert {case.expect_exit for case in CASES} == {0, 4}
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_data_file_loads_with_event_or_exit_4_one_line(case, tmp_path: Path) -> None:
    verdict = CORPUS.run_case(case, tmp_path)
    assert verdict.ok, verdict.detail


@pytest.fixture(scope="module")
def cli_verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_cli_cases([(case, "run") for case in CLI_RUN], tmp_path_factory.mktemp("cli-data"))


@pytest.mark.parametrize("case", CLI_RUN, ids=[case.name for case in CLI_RUN])
def test_bad_data_file_with_real_run_is_journaled_or_refused(case, cli_verdicts) -> None:
    verdict, _db = cli_verdicts[(case.name, "run")]
    assert verdict.ok, verdict.detail
