"""dbt's marts against the independent Python implementation of the attribution contract.

Real Postgres (fixture), real loader, real dbt. Data: the hand-made edge cases (tests/dbt_cases.py) plus
the generated sample in data/, whose generator plants window edges, instants, near misses, lookback
edges and equal-time twins at realistic rates.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path

import pytest
from attribution_reference import (
    MODELS,
    UNATTRIBUTED,
    UserPath,
    attribute,
    markov,
    markov_credits,
    read_files,
    transition_counts,
    user_paths,
)
from dbt_cases import BIG, query, run_dbt_in, write_edge_case_files

from growth_analytics.load import load_files

PROJECT_DIR = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-9


def _input_files(tmp_path: Path) -> list[Path]:
    sample = sorted((PROJECT_DIR / "data").glob("*.csv"))
    assert sample, "data/ holds the generated sample"
    return [*write_edge_case_files(tmp_path / "edge"), *sample]


@pytest.fixture(scope="module")
def built(postgres_server, tmp_path_factory):
    """One database with everything loaded and `dbt build` run once; shared by the tests below."""
    import os

    from growth_analytics.settings import WAREHOUSE_URL_ENV

    tmp_path = tmp_path_factory.mktemp("attribution")
    url = postgres_server.create_database(f"test_attribution_{os.getpid()}")
    previous = os.environ.get(WAREHOUSE_URL_ENV)
    os.environ[WAREHOUSE_URL_ENV] = url
    try:
        files = _input_files(tmp_path)
        results = load_files(files, url=url)
        assert all(r.rows_rejected == 0 for r in results)
        build = run_dbt_in(tmp_path / "target", "build", check=False)
        assert build.returncode == 0, build.stdout[-3000:]
        sessions, registrations = read_files(files)
        yield url, attribute(sessions, registrations), build.stdout
    finally:
        if previous is None:
            os.environ.pop(WAREHOUSE_URL_ENV, None)
        else:
            os.environ[WAREHOUSE_URL_ENV] = previous


@pytest.mark.slow
def test_registration_attribution_matches_reference_row_by_row(built):
    url, expected, _ = built
    rows = query(
        url,
        "select user_id, registration_time, channel, attributed_touch_time, attributed_touch_medium, "
        "hours_to_convert from mart.registration_attribution",
    )
    actual = {(r[0], r[1]): r[2:] for r in rows}
    assert len(actual) == len(rows), "one row per registration"
    wanted = {(reg.user_id, reg.registration_time): res for reg, res in expected.rule_based.items()}
    assert set(actual) == set(wanted), "every registration exactly once"
    mismatches = []
    for key, (channel, touch_time, medium, hours) in actual.items():
        res = wanted[key]
        same_hours = (hours is None and res.hours_to_convert is None) or (
            hours is not None
            and res.hours_to_convert is not None
            and math.isclose(hours, res.hours_to_convert, abs_tol=TOLERANCE)
        )
        if (channel, touch_time, medium) != (res.channel, res.touch_time, res.touch_medium) or not same_hours:
            mismatches.append((key, (channel, touch_time, medium, hours), res))
    assert not mismatches, f"{len(mismatches)} rows differ, e.g. {mismatches[:3]}"


def _credits_by_model(url: str, where: str = "true") -> dict[tuple, float]:
    """(user_id, registration_time, model, channel) -> credit, for the credits above 0 (the table has one
    row per registration and channel, one column per model, 0 where a model gives the channel nothing)."""
    columns = ", ".join(f"c.{model}_credit" for model in MODELS)
    rows = query(
        url,
        f"select r.user_id, r.registration_time, c.channel, {columns} "
        "from mart.attribution_credits as c join dwh.fct_registrations as r using (registration_key) "
        f"where {where}",
    )
    keys = [(user, time, channel) for user, time, channel, *_ in rows]
    assert len(set(keys)) == len(keys), "one row per registration and channel"
    return {
        (user, time, model, channel): credit
        for user, time, channel, *credits in rows
        for model, credit in zip(MODELS, credits, strict=True)
        if credit > 0
    }


@pytest.mark.slow
def test_attribution_credits_match_reference(built):
    url, expected, _ = built
    actual = _credits_by_model(url)
    wanted = {(reg.user_id, reg.registration_time, m, c): v for (reg, m, c), v in expected.credits.items()}
    assert set(actual) == set(wanted)
    bad = [
        (k, actual[k], wanted[k]) for k in wanted if not math.isclose(actual[k], wanted[k], abs_tol=TOLERANCE)
    ]
    assert not bad, f"{len(bad)} credits differ, e.g. {bad[:3]}"

    # and per model and channel, as reports use it
    totals_actual: dict[tuple[str, str], float] = defaultdict(float)
    totals_wanted: dict[tuple[str, str], float] = defaultdict(float)
    for (_, _, model, channel), credit in actual.items():
        totals_actual[(model, channel)] += credit
    for (_, _, model, channel), credit in wanted.items():
        totals_wanted[(model, channel)] += credit
    assert set(totals_actual) == set(totals_wanted)
    for key, total in totals_wanted.items():
        assert math.isclose(totals_actual[key], total, abs_tol=1e-6), key
    daily = dict(
        query(
            url,
            "select model || '/' || channel, sum(registrations) "
            "from mart.channel_attribution_daily group by 1",
        )
    )
    for (model, channel), total in totals_wanted.items():
        assert math.isclose(daily[f"{model}/{channel}"], total, abs_tol=1e-6)


@pytest.mark.slow
def test_edge_cases_as_the_contract_states_them(built):
    """The reference itself, pinned on the hand-made cases: what the issue's rules say, case by case."""
    url, _, _ = built
    rows = query(
        url,
        f"select user_id - {BIG}, registration_time, channel, attributed_touch_medium, hours_to_convert "
        f"from mart.registration_attribution where user_id between {BIG} and {BIG + 100} order by 1, 2",
    )
    by_user = {}
    for user, _, channel, medium, hours in rows:
        by_user.setdefault(user, []).append((channel, medium, hours))
    assert by_user[1] == [("PAID_SEARCH", "PAID SEARCH", 3.0)]  # exactly 3 h counts
    assert by_user[2][0][0] == "DIRECT"  # 3 h + 1 s is out
    assert by_user[3][0][:2] == ("PAID_IMPRESSION", "IMPRESSION")
    assert by_user[4][0] == ("ORGANIC_SEARCH", "ORGANIC SEARCH", 12.0)
    assert by_user[6] == [("PAID_SEARCH", "PAID SEARCH", 0.0)]  # touch at the registration instant
    assert by_user[7] == [(UNATTRIBUTED, None, None)]  # sessions only after registering
    assert by_user[9] == [("OTHERS", "REFERRAL", 2.0)]  # equal times: last in (medium, is_paid) order
    assert by_user[11] == [("PAID_SEARCH", "PAID SEARCH", 3.0)]  # offsets in the CSV
    assert by_user[12] == [("PAID_SEARCH", "PAID SEARCH", 0.5)]  # duplicates collapse
    assert [c for c, _, _ in by_user[13]] == ["PAID_SEARCH", "PAID_IMPRESSION"]  # two registrations
    assert by_user[15][0][:2] == ("OTHERS", "PAID SEARCH")  # 1 microsecond outside the window
    assert by_user[16][0][0] == "DIRECT"
    assert by_user[17][0][:2] == ("OTHERS", "CARRIER PIGEON")
    assert 18 not in by_user  # never registered

    credits = {
        (user - BIG, model, channel): credit
        for (user, _, model, channel), credit in _credits_by_model(
            url,
            f"r.user_id between {BIG} and {BIG + 100} and r.registration_time = '2020-06-10 12:00:00+00'",
        ).items()
    }
    # 30-day edge: the touch exactly 30 days before counts, 1 s earlier does not -> 2 touches
    assert credits[(10, "linear", "EMAIL")] == pytest.approx(0.5)
    assert credits[(10, "first_touch", "EMAIL")] == 1.0
    assert (10, "linear", "DIRECT") not in credits
    # 16: a 60-day-old DIRECT (rule-based DIRECT, outside the multi-touch window), a late SMS 29 days before
    assert credits[(16, "time_decay", "SMS")] == 1.0
    assert (16, "time_decay", "DIRECT") not in credits
    # 7: sessions only after registering: unattributed in every model
    assert all(credits[(7, model, UNATTRIBUTED)] == 1.0 for model in MODELS)
    # 14: six touches: position_based 0.4 / 0.05 x 4 / 0.4, in time order (TV first, EMAIL last)
    assert credits[(14, "position_based", "TV")] == pytest.approx(0.4)
    assert credits[(14, "position_based", "EMAIL")] == pytest.approx(0.4 + 0.05)
    assert credits[(14, "position_based", "SOCIAL")] == pytest.approx(0.05)
    # 9: three touches at one instant plus one earlier: linear 1/4 each, REFERRAL twice (paid and unpaid)
    assert credits[(9, "linear", "REFERRAL")] == pytest.approx(0.5)
    assert credits[(9, "last_touch", "REFERRAL")] == 1.0
    for model in MODELS:
        total = sum(v for (u, m, _), v in credits.items() if u == 14 and m == model)
        assert total == pytest.approx(1.0, abs=TOLERANCE)


