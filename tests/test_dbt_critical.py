"""A critical test failure stops everything downstream: the marts keep what they had, dbt exits non-zero."""

from __future__ import annotations

from pathlib import Path

import pytest
from dbt_cases import MART_TABLES, duplicate_a_registration, query, run_dbt_in, run_results, table_contents

from growth_analytics.load import load_files

PROJECT_DIR = Path(__file__).resolve().parents[1]


def one_row_of_the_latest_load(fact: str) -> str:
    """A WHERE condition on `fact` that selects one row of its newest load."""
    return f"ctid = (select ctid from {fact} where _load_id = (select max(_load_id) from {fact}) limit 1)"


def build_first_half_of_the_sample(warehouse_url: str, tmp_path: Path) -> tuple[list[Path], Path]:
    """Load the sample's files before 2020-06-15 and build; return the other files and dbt's target folder."""
    sample = sorted((PROJECT_DIR / "data").glob("*.csv"))
    first = [p for p in sample if p.stem.split("_", 1)[1] < "2020-06-15"]
    target = tmp_path / "target"
    load_files(first, url=warehouse_url)
    run_dbt_in(target, "build")
    return [p for p in sample if p not in first], target


@pytest.mark.slow
def test_duplicate_key_stops_the_marts(warehouse_url: str, tmp_path: Path) -> None:
    rest, target = build_first_half_of_the_sample(warehouse_url, tmp_path)
    before = {table: table_contents(warehouse_url, table) for table in MART_TABLES}

    # A duplicate registration key in the incremental fact (as a hand edit without its unique index would
    # leave it), then a new delivery that would change every mart.
    with_duplicate = query(warehouse_url, "select count(*) from dwh.fct_registrations")[0][0] + 1
    duplicate_a_registration(warehouse_url)
    load_files(rest, url=warehouse_url)

    build = run_dbt_in(target, "build", check=False)
    assert build.returncode != 0
    status = run_results(target)
    assert status["unique_index_enforces_fct_registrations_registration_key"] == "fail"
    for model in ("registration_attribution", "attribution_credits", "channel_performance"):
        assert status[model] == "skipped", model
    # the facts did take the new delivery, the marts did not
    assert query(warehouse_url, "select count(*) from dwh.fct_registrations")[0][0] > with_duplicate
    for table, rows in before.items():
        assert table_contents(warehouse_url, table) == rows, f"{table} changed"


@pytest.mark.slow
def test_a_fact_row_lost_fails_the_reconciliation(warehouse_url: str, tmp_path: Path) -> None:
    rest, target = build_first_half_of_the_sample(warehouse_url, tmp_path)

    # The facts take a new delivery (the build's first steps), then lose one row of it each (as a faulty
    # incremental step would) before the audits count them.
    load_files(rest, url=warehouse_url)
    run_dbt_in(target, "run", "--select", "audit_load_batches", "fct_sessions", "fct_registrations")
    for fact in ("dwh.fct_sessions", "dwh.fct_registrations"):
        query(warehouse_url, f"delete from {fact} where {one_row_of_the_latest_load(fact)}")

    build = run_dbt_in(target, "build", check=False)
    assert build.returncode != 0
    status = run_results(target)
    assert status["sessions_reconcile_with_raw"] == "fail"
    assert status["registrations_reconcile_with_raw"] == "fail"
    for model in ("registration_attribution", "attribution_credits", "channel_performance"):
        assert status[model] == "skipped", model


@pytest.mark.slow
def test_a_null_in_a_new_fact_row_stops_the_marts(warehouse_url: str, tmp_path: Path) -> None:
    rest, target = build_first_half_of_the_sample(warehouse_url, tmp_path)

    # One new session stored without its medium (as a faulty model change would leave it): the single
    # scan of the latest loads that checks the key columns of fct_sessions catches it.
    load_files(rest, url=warehouse_url)
    run_dbt_in(target, "run", "--select", "audit_load_batches", "fct_sessions")
    fact = "dwh.fct_sessions"
    query(warehouse_url, f"update {fact} set medium = null where {one_row_of_the_latest_load(fact)}")

    build = run_dbt_in(target, "build", check=False)
    assert build.returncode != 0
    status = run_results(target)
    not_null = next(name for name in status if name.startswith("not_null_in_latest_loads_fct_sessions"))
    assert status[not_null] == "fail"
    for model in ("dim_user", "registration_attribution", "attribution_credits", "channel_performance"):
        assert status[model] == "skipped", model
