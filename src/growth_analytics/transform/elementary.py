"""Elementary's setup and its CLI (edr): packages at install time, what a run must build of Elementary's
models, edr's config, Airflow's run metadata.

``python -m growth_analytics.transform.elementary deps`` (run by ``make install``) installs Elementary's dbt
package in ``dbt_project/`` and the packages of edr's internal dbt project, each ``dbt deps`` with a short
timeout. Where the dbt package hub cannot be reached it says so once, with the reason, and everything runs
without Elementary. edr never installs packages itself: its config sets ``run_dbt_deps_if_needed: false``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from growth_analytics import settings
from growth_analytics.transform import dbt
from growth_analytics.warehouse.connect import connect

DEPS_TIMEOUT_SECONDS = 120
EDR_USER_CONFIG = Path("~/.edr/config.yml")
# What growth_etl needs of edr; a key the user's own config sets is left as the user set it.
EDR_DEFAULTS: dict[str, Any] = {"anonymous_usage_tracking": False, "run_dbt_deps_if_needed": False}


def internal_project_dir() -> Path:
    """edr's internal dbt project (inside the installed elementary-data package)."""
    from elementary.monitor.dbt_project_utils import CLI_DBT_PROJECT_PATH

    return Path(CLI_DBT_PROJECT_PATH)


def internal_project_ready() -> bool:
    return dbt.elementary_installed(internal_project_dir())


def off_reason() -> str | None:
    """Why growth_etl runs without Elementary, or None when both dbt projects have their packages."""
    reason = dbt.elementary_off_reason()
    if reason or internal_project_ready():
        return reason
    return (
        "Elementary is off: edr's internal dbt project has no packages. Run `make install` (or "
        "`python -m growth_analytics.transform.elementary deps`) where the dbt package hub is reachable."
    )