@pytest.mark.slow
def test_business_tests_warn_and_store_failures(built):
    url, _, output = built
    for name in (
        "registrations_without_any_session",
        "registrations_with_sessions_only_after",
        "duplicate_rows_in_raw_sessions",
        "duplicate_rows_in_raw_conversions",
        "users_with_more_than_one_registration",
        "unknown_mediums",
    ):
        assert name in output
        stored = query(url, f"select count(*) from audit.{name}")[0][0]
        assert stored > 0, name
    unknown = query(url, "select medium from audit.unknown_mediums")
    assert unknown == [("CARRIER PIGEON",)]


@pytest.mark.slow
def test_the_rule_based_check_catches_a_lost_or_misplaced_attribution(built, tmp_path):
    """one_rule_based_row_per_registration fails on each kind of damage, and passes once it is undone."""
    url, _, _ = built
    target = tmp_path / "target"

    def check_passes() -> bool:
        run = run_dbt_in(target, "test", "--select", "one_rule_based_row_per_registration", check=False)
        return run.returncode == 0

    # a registration whose multi-touch credits also name a channel other than its rule-based one
    key, rule_channel, other_channel = query(
        url,
        """
        select a.registration_key, a.channel, c.channel
        from mart.registration_attribution as a
        join mart.attribution_credits as c
            on c.registration_key = a.registration_key and c.channel <> a.channel
        order by a.registration_key, c.channel
        limit 1
        """,
    )[0]
    attribution = f"mart.registration_attribution where registration_key = '{key}'"

    def set_rule_based_credit(channel: str, credit: int) -> None:
        query(
            url,
            f"update mart.attribution_credits set rule_based_credit = {credit}"
            f" where registration_key = '{key}' and channel = '{channel}'",
        )

    assert check_passes()
    set_rule_based_credit(rule_channel, 0)  # the rule-based credit lost
    try:
        assert not check_passes()
        set_rule_based_credit(other_channel, 1)  # ... or given to another channel than the attribution's
        assert not check_passes()
    finally:
        set_rule_based_credit(other_channel, 0)
        set_rule_based_credit(rule_channel, 1)

    # a registration without its attribution row
    query(url, f"create table public.kept_attribution as select * from {attribution}")
    query(url, f"delete from {attribution}")
    try:
        assert not check_passes()
    finally:
        query(url, "insert into mart.registration_attribution select * from public.kept_attribution")
        query(url, "drop table public.kept_attribution")
    assert check_passes()


