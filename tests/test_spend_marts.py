"""The cost marts against an independent computation in Python, row by row (real loader, dbt, Postgres).

Data: a small generated sample (its spend feed included) plus hand-made spend rows for the edges: spend on
a day without registrations, a medium with spend and no sessions (spelled two ways, on one day, so its
rows add up), and channels with registrations and no spend (organic search, which is never paid for).
"""

from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from attribution_reference import MODELS
from dbt_cases import query, run_dbt_in

from growth_analytics.generate import generate
from growth_analytics.load import STATUS_LOADED, load_files
from growth_analytics.settings import WAREHOUSE_URL_ENV

PROJECT_DIR = Path(__file__).resolve().parents[1]
RULES = PROJECT_DIR / "dbt_project" / "seeds" / "attribution_rules.csv"
EDGE_SPEND = (
    "medium,spend_date,spend\n"
    " paid search ,2019-03-01,10.5\n"  # a day without any registration
    "RADIO,2020-06-10,77.7\n"  # a medium without sessions ...
    "radio ,2020-06-10,0.3\n"  # ... twice on one day: the rows add up
)

Key = tuple[str, str, str]  # (day, model, channel)


@pytest.fixture(scope="module")
def built(postgres_server, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("spend_marts")
    url = postgres_server.create_database(f"test_spend_marts_{os.getpid()}")
    previous = os.environ.get(WAREHOUSE_URL_ENV)
    os.environ[WAREHOUSE_URL_ENV] = url
    try:
        files = generate(tmp_path / "data", sessions=3000, seed=11).files
        edges = tmp_path / "spend_edges.csv"
        edges.write_text(EDGE_SPEND)
        results = load_files([*files, edges], url=url)
        assert [(r.status, r.rows_rejected) for r in results] == [(STATUS_LOADED, 0)] * len(results)
        build = run_dbt_in(tmp_path / "target", "build", check=False)
        assert build.returncode == 0, build.stdout[-3000:]
        yield url, [p for p in [*files, edges] if p.name.startswith("spend")]
    finally:
        if previous is None:
            os.environ.pop(WAREHOUSE_URL_ENV, None)
        else:
            os.environ[WAREHOUSE_URL_ENV] = previous


def _spend_by_day_and_medium(files: list[Path]) -> dict[tuple[str, str], Decimal]:
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for path in files:
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                row = {name.lower(): value for name, value in row.items()}
                sums[row["spend_date"], row["medium"].strip(" \t\r\n").upper()] += Decimal(row["spend"])
    return sums


def _rule_label_of_medium() -> tuple[dict[str, str], str]:
    """The label of the first rule (by priority) per medium, and the catch-all rule's label."""
    with RULES.open(newline="") as handle:
        rules = sorted(csv.DictReader(handle), key=lambda rule: int(rule["priority"]))
    by_medium: dict[str, str] = {}
    for rule in rules:
        if rule["medium"]:
            by_medium.setdefault(rule["medium"].strip().upper(), rule["label"])
    catch_all = next(rule["label"] for rule in rules if not rule["medium"])
    return by_medium, catch_all


def expected_daily(url: str, spend_files: list[Path]) -> dict[Key, tuple[Decimal, float]]:
    """(day, model, channel) -> (spend, registrations), from the spend files, the rules seed and the
    registrations of channel_attribution_daily (checked against their own reference elsewhere)."""
    by_medium, catch_all = _rule_label_of_medium()
    rows: dict[Key, list] = defaultdict(lambda: [Decimal(0), 0.0])
    for (day, medium), spend in _spend_by_day_and_medium(spend_files).items():
        rows[day, "rule_based", by_medium.get(medium, catch_all)][0] += spend
        for model in (*MODELS[1:], "markov"):
            rows[day, model, medium][0] += spend
    for day, model, channel, registrations in query(
        url,
        "select registration_date::text, model, channel, registrations from mart.channel_attribution_daily",
    ):
        rows[day, model, channel][1] += registrations
    return {key: (spend, registrations) for key, (spend, registrations) in rows.items()}


def _check_rows(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for key, (spend, registrations, cost) in actual.items():
        want_spend, want_registrations = expected[key]
        assert spend == want_spend, key
        assert math.isclose(registrations, want_registrations, rel_tol=1e-9, abs_tol=1e-9), key
        if want_registrations == 0:
            assert cost is None, key
        else:
            assert math.isclose(cost, float(want_spend) / want_registrations, rel_tol=1e-9), key


@pytest.mark.slow
def test_channel_cost_daily_equals_the_independent_computation(built):
    url, spend_files = built
    expected = expected_daily(url, spend_files)
    rows = query(
        url,
        "select date_day::text, model, channel, spend, registrations, cost_per_registration, currency"
        " from mart.channel_cost_daily",
    )
    actual = {
        (day, model, channel): (spend, regs, cost) for day, model, channel, spend, regs, cost, _ in rows
    }
    assert len(actual) == len(rows)
    assert {row[-1] for row in rows} == {"EUR"}
    _check_rows(actual, expected)
    # The edges, spelled out: spend no registration was credited to stays, with no cost per registration.
    assert actual["2019-03-01", "rule_based", "PAID_SEARCH"] == (Decimal("10.5"), 0, None)
    assert actual["2019-03-01", "linear", "PAID SEARCH"] == (Decimal("10.5"), 0, None)
    assert actual["2020-06-10", "rule_based", "OTHERS"][0] >= Decimal("78.0")
    assert actual["2020-06-10", "markov", "RADIO"] == (Decimal("78.0"), 0, None)
    organic = [value for (_, model, channel), value in actual.items() if channel == "ORGANIC SEARCH"]
    assert organic and all(spend == 0 and regs > 0 and cost == 0 for spend, regs, cost in organic)
    paid = {
        channel: float(sum(v[0] for k, v in expected.items() if k[1:] == ("last_touch", channel)))
        / sum(v[1] for k, v in expected.items() if k[1:] == ("last_touch", channel))
        for channel in ("PAID SEARCH", "AFFILIATE")
    }
    assert paid["AFFILIATE"] > 1.3 * paid["PAID SEARCH"], paid  # the generator's cost levels differ clearly


@pytest.mark.slow
def test_channel_cost_monthly_rolls_up_the_days(built):
    url, spend_files = built
    months: dict[Key, list] = defaultdict(lambda: [Decimal(0), 0.0])
    for (day, model, channel), (spend, registrations) in expected_daily(url, spend_files).items():
        month = months[day[:7], model, channel]
        month[0] += spend
        month[1] += registrations
    rows = query(
        url,
        "select to_char(make_date(year, month, 1), 'YYYY-MM'), model, channel, spend, registrations,"
        " cost_per_registration from mart.channel_cost_monthly",
    )
    actual = {
        (month, model, channel): (spend, regs, cost) for month, model, channel, spend, regs, cost in rows
    }
    assert len(actual) == len(rows)
    _check_rows(actual, {key: tuple(value) for key, value in months.items()})


@pytest.mark.slow
def test_spend_in_another_currency_stops_the_cost_marts(built, tmp_path):
    """Runs last: it adds a USD file to the module's warehouse."""
    url, _ = built
    before = query(url, "select count(*), sum(spend) from mart.channel_cost_daily")
    usd = tmp_path / "spend_usd.csv"
    usd.write_text("spend_date,medium,spend,currency\n2020-06-01,TV,100,USD\n")
    (result,) = load_files([usd], url=url)
    assert result.status == STATUS_LOADED
    build = run_dbt_in(tmp_path / "target", "build", "--select", "stg_spend+", check=False)
    assert build.returncode != 0
    assert "accepted_values_stg_spend_currency" in build.stdout
    assert query(url, "select count(*), sum(spend) from mart.channel_cost_daily") == before
