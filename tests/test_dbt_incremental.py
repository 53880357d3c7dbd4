"""Incremental runs give exactly what a full refresh gives, after loading day files one batch at a time."""

from __future__ import annotations

from pathlib import Path

import pytest
from attribution_reference import attribute, read_files
from dbt_cases import DWH_TABLES, MART_TABLES, query, run_dbt_in, table_contents, write_edge_case_files

from growth_analytics.load import load_files

PROJECT_DIR = Path(__file__).resolve().parents[1]

MODELLED_TABLES = DWH_TABLES + MART_TABLES


def _day(path: Path) -> str:
    return path.stem.split("_", 1)[1]


@pytest.mark.slow
def test_incremental_runs_equal_a_full_refresh(warehouse_url: str, tmp_path: Path) -> None:
    sample = sorted((PROJECT_DIR / "data").glob("*.csv"))
    early = write_edge_case_files(tmp_path / "early", "early")
    late = write_edge_case_files(tmp_path / "late", "late")
    # Day files in four deliveries, the edge cases' late part (sessions that change registrations already
    # attributed, a re-delivered session and registration) after the sample's last day, then one more day.
    batches = [
        [p for p in sample if _day(p) < "2020-06-01"],
        [p for p in sample if "2020-06-01" <= _day(p) <= "2020-06-10"] + early,
        [p for p in sample if "2020-06-11" <= _day(p) < "2020-06-30"],
        late,
        [p for p in sample if _day(p) == "2020-06-30"],
    ]
    assert sum(len(b) for b in batches) == len(sample) + len(early) + len(late)
    target = tmp_path / "target"
    for number, batch in enumerate(batches):
        results = load_files(batch, url=warehouse_url)
        assert all(r.load_id is not None for r in results), f"batch {number}: a file was refused"
        # as the pipeline runs it: a plain build, whose data tests look at the new loads only
        build = run_dbt_in(target, "build", check=False)
        assert build.returncode == 0, f"batch {number}: {build.stdout[-3000:]}"

    # the later runs really were incremental: rows computed in different runs carry different watermarks
    watermarks = query(
        warehouse_url,
        "select count(distinct _sessions_load_id) from mart.registration_attribution",
    )[0][0]
    assert watermarks > 1
    incremental = {table: table_contents(warehouse_url, table) for table in MODELLED_TABLES}

    run_dbt_in(target, "build", "--full-refresh")
    for table in MODELLED_TABLES:
        full = table_contents(warehouse_url, table)
        assert full, f"{table} is empty"
        assert incremental[table] == full, f"{table}: incremental differs from full refresh"

    # and both agree with the reference on the final data
    sessions, registrations = read_files([p for batch in batches for p in batch])
    expected = attribute(sessions, registrations)
    channels = dict(
        ((user, at), channel)
        for user, at, channel in query(
            warehouse_url, "select user_id, registration_time, channel from mart.registration_attribution"
        )
    )
    assert channels == {
        (r.user_id, r.registration_time): res.channel for r, res in expected.rule_based.items()
    }
