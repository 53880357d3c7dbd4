"""Incremental runs give exactly what a full refresh gives, after loading day files one batch at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from attribution_reference import attribute, read_files, transition_counts, user_paths
from dbt_cases import (
    BIG,
    DWH_TABLES,
    MART_TABLES,
    D,
    H,
    R,
    query,
    run_dbt_in,
    table_contents,
    ts,
    write_csv,
    write_edge_case_files,
)

from growth_analytics.load import load_files

PROJECT_DIR = Path(__file__).resolve().parents[1]

MODELLED_TABLES = DWH_TABLES + MART_TABLES
SNAPSHOT = "snap_user_registration_status"


def _day(path: Path) -> str:
    return path.stem.split("_", 1)[1]


def _compiled_code(target: Path, node: str) -> str:
    """The SQL the last dbt invocation in target ran for a node ("" when it did not run it)."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    codes = [r["compiled_code"] for r in results if r["unique_id"].endswith(f".{node}")]
    return codes[0] if codes else ""


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
    transition_walks = []
    chain_sql = "select from_state, to_state, transitions from mart.markov_transitions"
    for number, batch in enumerate(batches):
        results = load_files(batch, url=warehouse_url)
        assert all(r.load_id is not None for r in results), f"batch {number}: a file was refused"
        # as the pipeline runs it: a plain build, whose data tests look at the new loads only; the build
        # of the late part leaves the user-status snapshot and the Markov transition counts out (as if they
        # had failed): the next catches up
        skip = ["--exclude", SNAPSHOT, "markov_transition_counts"]
        build = run_dbt_in(target, "build", *(skip if batch is late else []), check=False)
        assert build.returncode == 0, f"batch {number}: {build.stdout[-3000:]}"
        code = _compiled_code(target, "markov_transition_counts")
        transition_walks.append("changes" if "converting_change" in code else "all" if code else "none")
        if code:  # the chain as the reference walks the paths of every file loaded so far
            loaded = [p for earlier in batches[: number + 1] for p in earlier]
            chain = query(warehouse_url, chain_sql)
            expected = transition_counts(user_paths(*read_files(loaded)))
            assert {(f, t): n for f, t, n in chain} == expected, f"batch {number}"
    # the counts added the changes of the totals' run before them, walked every path again after the run
    # they missed, and were no full build then: the counts they had are zeroed, not kept
    assert transition_walks == ["all", "changes", "changes", "none", "all"]
    assert "0 as transitions" in _compiled_code(target, "markov_transition_counts")

    # the later runs really were incremental: rows computed in different runs carry different watermarks
    watermarks = query(
        warehouse_url,
        "select count(distinct _sessions_load_id) from mart.registration_attribution",
    )[0][0]
    assert watermarks > 1
    incremental = {table: table_contents(warehouse_url, table) for table in MODELLED_TABLES}

    # The user-status snapshot's last run checked only the users re-attributed since its previous run, yet
    # it missed no change: its current versions are the status of every registered user, and the late
    # sessions that changed users 5 and 8's first channel (in the run without the snapshot) made second
    # versions.
    assert "any(array(" in _compiled_code(target, SNAPSHOT), "the snapshot checked every user"
    status_columns = "user_id, registration_count, first_registration_at, first_channel, first_channel_medium"
    current_versions = query(
        warehouse_url,
        f"select {status_columns} from snapshots.snap_user_registration_status where dbt_valid_to is null",
    )
    assert sorted(current_versions) == sorted(
        query(warehouse_url, f"select {status_columns} from intermediate.int_user_registration_status")
    )
    versions = dict(
        query(
            warehouse_url,
            f"select user_id - {BIG}, count(*) from snapshots.snap_user_registration_status group by user_id",
        )
    )
    assert versions[5] == versions[8] == 2

    run_dbt_in(target, "build", "--full-refresh")
    # a full refresh may re-attribute anyone (new rules, same loads): the snapshot checks every user
    assert "any(array(" not in _compiled_code(target, SNAPSHOT)
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


def test_a_path_nobody_takes_any_more(warehouse_url: str, tmp_path: Path) -> None:
    """conversion_path_totals is kept by difference: when the only user on a path registers (before any of
    their sessions, so the registration has no path), the path's row drops to zeros and leaves
    conversion_paths; the builds after it do not subtract that user again."""
    sessions_header, registrations_header = "user_id,time_started,is_paid,medium", "user_id,registration_time"
    only, other = BIG + 900, BIG + 901
    first = tmp_path / "first"
    first.mkdir()
    write_csv(
        first / "sessions.csv",
        sessions_header,
        [
            (only, ts(R + n * H), "false", medium)
            for n, medium in enumerate(["EMAIL", "SOCIAL", "EMAIL", "DISPLAY"])
        ]
        + [(other, ts(R), "false", "DIRECT")],
    )
    write_csv(first / "conversions.csv", registrations_header, [(other, ts(R + D))])
    second = tmp_path / "second"
    second.mkdir()
    write_csv(second / "conversions.csv", registrations_header, [(only, ts(R - D))])
    third = tmp_path / "third"
    third.mkdir()
    write_csv(third / "sessions.csv", sessions_header, [(other, ts(R + 2 * D), "false", "DIRECT")])

    target = tmp_path / "target"
    path_counts = "select converting, non_converting from mart.conversion_path_totals where path = '{}'"
    lonely_path = "EMAIL > SOCIAL > EMAIL > DISPLAY"
    for number, folder in enumerate((first, second, third)):
        assert all(r.load_id is not None for r in load_files([folder], url=warehouse_url))
        build = run_dbt_in(target, "build", check=False)
        assert build.returncode == 0, f"build {number}: {build.stdout[-3000:]}"
        expected = [(0, 1)] if folder is first else [(0, 0)]
        assert query(warehouse_url, path_counts.format(lonely_path)) == expected, f"after build {number}"
    assert not query(warehouse_url, f"select from mart.conversion_paths where path = '{lonely_path}'")
    incremental = table_contents(warehouse_url, "mart.conversion_paths")
    run_dbt_in(target, "build", "--full-refresh")
    assert table_contents(warehouse_url, "mart.conversion_paths") == incremental
    assert not query(warehouse_url, path_counts.format(lonely_path))
