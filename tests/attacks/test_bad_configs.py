"""Hostile configs: every one gets its exit code and ONE line naming file and key, never
a traceback. The corpus is ``scripts/attack_corpus.py`` (most of it generated from the
config models); each case runs in-process here, a representative subset through the
real command line (``check-config`` and ``run``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from attacks.corpus import attack_corpus, run_cli_cases

CORPUS = attack_corpus()
CASES = [case for case in CORPUS.build_corpus() if case.klass == "configs"]
CLI_CHECK = [case for case in CASES if case.cli]
# The same refusals at the start of a run: before a database exists or a trade is made.
CLI_RUN_NAMES = (
    "duplicate section",
    "10k nested lists",
    "binary file",
    "holidays file missing",
    "instruments missing",
    "equity engine trades an index",
    "source glob matches nothing",
)


def test_config_corpus_with_every_class_has_at_least_150_cases() -> None:
    assert len(CASES) >= 150
    names = {case.name for case in CASES}
    assert len(names) == len(CASES)
    assert {case.expect_exit for case in CASES} == {2, 4}
    assert {"billion laughs", "duplicate nested key", "pkg escape source"} <= names


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_config_with_check_config_checks_gives_one_line_and_exit_code(
    case, tmp_path: Path
) -> None:
    verdict = CORPUS.run_case(case, tmp_path)
    assert verdict.ok, verdict.detail


@pytest.fixture(scope="module")
def cli_verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    by_name = {case.name: case for case in CASES}
    runs = [(case, "check-config") for case in CLI_CHECK]
    runs += [(by_name[name], "run") for name in CLI_RUN_NAMES]
    return run_cli_cases(runs, tmp_path_factory.mktemp("cli-configs"))


@pytest.mark.parametrize("case", CLI_CHECK, ids=[case.name for case in CLI_CHECK])
def test_bad_config_with_real_check_config_exits_with_one_line(case, cli_verdicts) -> None:
    verdict, _db = cli_verdicts[(case.name, "check-config")]
    assert verdict.ok, verdict.detail


@pytest.mark.parametrize("name", CLI_RUN_NAMES)
def test_bad_config_with_real_run_is_refused_before_any_database(name: str, cli_verdicts) -> None:
    verdict, db_created = cli_verdicts[(name, "run")]
    assert verdict.ok, verdict.detail
    assert not db_created
