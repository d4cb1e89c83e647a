"""`make test` (what CI runs) tests the embedded default and PostgreSQL, each named."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _dry_run(**env: str) -> tuple[str, list[str]]:
    environ = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"} | env
    out = subprocess.run(["make", "-n", "test"], cwd=ROOT, env=environ, check=True,
                         capture_output=True, text=True).stdout
    return out, [line for line in out.splitlines() if "pytest" in line]


def test_first_run_is_sqlite_even_when_ci_sets_postgresql() -> None:
    out, runs = _dry_run(TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    assert len(runs) == 2, out
    # Both runs go on at once (one per core); the SQLite run is the one named run 1.
    assert [("TEST_DATABASE_URL=sqlite" in run) for run in runs] == [False, True], out
    assert "test run 1: SQLite" in out and "test run 2: PostgreSQL" in out
    # A failure of either run fails make test.
    assert "[ $sqlite_rc -eq 0 ] && [ $pg_rc -eq 0 ]" in out


def test_lint_runs_before_the_tests() -> None:
    out, runs = _dry_run()
    lines = out.splitlines()
    ruff = next(i for i, line in enumerate(lines) if "ruff check" in line)
    mypy = next(i for i, line in enumerate(lines) if line.rstrip().endswith("mypy"))
    first_pytest = next(i for i, line in enumerate(lines) if "pytest" in line)
    assert ruff < first_pytest and mypy < first_pytest, out