def _deps(project: Path, timeout: float) -> str | None:
    """``dbt deps`` in a project; the reason it failed, or None."""
    try:
        proc = subprocess.run(
            [dbt.dbt_executable(), "deps", "--project-dir", str(project)],
            cwd=project,
            env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"`dbt deps` in {project.name}/ took over {timeout:.0f} s (is the dbt package hub reachable?)"
    if proc.returncode == 0:
        return None
    lines = [line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()] or lines or ["no output"]
    return f"`dbt deps` in {project.name}/ failed: {errors[-1]}"


def install_packages(timeout: float | None = None) -> str | None:
    """Install Elementary's dbt package and edr's internal project's packages; the reason when not."""
    timeout = DEPS_TIMEOUT_SECONDS if timeout is None else timeout
    for project, ready in (
        (settings.dbt_project_dir(), dbt.elementary_installed),
        (internal_project_dir(), internal_project_ready),
    ):
        if ready():
            continue
        failure = _deps(project, timeout)
        if failure:
            return failure
    return None


# Elementary's tables describing the project (models, tests, sources, ...): filled by their post-hooks.
ARTIFACT_MODELS = "elementary.edr.dbt_artifacts"
ALL_MODELS = "package:elementary"
# The manifest's sections those tables describe.
ARTIFACT_SECTIONS = ("nodes", "sources", "exposures", "metrics", "groups", "semantic_models")
# Where growth_etl records the manifest whose artifacts it uploaded, beside Elementary's tables.
UPLOAD_RECORD = "growth_etl_artifacts_upload"


def package_version(project: Path | None = None) -> str:
    """The version of Elementary's installed dbt package."""
    return str(yaml.safe_load(dbt.elementary_package_file(project).read_text())["version"])


def _without_parse_time(node: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in node.items() if key != "created_at"}


def artifacts_digest(manifest: Mapping[str, Any], version: str) -> str:
    """A digest of what Elementary's artifact tables hold: the manifest's nodes, sources, exposures, ...
    without their parse times, and the package version whose macros upload them."""
    sections = {
        name: {key: _without_parse_time(node) for key, node in manifest[name].items()}
        for name in ARTIFACT_SECTIONS
        if isinstance(manifest.get(name), dict)
    }
    text = json.dumps({"package": version, **sections}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _package_relations(manifest: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Elementary's models in the manifest: name -> (schema, relation name)."""
    return {
        node["name"]: (node["schema"], node["alias"])
        for node in manifest["nodes"].values()
        if node["package_name"] == "elementary"
        and node["resource_type"] == "model"
        and node["config"].get("enabled", True)
        and node["config"].get("materialized") != "ephemeral"
    }


def models_to_build(url: str, manifest: Mapping[str, Any], version: str) -> str | None:
    """What a run must build of Elementary's models before the project's build, as a dbt selector.

    All of them (``package:elementary``) when one is missing or its tables were built by another package
    version (Elementary asks for ``dbt run --select elementary`` after an upgrade); only the artifact tables
    when the project changed since growth_etl last uploaded them; None when the warehouse is up to date.
    The run results and test results are not among them: the build's own hooks upload those.
    """
    relations = _package_relations(manifest)
    if "metadata" not in relations:
        return ALL_MODELS
    schema = relations["metadata"][0]
    with connect(url) as conn:
        existing = set(
            conn.execute(
                "select n.nspname, c.relname from pg_class as c"
                " join pg_namespace as n on n.oid = c.relnamespace where n.nspname = any(%s)",
                [sorted({rel_schema for rel_schema, _ in relations.values()})],
            ).fetchall()
        )
        if not set(relations.values()) <= existing:
            return ALL_MODELS
        built_by = conn.execute(f'select dbt_pkg_version from "{schema}"."metadata"').fetchall()
        if built_by != [(version,)]:
            return ALL_MODELS
        if (schema, UPLOAD_RECORD) not in existing:
            return ARTIFACT_MODELS
        uploaded = conn.execute(f'select manifest_digest from "{schema}"."{UPLOAD_RECORD}"').fetchall()
    return None if uploaded == [(artifacts_digest(manifest, version),)] else ARTIFACT_MODELS


def record_artifacts_upload(url: str, manifest: Mapping[str, Any], version: str) -> None:
    """After Elementary's models were built: the manifest whose artifacts they now hold."""
    schema = _package_relations(manifest)["metadata"][0]
    table = f'"{schema}"."{UPLOAD_RECORD}"'
    with connect(url) as conn:
        conn.execute(
            f"create table if not exists {table} (manifest_digest text not null, uploaded_at timestamptz)"
        )
        conn.execute(f"delete from {table}")
        conn.execute(f"insert into {table} values (%s, now())", [artifacts_digest(manifest, version)])


def bring_tables_up_to_date(
    url: str, manifest: Mapping[str, Any], run_dbt_command: Callable[[list[str]], object]
) -> str | None:
    """Build what the warehouse lacks of Elementary's models (:func:`models_to_build`) with
    ``run_dbt_command(dbt args)``, and record the upload; the selector built, or None when nothing was."""
    version = package_version()
    select = models_to_build(url, manifest, version)
    if select is not None:
        run_dbt_command(["run", "--select", select])
        record_artifacts_upload(url, manifest, version)
    return select


def config_dir(user_config: Path = EDR_USER_CONFIG) -> Path:
    """edr's config dir for growth_etl: the user's ``~/.edr/config.yml`` plus :data:`EDR_DEFAULTS`."""
    user_file = user_config.expanduser()
    config: dict[str, Any] = {}
    if user_file.exists():
        loaded = yaml.safe_load(user_file.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{user_file}: edr's config must be a mapping")
        config.update(loaded)
    for key, value in EDR_DEFAULTS.items():
        config.setdefault(key, value)
    folder = settings.state_dir() / "edr"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def edr_args(subcommand: str, *args: str) -> list[str]:
    """``edr SUBCOMMAND``'s arguments: growth_etl's dbt project and warehouse, its own target folder."""
    folder = config_dir()
    return [
        subcommand,
        "--project-dir",
        str(dbt.active_project_dir()),
        "--profiles-dir",
        str(settings.dbt_project_dir()),
        "--config-dir",
        str(folder),
        "--target-path",
        str(folder / "target"),
        *args,
    ]


def edr_command(subcommand: str, *args: str) -> list[str]:
    """``edr SUBCOMMAND`` as a command line (see :func:`edr_args`)."""
    beside_dbt = Path(dbt.dbt_executable()).with_name("edr")
    return [str(beside_dbt) if beside_dbt.exists() else "edr", *edr_args(subcommand, *args)]


def edr_env(url: str) -> dict[str, str]:
    """Environment for an edr command: dbt's, against the warehouse at ``url``."""
    # edr's internal project writes manifest.json at each of its ~18 run-operations, read by nobody
    return {**dbt.dbt_env(url), "DBT_WRITE_JSON": "false"}


def run_edr(subcommand: str, *args: str, url: str) -> None:
    """``edr SUBCOMMAND ARGS`` in this process, as the dbt tasks run dbt, against the warehouse at ``url``.

    A task's process starts with dbt imported (its worker preloads it), which a new edr process would import
    again. The environment, the working folder and edr's log handlers are restored afterwards; a failure
    raises.
    """
    edr_logger = logging.getLogger("elementary")
    handlers_before = list(edr_logger.handlers)
    try:
        with dbt.environment_restored():
            os.chdir(dbt.active_project_dir())
            # on import edr prints its logo, asks PyPI for a newer version and logs to ./edr_target
            from elementary.cli.cli import cli

            os.environ.update(edr_env(url))
            cli.main(edr_args(subcommand, *args), prog_name="edr", standalone_mode=False)
    except SystemExit as exited:
        if exited.code:
            raise RuntimeError(
                f"edr {subcommand} failed with exit code {exited.code} (its log above)"
            ) from None
    finally:
        for handler in [h for h in edr_logger.handlers if h not in handlers_before]:
            edr_logger.removeHandler(handler)
            handler.close()


def job_env(dag_id: str, run_id: str, run_url: str, airflow_url: str) -> dict[str, str]:
    """The variables Elementary reads to link an invocation to its orchestrator's job and run."""
    return {
        "ORCHESTRATOR": "airflow",
        "JOB_ID": dag_id,
        "JOB_NAME": dag_id,
        "JOB_RUN_ID": run_id,
        "JOB_URL": f"{airflow_url}/dags/{dag_id}",
        "JOB_RUN_URL": run_url,
        "AIRFLOW_URL": airflow_url,
    }


def set_job_env(context: Mapping[str, Any]) -> None:
    """Before a task: Elementary's job variables, for the dbt invocations the task makes."""
    from growth_analytics.orchestration.alerts import airflow_base_url, run_url

    ti = context["ti"]
    os.environ.update(job_env(ti.dag_id, ti.run_id, run_url(ti.dag_id, ti.run_id), airflow_base_url()))


def main(argv: list[str]) -> int:
    if argv != ["deps"]:
        print("usage: python -m growth_analytics.transform.elementary deps", file=sys.stderr)
        return 2
    failure = install_packages()
    if failure:
        print(f"Elementary is off: {failure}. Everything else runs without it.", file=sys.stderr)
    else:
        print("Elementary: dbt packages installed (dbt_project/ and edr's internal project)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
