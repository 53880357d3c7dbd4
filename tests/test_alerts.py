"""Alerts to a Slack webhook: the failed-run message reaches a real HTTP receiver on 127.0.0.1, names the
failed tasks and links the run; no webhook, no post; a receiver that refuses the post fails the callback
(so Airflow logs it); growth_etl's ``run_status`` carries the notifier. The whole path, a critical failure
in a real DAG run posting to the receiver, is in test_airflow_e2e.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from growth_analytics.orchestration import alerts
from growth_analytics.transform import dbt

WEBHOOK_PATH = "/services/T000/B000/XXXX"


@pytest.fixture
def receiver() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def test_failed_run_message_reaches_the_webhook(receiver: HTTPServer) -> None:
    receiver.expect_request(WEBHOOK_PATH, method="POST").respond_with_data("ok")
    url = alerts.run_url("growth_etl", "manual__2026-01-01T00:00:00+00:00")
    message = alerts.failed_run_message(
        "growth_etl", "manual__2026-01-01T00:00:00+00:00", ["dbt_dwh.critical_checks", "load_sessions"], url
    )
    alerts.post_to_slack(receiver.url_for(WEBHOOK_PATH), message)

    (request, _), *rest = receiver.log
    assert rest == []
    assert request.headers["Content-Type"] == "application/json"
    text = json.loads(request.get_data())["text"]
    assert "`dbt_dwh.critical_checks`, `load_sessions`" in text
    assert "growth_etl" in text and "manual__2026-01-01T00:00:00+00:00" in text
    assert "/dags/growth_etl/runs/manual__2026-01-01T00%3A00%3A00%2B00%3A00" in text


def test_a_refused_post_raises(receiver: HTTPServer) -> None:
    receiver.expect_request(WEBHOOK_PATH, method="POST").respond_with_data("invalid_token", status=403)
    with pytest.raises(urllib.error.HTTPError, match="403"):
        alerts.post_to_slack(receiver.url_for(WEBHOOK_PATH), {"text": "x"})


def test_no_webhook_no_post(monkeypatch: pytest.MonkeyPatch, receiver: HTTPServer) -> None:
    monkeypatch.delenv(alerts.SLACK_WEBHOOK_ENV, raising=False)
    assert alerts.slack_webhook_url() is None
    alerts.FailedRunNotifier().notify({})  # returns before it needs anything of the context
    monkeypatch.setenv(alerts.SLACK_WEBHOOK_ENV, "  ")
    assert alerts.slack_webhook_url() is None
    assert receiver.log == []


def test_run_status_carries_the_notifier(tmp_path: Path) -> None:
    """growth_etl as Airflow parses it: the notifier is run_status' failure callback, and nothing else's."""
    with socket.socket() as sock:  # a port nobody listens on: dbt parse needs no server
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    dbt.ensure_manifest(f"postgresql://growth:unused@127.0.0.1:{closed}/growth")
    script = (
        "from growth_analytics.orchestration.dag_factory import build_growth_etl\n"
        "from growth_analytics.orchestration.alerts import FailedRunNotifier\n"
        "dag = build_growth_etl()\n"
        "for t in dag.tasks:\n"
        "    callbacks = t.on_failure_callback or []\n"
        "    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]\n"
        "    if any(isinstance(c, FailedRunNotifier) for c in callbacks): print('NOTIFIES:', t.task_id)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        # Cosmos' cache in this Airflow home, not in /tmp/cosmos, which every checkout shares
        env={**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__COSMOS__CACHE_DIR": str(tmp_path / "cc")},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    notifying = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("NOTIFIES:")]
    assert notifying == ["run_status"]
