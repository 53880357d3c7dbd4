"""growth_etl in a running ``growth stack``, through Airflow's REST API: trigger a run, wait for it, read
its task instances (used by ``growth stack trigger``, the benchmark and the tests)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from growth_analytics.orchestration.airflow_env import DAG_ID

POLL_S = 1.0
# A run's time is Airflow's own start and end; each look at a running run costs the api-server CPU that the
# run would otherwise have.
RUN_POLL_S = 5.0
SCHEDULE_GRACE_S = 30.0  # how long an unpaused DAG's schedule may take to queue its latest interval


class StackApiError(RuntimeError):
    pass


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class TaskRun:
    task_id: str
    state: str | None
    hostname: str
    duration_s: float


@dataclass(frozen=True)
class FinishedRun:
    """A finished DAG run: its state, its duration from Airflow's start to end, and its task instances."""

    run_id: str
    state: str
    duration_s: float
    tasks: list[TaskRun]

    @property
    def task_seconds(self) -> float:
        return sum(task.duration_s for task in self.tasks)

    @property
    def tasks_per_host(self) -> dict[str, int]:
        return dict(Counter(task.hostname for task in self.tasks if task.hostname))

    @property
    def unsuccessful(self) -> dict[str, str | None]:
        return {t.task_id: t.state for t in self.tasks if t.state not in ("success", "skipped")}


class StackClient:
    """Airflow's REST API of the stack, logged in with a JWT from ``/auth/token``."""

    def __init__(self, api_url: str, username: str, password: str, timeout: float = 60.0) -> None:
        token = httpx.post(
            f"{api_url}/auth/token", json={"username": username, "password": password}, timeout=timeout
        )
        token.raise_for_status()
        self.api = httpx.Client(
            base_url=f"{api_url}/api/v2",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=timeout,
        )

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> StackClient:
        if not status.get("running"):
            raise StackApiError("the stack is not running (growth stack up)")
        return cls(str(status["api_url"]), str(status["username"]), str(status["password"]))

    def close(self) -> None:
        self.api.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.api.request(method, path, **kwargs)
        if response.is_error:
            raise StackApiError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def wait_for_dag(self, dag_id: str = DAG_ID, timeout: float = 300.0) -> None:
        """Until the dag-processor has parsed the DAG file and the API knows the DAG."""
        deadline = time.monotonic() + timeout
        while self.api.get(f"/dags/{dag_id}").status_code != 200:
            if time.monotonic() > deadline:
                raise StackApiError(f"{dag_id} not parsed after {timeout:.0f} s")
            time.sleep(POLL_S)

    def is_paused(self, dag_id: str = DAG_ID) -> bool:
        return bool(self._json("GET", f"/dags/{dag_id}")["is_paused"])

    def unpause(self, dag_id: str = DAG_ID) -> bool:
        """Unpause the DAG; True if it was paused (its schedule then queues the latest interval)."""
        paused = self.is_paused(dag_id)
        if paused:
            self._json("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        return paused

    def active_runs(self, dag_id: str = DAG_ID) -> list[str]:
        runs = self._json("GET", f"/dags/{dag_id}/dagRuns", params={"state": ["queued", "running"]})
        return [run["dag_run_id"] for run in runs["dag_runs"]]

    def run_once(self, dag_id: str = DAG_ID, timeout: float = 3600.0) -> FinishedRun:
        """One whole run: the one the schedule queues when the DAG is unpaused here, else a triggered one.

        A run already in progress is waited for first, so that the run measured has the workers to itself.
        """
        if self.unpause(dag_id):
            deadline = time.monotonic() + SCHEDULE_GRACE_S
            while time.monotonic() < deadline:
                queued = self.active_runs(dag_id)
                if queued:
                    return self.wait(queued[0], dag_id, timeout)
                time.sleep(POLL_S)
        for run_id in self.active_runs(dag_id):
            self.wait(run_id, dag_id, timeout)
        return self.wait(self.trigger(dag_id), dag_id, timeout)

    def trigger(self, dag_id: str = DAG_ID) -> str:
        return str(self._json("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})["dag_run_id"])

    def wait(self, run_id: str, dag_id: str = DAG_ID, timeout: float = 3600.0) -> FinishedRun:
        deadline = time.monotonic() + timeout
        while True:
            run = self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                break
            if time.monotonic() > deadline:
                raise StackApiError(f"run {run_id} still {run['state']} after {timeout:.0f} s")
            time.sleep(RUN_POLL_S)
        started, ended = _instant(run["start_date"]), _instant(run["end_date"])
        duration = (ended - started).total_seconds() if started and ended else float("nan")
        return FinishedRun(run_id, str(run["state"]), duration, self.task_runs(run_id, dag_id))

    def task_runs(self, run_id: str, dag_id: str = DAG_ID) -> list[TaskRun]:
        listing = self._json("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        return [
            TaskRun(ti["task_id"], ti["state"], ti.get("hostname") or "", float(ti.get("duration") or 0.0))
            for ti in listing["task_instances"]
        ]
