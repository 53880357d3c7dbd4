"""Elementary's monitors of the raw feeds see the data: an ordinary month raises no anomaly, a day with 80 %
fewer sessions and a medium gone is flagged by the volume and the dimension (medium mix) monitors.
growth_etl builds Elementary's tables once, and its artifact tables again only after the project changed;
`growth dbt` builds them first where they are missing, and dbt leaves them out of a plain build. Its
alerts reach a Slack webhook: ``edr monitor``, as growth_etl's ``elementary_alerts`` task runs it, posts an
injected critical failure to a receiver on 127.0.0.1, and ``edr report``, as ``elementary_report`` runs it,
shows it.

Runs the real dbt project with Elementary's dbt package against real Postgres, so it needs the package
(`make install` with the dbt package hub reachable); it skips elsewhere, saying so.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from dbt_cases import duplicate_a_registration, query, run_dbt_in, run_results, write_csv
from pytest_httpserver import HTTPServer

from growth_analytics.load import load_files
from growth_analytics.orchestration import tasks
from growth_analytics.orchestration.airflow_env import CONN_ENV, airflow_env, prepare_manifest
from growth_analytics.orchestration.alerts import SLACK_WEBHOOK_ENV
from growth_analytics.settings import WAREHOUSE_URL_ENV
from growth_analytics.transform import dbt, elementary

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not dbt.elementary_installed(),
        reason="Elementary's dbt package is not installed in dbt_project/dbt_packages "
        "(`make install` installs it where the dbt package hub is reachable)",
    ),
]

SAMPLE = Path(__file__).resolve().parents[1] / "data"
SAMPLE_NEXT_DAY = date(2020, 7, 1)  # the day after the sample's last
FIRST_DAY = date(2020, 5, 1)
NORMAL_DAYS = 35
SESSIONS_A_DAY = 300
MIX = {"organic search": 0.4, "PAID SEARCH": 0.3, "DIRECT": 0.2, "IMPRESSION": 0.1}
VANISHING = "IMPRESSION"
MONITORS = ("volume_anomalies", "dimension_anomalies", "freshness_anomalies", "schema_changes")


def _day_rows(day: date, sessions: int, mix: dict[str, float], rng: random.Random) -> list[tuple]:
    """One day's sessions: the medium shares of ``mix`` (each within a few percent), spread over the day."""
    rows = []
    total = sum(mix.values())
    for medium, share in mix.items():
        for _ in range(round(sessions * share / total * rng.uniform(0.95, 1.05))):
            moment = datetime.combine(day, datetime.min.time()) + timedelta(seconds=rng.randrange(86_400))
            paid = "true" if medium in ("PAID SEARCH", "IMPRESSION") else "false"
            rows.append((rng.randrange(1, 10**12), moment.strftime("%Y-%m-%d %H:%M:%S"), paid, medium))
    return rows


def _land_day(folder: Path, day: date, sessions: int, mix: dict[str, float], rng: random.Random) -> Path:
    return write_csv(
        folder / f"sessions_{day.isoformat()}.csv",
        "user_id,time_started,is_paid,medium",
        _day_rows(day, sessions, mix, rng),
    )


def _monitor_results(
    url: str, target: Path, run_at: date, source: str = "raw.sessions"
) -> list[tuple[str, str, str]]:
    """Run Elementary's monitors of a source as if at ``run_at`` 00:00; (test, status, description)."""
    run_vars = json.dumps({"custom_run_started_at": f"{run_at.isoformat()}T00:00:00"})
    run_dbt_in(target, "test", "--select", f"source:{source},tag:elementary", "--vars", run_vars, check=False)
    (schema,) = query(
        url, "select table_schema from information_schema.tables where table_name = 'elementary_test_results'"
    )[0]
    invocation = json.loads((target / "run_results.json").read_text())["metadata"]["invocation_id"]
    return query(
        url,
        "select test_short_name, status, coalesce(test_results_description, '')"
        f" from {schema}.elementary_test_results where invocation_id = '{invocation}'"
        " order by test_short_name",
    )