@pytest.fixture(scope="module")
def reference_paths(tmp_path_factory) -> list[UserPath]:
    """The reference's paths of the same input files as `built`."""
    sessions, registrations = read_files(_input_files(tmp_path_factory.mktemp("paths")))
    return user_paths(sessions, registrations)


def _path_key(path: UserPath) -> tuple:
    return (path.user_id, path.registration.registration_time if path.registration else None)


@pytest.mark.slow
def test_user_paths_match_reference(built, reference_paths):
    url, _, _ = built
    rows = query(
        url,
        "select p.user_id, r.registration_time, p.steps, p.touches, p.days_to_convert "
        "from mart.user_paths as p left join dwh.fct_registrations as r using (registration_key)",
    )
    actual = {(user, time): (tuple(steps), touches, days) for user, time, steps, touches, days in rows}
    assert len(actual) == len(rows), "one row per registration and per user without one"
    wanted = {}
    for path in reference_paths:
        days = (
            (path.registration.registration_time - path.first_touch).total_seconds() / 86400
            if path.registration and path.first_touch
            else None
        )
        wanted[_path_key(path)] = (path.steps, path.touches, days)
    assert set(actual) == set(wanted)
    bad = [
        (key, actual[key], want)
        for key, want in wanted.items()
        if actual[key][:2] != want[:2]
        or (actual[key][2] is None) != (want[2] is None)
        or (want[2] is not None and not math.isclose(actual[key][2], want[2], abs_tol=TOLERANCE))
    ]
    assert not bad, f"{len(bad)} paths differ, e.g. {bad[:3]}"


