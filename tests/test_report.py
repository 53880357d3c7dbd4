"""The growth report: `growth report` writes one self-contained page whose charts show the marts' numbers.

Real loader, dbt and Postgres over a small generated sample; the page is read back (the figures' JSON) and
compared with the marts queried here. Where Debian's chromium is installed, it opens the page headless.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict

import numpy as np
import pytest
from dbt_cases import query, run_dbt_in

from growth_analytics.generate import generate
from growth_analytics.load import load_files
from growth_analytics.report import TOP_PATHS, figures_in
from growth_analytics.settings import WAREHOUSE_URL_ENV

CHARTS = (
    "registrations_per_day",
    "models_side_by_side",
    "cost_per_registration",
    "top_paths",
    "hours_to_convert",
)


@pytest.fixture(scope="module")
def report(postgres_server, tmp_path_factory):
    """(warehouse url, the page) after loading a sample, `dbt build` and `growth report`."""
    tmp_path = tmp_path_factory.mktemp("report")
    url = postgres_server.create_database(f"test_report_{os.getpid()}")
    previous = os.environ.get(WAREHOUSE_URL_ENV)
    os.environ[WAREHOUSE_URL_ENV] = url
    try:
        load_files(generate(tmp_path / "data", sessions=3000, seed=5).files, url=url)
        build = run_dbt_in(tmp_path / "target", "build", check=False)
        assert build.returncode == 0, build.stdout[-3000:]
        out = tmp_path / "reports" / "attribution_report.html"
        done = subprocess.run(
            [sys.executable, "-m", "growth_analytics.cli", "report", "--out", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"growth report: {out}"
        yield url, out
    finally:
        if previous is None:
            os.environ.pop(WAREHOUSE_URL_ENV, None)
        else:
            os.environ[WAREHOUSE_URL_ENV] = previous


def _bars(figure: dict) -> dict[tuple[str, str], float]:
    """(trace name, x) -> y of a figure's bar traces."""
    return {
        (trace["name"], x): y for trace in figure["data"] for x, y in zip(trace["x"], trace["y"], strict=True)
    }


def _close(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for key, value in expected.items():
        assert math.isclose(actual[key], value, rel_tol=1e-9, abs_tol=1e-9), (key, actual[key], value)


@pytest.mark.slow
def test_the_charts_show_the_numbers_of_the_marts(report):
    url, out = report
    figures = figures_in(out.read_text(encoding="utf-8"))
    assert tuple(figures) == CHARTS

    daily = query(
        url,
        "select registration_date::text, model, channel, registrations from mart.channel_attribution_daily",
    )
    _close(
        _bars(figures["registrations_per_day"]),
        {(channel, day): float(n) for day, model, channel, n in daily if model == "rule_based"},
    )
    per_model: dict[tuple[str, str], float] = defaultdict(float)
    for _, model, channel, n in daily:
        per_model[model, channel] += float(n)
    _close(_bars(figures["models_side_by_side"]), dict(per_model))
    assert {name for name, _ in per_model} >= {"rule_based", "linear", "markov"}

    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for model, channel, spend, n in query(
        url, "select model, channel, spend, registrations from mart.channel_cost_daily"
    ):
        totals[model, channel][0] += float(spend)
        totals[model, channel][1] += float(n)
    costs = _bars(figures["cost_per_registration"])
    expected_costs = {key: spend / n for key, (spend, n) in totals.items() if spend > 0 and n > 0}
    assert {key for key, value in costs.items() if value is not None} == set(expected_costs)
    _close({key: value for key, value in costs.items() if value is not None}, expected_costs)
    assert ("last_touch", "PAID SEARCH") in expected_costs
    assert (
        "cost per registration (EUR)" in figures["cost_per_registration"]["layout"]["yaxis"]["title"]["text"]
    )

    paths = query(
        url,
        f"select path, converting from mart.conversion_paths where converting > 0"
        f" order by converting desc, path limit {TOP_PATHS}",
    )
    (trace,) = figures["top_paths"]["data"]
    assert list(zip(trace["y"], trace["x"], strict=True)) == [(path, n) for path, n in reversed(paths)]

    hours: dict[str, list[float]] = defaultdict(list)
    for channel, h in query(
        url,
        "select channel, hours_to_convert from mart.registration_attribution"
        " where hours_to_convert is not null",
    ):
        hours[channel].append(float(h))
    boxes = {trace["name"]: trace for trace in figures["hours_to_convert"]["data"]}
    assert set(boxes) == set(hours)
    for channel, values in hours.items():
        p05, q1, median, q3, p95 = np.percentile(values, [5, 25, 50, 75, 95])
        box = boxes[channel]
        got = (box["lowerfence"][0], box["q1"][0], box["median"][0], box["q3"][0], box["upperfence"][0])
        assert np.allclose(got, (p05, q1, median, q3, p95), rtol=1e-9, atol=1e-9), channel


@pytest.mark.slow
def test_the_page_requests_nothing_from_elsewhere(report):
    _, out = report
    page = out.read_text(encoding="utf-8")
    assert "Plotly.newPlot" in page and len(page) > 1_000_000  # the library is inline
    # No tag loads anything: no external script, style sheet, image, frame or font.
    assert not re.search(r"<(script|img|iframe|link|source|video|audio)\b[^>]*\b(src|href)\s*=", page, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", page, re.I)
    # Outside the library (whose code names URLs only for map traces, which the report has none of), the
    # page names no URL at all.
    own = page[page.index("</head>") :]
    assert not re.search(r"https?://", own), re.search(r".{80}https?://.{80}", own).group(0)
    figures = figures_in(page)
    assert {trace["type"] for f in figures.values() for trace in f["data"]} == {"bar", "box"}


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_chromium_renders_every_chart(report, tmp_path):
    _, out = report
    dom = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: the page must need none
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            out.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    ).stdout
    for chart in CHARTS:
        # plotly adds its SVG (class main-svg) inside the chart's div once it has drawn it
        section = dom[dom.index(f'id="{chart}"') :]
        assert 'class="main-svg"' in section[: section.find("</section>")], chart


def test_growth_run_names_the_report_only_when_its_task_wrote_it(tmp_path):
    from growth_analytics import pipeline

    (tmp_path / "attribution_report.html").write_text("an earlier run's report")
    written = pipeline.report_messages(
        [("attribution_report", "success", 1.0)], tmp_path, "Elementary is off"
    )
    assert written == [f"Growth report: {tmp_path / 'attribution_report.html'}", "Elementary is off"]
    failed = pipeline.report_messages([("attribution_report", "upstream_failed", 0.0)], tmp_path, None)
    assert failed == [
        "the growth report was not written (task attribution_report did not succeed; see the log)"
    ]


def test_growth_report_before_any_build_says_what_to_do_in_one_line(warehouse_url, tmp_path):
    out = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "growth_analytics.cli", "report", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        'growth report: relation "mart.channel_attribution_daily" does not exist:'
        " build the marts first (growth run, or growth dbt build)\n"
    )
    assert not out.exists()
