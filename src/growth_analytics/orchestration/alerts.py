"""Alerts of growth_etl to a Slack incoming webhook, configured by one setting: ``GROWTH_SLACK_WEBHOOK_URL``.

:class:`FailedRunNotifier` is the ``on_failure_callback`` of growth_etl's ``run_status`` task, which fails
exactly when another task of the run failed: it posts the run, the failed tasks and a link to the run. It
needs nothing but the webhook (not Elementary). Elementary's own alerts (its tests' failures and warnings)
are sent by ``edr monitor`` in the ``elementary_alerts`` task, to the same webhook.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

SLACK_WEBHOOK_ENV = "GROWTH_SLACK_WEBHOOK_URL"
POST_TIMEOUT_SECONDS = 10


def slack_webhook_url() -> str | None:
    """The configured Slack webhook URL, or None when alerts are off."""
    return os.environ.get(SLACK_WEBHOOK_ENV, "").strip() or None


def airflow_base_url() -> str:
    """The Airflow UI's address, as Airflow itself builds its links (``[api] base_url``)."""
    from airflow.sdk.configuration import conf

    return conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")


def run_url(dag_id: str, run_id: str) -> str:
    return f"{airflow_base_url()}/dags/{quote(dag_id)}/runs/{quote(run_id)}"


def failed_run_message(dag_id: str, run_id: str, failed_tasks: Iterable[str], url: str) -> dict[str, str]:
    """The Slack message of a failed run (Slack's ``text`` field, mrkdwn)."""
    tasks = ", ".join(f"`{task_id}`" for task_id in sorted(failed_tasks)) or "an upstream task"
    return {"text": f":red_circle: {dag_id} run `{run_id}` failed in {tasks}. <{url}|Open the run>"}


def post_to_slack(webhook_url: str, message: dict[str, str]) -> None:
    """POST a message to a Slack incoming webhook; an HTTP error or an unreachable host raises."""
    request = urllib.request.Request(
        webhook_url,
        data=json.dumps(message).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=POST_TIMEOUT_SECONDS) as response:
        response.read()


def failed_task_ids(context: Any) -> list[str]:
    """The tasks of the context's DAG run that failed, other than the one running the callback."""
    ti = context["ti"]
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    return sorted(task_id for task_id, state in states.items() if state == "failed" and task_id != ti.task_id)


class FailedRunNotifier(BaseNotifier):
    """Posts a failed run of the DAG, naming its failed tasks, to the Slack webhook (when one is set)."""

    def notify(self, context: Any) -> None:
        webhook = slack_webhook_url()
        if not webhook:
            log.info("no alert sent: %s is not set", SLACK_WEBHOOK_ENV)
            return
        ti = context["ti"]
        message = failed_run_message(
            ti.dag_id, ti.run_id, failed_task_ids(context), run_url(ti.dag_id, ti.run_id)
        )
        post_to_slack(webhook, message)
        log.info("alert sent to the Slack webhook: %s", message["text"])