@pytest.mark.slow
def test_conversion_paths_match_reference(built, reference_paths):
    url, _, _ = built
    rows = query(
        url,
        "select path, path_length, converting, non_converting, conversion_rate, mean_touches, "
        "mean_days_to_convert, channels from mart.conversion_paths",
    )
    actual = {row[0]: row[1:-1] for row in rows}
    channels = {row[0]: row[-1] for row in rows}
    groups: dict[tuple[str, ...], list[UserPath]] = defaultdict(list)
    for path in reference_paths:
        if path.steps:
            groups[path.steps].append(path)
    assert set(actual) == {" > ".join(steps) for steps in groups}
    for steps, members in groups.items():
        converting = [p for p in members if p.registration]
        length, conv, non_conv, rate, touches, days = actual[" > ".join(steps)]
        assert (length, conv, non_conv) == (len(steps), len(converting), len(members) - len(converting))
        assert channels[" > ".join(steps)] == sorted(set(steps))
        assert math.isclose(rate, len(converting) / len(members), abs_tol=TOLERANCE)
        if converting:
            mean_touches = sum(p.touches for p in converting) / len(converting)
            mean_days = sum(
                (p.registration.registration_time - p.first_touch).total_seconds() / 86400 for p in converting
            ) / len(converting)
            assert math.isclose(touches, mean_touches, abs_tol=TOLERANCE), steps
            assert math.isclose(days, mean_days, abs_tol=TOLERANCE), steps
        else:
            assert touches is None and days is None
    # the edge cases: repeats collapse (20), same-instant twins are one step (9), non-converting (21)
    assert actual["EMAIL > SOCIAL > EMAIL > DIRECT"][1] >= 1
    assert "SOCIAL > EMAIL > REFERRAL" in actual
    assert actual["DIRECT > EMAIL"][2] >= 1