def test_monitors_flag_a_day_with_fewer_sessions_and_a_vanished_medium(
    warehouse_url: str, tmp_path: Path
) -> None:
    rng = random.Random(19)
    landing = tmp_path / "landing"
    landing.mkdir()
    target = tmp_path / "target"
    days = [FIRST_DAY + timedelta(days=n) for n in range(NORMAL_DAYS)]
    load_files([_land_day(landing, day, SESSIONS_A_DAY, MIX, rng) for day in days], url=warehouse_url)
    run_dbt_in(target, "run", "--select", "package:elementary")

    normal = _monitor_results(warehouse_url, target, days[-1] + timedelta(days=1))
    assert {name for name, _, _ in normal} >= set(MONITORS), normal
    assert [row for row in normal if row[1] != "pass"] == [], "an ordinary month raised anomalies"

    # The next day: 80 % fewer sessions, and one medium no longer delivered at all.
    bad_day = days[-1] + timedelta(days=1)
    without = {medium: share for medium, share in MIX.items() if medium != VANISHING}
    load_files([_land_day(landing, bad_day, SESSIONS_A_DAY // 5, without, rng)], url=warehouse_url)

    flagged = _monitor_results(warehouse_url, target, bad_day + timedelta(days=1))
    status = {name: result for name, result, _ in flagged}
    assert status["volume_anomalies"] == "warn", flagged
    assert status["dimension_anomalies"] == "warn", flagged
    dimension = next(text for name, _, text in flagged if name == "dimension_anomalies")
    assert VANISHING in dimension, dimension
    assert status["schema_changes"] == "pass", flagged


def test_the_sample_raises_no_anomaly(warehouse_url: str, tmp_path: Path) -> None:
    """The data/ sample, scored the day after its last: its growth and its last day's spike are no alarm."""
    load_files([SAMPLE], url=warehouse_url)
    target = tmp_path / "target"
    run_dbt_in(target, "run", "--select", "package:elementary")
    results = _monitor_results(warehouse_url, target, SAMPLE_NEXT_DAY, source="raw")
    names = sorted(name for name, _, _ in results)
    assert names == sorted([*MONITORS, "volume_anomalies", "freshness_anomalies", "schema_changes"]), results
    assert [row for row in results if row[1] != "pass"] == [], results


def _report_data(report: Path) -> dict:
    """The data an Elementary report page carries (base64 JSON in its script)."""
    found = re.search(r"elementaryData = JSON\.parse\(atob\('([^']*)'\)", report.read_text())
    assert found, f"{report} carries no report data"
    return json.loads(base64.b64decode(found.group(1)))


def test_a_critical_failure_reaches_the_webhook_and_the_report(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if reason := elementary.off_reason():
        pytest.skip(reason)
    load_files([SAMPLE], url=warehouse_url)
    target = tmp_path / "target"
    run_dbt_in(target, "run", "--select", "package:elementary")
    run_dbt_in(target, "build", "--exclude-resource-type", "unit_test")
    duplicate_a_registration(warehouse_url)
    failing = "unique_index_enforces_fct_registrations_registration_key"
    run_dbt_in(target, "test", "--select", failing, check=False)
    assert run_results(target)[failing] == "fail"

    receiver = HTTPServer(host="127.0.0.1", port=0)
    receiver.expect_request("/slack/webhook", method="POST").respond_with_data("ok")
    receiver.start()
    monkeypatch.setenv(SLACK_WEBHOOK_ENV, receiver.url_for("/slack/webhook"))
    monkeypatch.setenv(CONN_ENV, airflow_env(warehouse_url, home=tmp_path)[CONN_ENV])
    try:
        tasks.edr_monitor()
    finally:
        receiver.stop()
    headers = [json.loads(request.get_data())["blocks"][0]["text"]["text"] for request, _ in receiver.log]
    failures = [header for header in headers if header.startswith("Failure")]
    assert len(failures) == 1, headers
    assert '"unique_index_enforces" test failed on' in failures[0], failures
    assert failures[0].endswith(".dwh.fct_registrations"), failures

    # growth_etl's elementary_report runs edr in the task's process and leaves that process as it found it
    monkeypatch.setenv("GROWTH_REPORTS_DIR", str(tmp_path / "reports"))
    edr_logger = logging.getLogger("elementary")
    before = (dict(os.environ), os.getcwd(), list(edr_logger.handlers))
    report = Path(tasks.edr_report())
    after = (dict(os.environ), os.getcwd(), list(edr_logger.handlers))
    changed = {k for k in before[0].keys() | after[0].keys() if before[0].get(k) != after[0].get(k)}
    assert not changed and after[1:] == before[1:], (changed, after[1:], before[1:])
    statuses = {
        result["metadata"]["test_unique_id"].split(".")[2]: result["metadata"]["latest_run_status"]
        for results in _report_data(report)["test_results"].values()
        for result in results
    }
    assert statuses[failing] == "fail", statuses
    assert statuses["not_null_dim_channel_channel"] == "pass", statuses


def test_elementary_models_are_built_once_and_the_artifacts_again_after_a_change(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONN_ENV, airflow_env(warehouse_url, home=tmp_path)[CONN_ENV])
    prepare_manifest(warehouse_url)

    def invocations() -> int:
        return query(warehouse_url, "select count(*) from elementary.dbt_invocations")[0][0]

    assert elementary.ALL_MODELS in tasks.build_elementary_models()
    assert query(warehouse_url, "select count(*) from elementary.dbt_models")[0][0] > 0
    built = invocations()
    assert tasks.build_elementary_models().startswith("Elementary's tables are up to date")
    assert invocations() == built, "a dbt invocation although nothing was to build"
    # Another project's artifacts uploaded since (another checkout's run on this warehouse): upload again.
    query(warehouse_url, f"update elementary.{elementary.UPLOAD_RECORD} set manifest_digest = 'another'")
    assert elementary.ARTIFACT_MODELS in tasks.build_elementary_models()
    assert invocations() == built + 1
    assert tasks.build_elementary_models().startswith("Elementary's tables are up to date")


def test_growth_dbt_builds_elementarys_tables_first_and_plain_builds_leave_its_models_out(
    warehouse_url: str, tmp_path: Path
) -> None:
    """A dbt command without --select leaves Elementary's models out (the default selector), so that a build
    does not upload the project's description again; on a new warehouse `growth dbt` builds them first, as
    growth_etl's first task does, and once they are there it builds nothing more."""
    load_files([SAMPLE], url=warehouse_url)
    target = tmp_path / "target"
    command = [str(Path(sys.executable).with_name("growth")), "dbt", "build", "--target-path", str(target)]
    env = {**os.environ, WAREHOUSE_URL_ENV: warehouse_url}

    first = subprocess.run(command, capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stdout[-3000:]
    assert f"built Elementary's models first ({elementary.ALL_MODELS})" in first.stderr
    results = json.loads((target / "run_results.json").read_text())["results"]
    built = [result["unique_id"] for result in results]
    assert not [uid for uid in built if uid.startswith("model.elementary.")]
    assert [uid for uid in built if ".elementary_source_" in uid], "Elementary's monitors of the raw feeds"
    assert query(warehouse_url, "select count(*) from elementary.dbt_models")[0][0] > 0

    again = subprocess.run(command, capture_output=True, text=True, env=env)
    assert again.returncode == 0, again.stdout[-3000:]
    assert "built Elementary's models" not in again.stderr
