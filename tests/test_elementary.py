"""Elementary's setup without its packages: edr's config keeps the user's and never lets edr install
packages, `dbt deps` at install gives up after its timeout with the reason, a run builds only what the
warehouse lacks of Elementary's models, a plain dbt command leaves them out, and Airflow's run reaches
Elementary's job variables."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
import yaml

from growth_analytics.transform import dbt, elementary

PROJECT_DIR = Path(__file__).resolve().parents[1]


def test_edr_config_keeps_the_users_settings_and_adds_no_deps(tmp_path: Path) -> None:
    user = tmp_path / "home" / ".edr" / "config.yml"
    user.parent.mkdir(parents=True)
    user.write_text(
        "anonymous_usage_tracking: true\nslack:\n  notification_webhook: https://example.invalid/x\n"
    )

    config = yaml.safe_load((elementary.config_dir(user) / "config.yml").read_text())

    assert config["anonymous_usage_tracking"] is True  # the user's choice stands
    assert config["slack"] == {"notification_webhook": "https://example.invalid/x"}
    assert config["run_dbt_deps_if_needed"] is False
    assert user.read_text().startswith("anonymous_usage_tracking: true")  # the user's file is not touched


def test_edr_config_without_a_user_config(tmp_path: Path) -> None:
    config = yaml.safe_load((elementary.config_dir(tmp_path / "none.yml") / "config.yml").read_text())
    assert config == {"anonymous_usage_tracking": False, "run_dbt_deps_if_needed": False}


def test_a_user_config_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    user = tmp_path / "config.yml"
    user.write_text("- a list\n")
    with pytest.raises(ValueError, match=f"{user}: edr's config must be a mapping"):
        elementary.config_dir(user)


def test_edr_commands_use_growth_etls_config_and_their_own_target(tmp_path: Path) -> None:
    command = elementary.edr_args("report", "--file-path", "x.html")
    assert command[0] == "report" and command[-2:] == ["--file-path", "x.html"]
    config = Path(command[command.index("--config-dir") + 1])
    assert yaml.safe_load((config / "config.yml").read_text())["run_dbt_deps_if_needed"] is False
    assert Path(command[command.index("--target-path") + 1]) == config / "target"


@pytest.mark.skipif(dbt.elementary_installed(), reason="Elementary's dbt package is installed here")
def test_deps_gives_up_after_its_timeout_and_says_why() -> None:
    reason = elementary.install_packages(timeout=0.01)
    assert reason is not None and "dbt deps" in reason and "dbt_project/" in reason
    assert not dbt.elementary_installed()


@pytest.mark.skipif(dbt.elementary_installed(), reason="Elementary's dbt package is installed here")
def test_without_the_package_the_install_goes_on_and_says_why_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(elementary, "DEPS_TIMEOUT_SECONDS", 0.01)  # as if the hub never answered
    assert elementary.main(["deps"]) == 0
    err = capsys.readouterr().err
    assert err.count("Elementary is off:") == 1 and "took over" in err, err
    assert elementary.off_reason() is not None and elementary.off_reason().startswith("Elementary is off:")


def test_make_install_installs_elementarys_packages() -> None:
    recipe = (PROJECT_DIR / "Makefile").read_text().split("$(VENV)/.installed:", 1)[1].split("\n\n", 1)[0]
    assert "-m growth_analytics.transform.elementary deps" in recipe


def test_airflow_run_reaches_elementarys_job_variables() -> None:
    env = elementary.job_env(
        "growth_etl",
        "manual__2026-01-01",
        "http://ui:8080/dags/growth_etl/runs/manual__2026-01-01",
        "http://ui:8080",
    )
    assert env["ORCHESTRATOR"] == "airflow"
    assert env["JOB_ID"] == env["JOB_NAME"] == "growth_etl"
    assert env["JOB_RUN_ID"] == "manual__2026-01-01"
    assert env["JOB_RUN_URL"] == "http://ui:8080/dags/growth_etl/runs/manual__2026-01-01"
    assert env["JOB_URL"] == "http://ui:8080/dags/growth_etl"


def _elementary_manifest(*tables: str, checksum: str = "a1") -> dict:
    """A manifest with Elementary's models ``tables`` (schema elementary) and one project model."""

    def model(package: str, name: str, schema: str, checksum: str = "c") -> dict:
        return {
            "name": name,
            "alias": name,
            "schema": schema,
            "package_name": package,
            "resource_type": "model",
            "config": {"enabled": True, "materialized": "table"},
            "checksum": {"name": "sha256", "checksum": checksum},
            "created_at": 1.0,
        }

    nodes = {f"model.elementary.{name}": model("elementary", name, "elementary") for name in tables}
    nodes["model.growth_analytics.dim_user"] = model("growth_analytics", "dim_user", "dwh", checksum)
    return {"nodes": nodes, "sources": {}, "exposures": {}}


def test_a_run_builds_only_what_the_warehouse_lacks_of_elementarys_models(warehouse_url: str) -> None:
    manifest = _elementary_manifest("metadata", "dbt_models")
    assert elementary.models_to_build(warehouse_url, manifest, "0.25.1") == elementary.ALL_MODELS
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("create schema elementary")
        conn.execute("create table elementary.metadata as select '0.25.1'::text as dbt_pkg_version")
    # one of its models missing: all of them
    assert elementary.models_to_build(warehouse_url, manifest, "0.25.1") == elementary.ALL_MODELS
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("create table elementary.dbt_models (unique_id text)")
    # every table there, no upload of the project's artifacts on record: the artifact tables
    assert elementary.models_to_build(warehouse_url, manifest, "0.25.1") == elementary.ARTIFACT_MODELS
    elementary.record_artifacts_upload(warehouse_url, manifest, "0.25.1")
    assert elementary.models_to_build(warehouse_url, manifest, "0.25.1") is None
    # the same project parsed again: nothing
    reparsed = _elementary_manifest("metadata", "dbt_models")
    for node in reparsed["nodes"].values():
        node["created_at"] = 2.0
    assert elementary.models_to_build(warehouse_url, reparsed, "0.25.1") is None
    # a changed model: the artifact tables, and after their upload nothing again
    changed = _elementary_manifest("metadata", "dbt_models", checksum="a2")
    assert elementary.models_to_build(warehouse_url, changed, "0.25.1") == elementary.ARTIFACT_MODELS
    elementary.record_artifacts_upload(warehouse_url, changed, "0.25.1")
    assert elementary.models_to_build(warehouse_url, changed, "0.25.1") is None
    # another package version than the one that built the tables: all of them
    assert elementary.models_to_build(warehouse_url, changed, "0.26.1") == elementary.ALL_MODELS


def test_a_dbt_command_without_a_selection_leaves_out_only_elementarys_models(warehouse_url: str) -> None:
    """The project's default selector: every node but Elementary's models (none without its package)."""

    def listed(*args: str) -> set[tuple[str, str]]:
        out = dbt.run_dbt(
            ["ls", "--output", "json", "--quiet", *args],
            url=warehouse_url,
            capture=True,
        ).stdout
        nodes = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        return {(node["unique_id"], node["package_name"]) for node in nodes}

    everything = listed("--select", "fqn:*")
    assert ("model.growth_analytics.fct_sessions", "growth_analytics") in everything
    assert listed() == {node for node in everything if node[1] != "elementary"}
    if dbt.elementary_installed():
        assert any(package == "elementary" for _, package in everything)