@pytest.mark.slow
def test_markov_matches_an_independent_solve(built, reference_paths):
    """Removal effects, registrations and P against numpy's solve of the same chain, to 1e-9; the
    transitions against the reference's counts; per-registration credits and the daily rows."""
    url, _, _ = built
    expected = markov(reference_paths)
    assert 0 < expected.conversion_probability < 1

    transitions = {
        (f, t): n
        for f, t, n in query(url, "select from_state, to_state, transitions from mart.markov_transitions")
    }
    assert transitions == transition_counts(reference_paths)

    rows = query(
        url,
        "select channel, removal_effect, registrations, conversion_probability "
        "from mart.markov_channel_attribution",
    )
    assert {row[0] for row in rows} == set(expected.removal_effects)
    for channel, effect, registrations, probability in rows:
        assert math.isclose(effect, expected.removal_effects[channel], abs_tol=TOLERANCE), channel
        assert math.isclose(registrations, expected.registrations[channel], abs_tol=TOLERANCE), channel
        assert math.isclose(probability, expected.conversion_probability, abs_tol=TOLERANCE)
    converting = sum(1 for p in reference_paths if p.registration and p.steps)
    assert math.isclose(sum(row[2] for row in rows), converting, abs_tol=1e-6)

    credits = query(
        url,
        "select c.user_id, r.registration_time, c.channel, c.markov_credit "
        "from mart.markov_credits as c join dwh.fct_registrations as r using (registration_key)",
    )
    actual: dict[tuple, float] = {(u, t, c): v for u, t, c, v in credits}
    assert len(actual) == len(credits)
    wanted = {
        (p.user_id, p.registration.registration_time, channel): credit
        for p in reference_paths
        if p.registration
        for channel, credit in markov_credits(p.steps, expected.removal_effects).items()
    }
    assert set(actual) == set(wanted)
    bad = [(k, actual[k], v) for k, v in wanted.items() if not math.isclose(actual[k], v, abs_tol=TOLERANCE)]
    assert not bad, f"{len(bad)} credits differ, e.g. {bad[:3]}"
    sums: dict[tuple, float] = defaultdict(float)
    for (user, time, _), credit in actual.items():
        sums[(user, time)] += credit
    assert all(math.isclose(total, 1.0, abs_tol=TOLERANCE) for total in sums.values())

    totals: dict[str, float] = defaultdict(float)
    for (_, _, channel), credit in wanted.items():
        totals[channel] += credit
    daily = dict(
        query(
            url,
            "select channel, sum(registrations) from mart.channel_attribution_daily "
            "where model = 'markov' group by channel",
        )
    )
    assert set(daily) == set(totals)
    for channel, total in totals.items():
        assert math.isclose(daily[channel], total, abs_tol=1e-6), channel


@pytest.mark.slow
def test_last_non_direct_on_the_edge_cases(built):
    url, _, _ = built
    rows = query(
        url,
        f"select r.user_id - {BIG}, c.channel from mart.attribution_credits as c "
        "join dwh.fct_registrations as r using (registration_key) "
        f"where r.user_id between {BIG} and {BIG + 100} and r.registration_time = '2020-06-10 12:00:00+00' "
        "and c.last_non_direct_credit = 1",
    )
    winner = dict(rows)
    assert winner[20] == "EMAIL"  # the DIRECT after it is passed over
    assert winner[11] == "PAID SEARCH"  # DIRECT 1 s before the registration is passed over
    assert winner[2] == "PAID SEARCH"  # out of the rule window, still the last non-direct touch
    assert winner[7] == UNATTRIBUTED  # no touch
    assert winner[16] == "SMS"  # the DIRECT 60 days before is outside the window
    assert winner[22] == "DIRECT"  # only DIRECT touches: the last of them
    assert winner[8] == UNATTRIBUTED  # only a DIRECT 40 days before: no touch in the window


@pytest.mark.slow
def test_dbt_unit_tests_pass_in_the_build(built):
    """The dbt unit tests (models/marts/mart/_mart_unit_tests.yml) ran in `dbt build` and passed."""
    _, _, output = built
    for name in (
        "user_paths_collapse_repeats",
        "registration_attribution_rule_windows_edges",
        "markov_transition_counts_of_three_channel_paths",
        "markov_transitions_of_three_channel_paths",
        "markov_removal_effects_of_three_channels",
    ):
        assert re.search(rf"PASS \S+::{name}\b", output), name
