"""Static checks of docker-compose.yml and docker/Dockerfile (no Docker engine needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from growth_analytics.settings import WarehouseParams

PROJECT_DIR = Path(__file__).resolve().parents[1]
COMPOSE_FILE = PROJECT_DIR / "docker-compose.yml"
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::?-(?P<default>[^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's ${NAME:-default} substitution, as it resolves with no .env file and nothing exported."""
    return _VARIABLE.sub(lambda match: match.group("default") or "", value.replace("$$", "\0")).replace(
        "\0", "$"
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def service_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment must be a mapping"
    return {name: interpolate(str(value)) for name, value in env.items()}


def test_compose_has_the_services_of_the_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    expected = {*AIRFLOW_SERVICES, "airflow-init", "postgres", "redis", "warehouse"}
    assert expected <= set(services)
    for name, command in AIRFLOW_SERVICES.items():
        assert services[name]["command"] == command, name
    for name in (*AIRFLOW_SERVICES, "postgres", "redis", "warehouse"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_airflow_services_share_one_image_and_environment(compose: dict[str, Any]) -> None:
    services = compose["services"]
    airflow = [services[name] for name in (*AIRFLOW_SERVICES, "airflow-init")]
    images = {service["image"] for service in airflow}
    assert len(images) == 1, images
    builds = {json.dumps(service["build"], sort_keys=True) for service in airflow}
    assert len(builds) == 1, builds
    reference = service_env(services["airflow-scheduler"])
    for service in airflow:
        env = service_env(service)
        # A service may add variables of its own, but never change or drop a shared one.
        assert {name: env.get(name) for name in reference} == reference
    assert reference["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"
    assert reference["AIRFLOW__COSMOS__ENABLE_TELEMETRY"].lower() == "false"
    assert reference["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_warehouse_url_matches_the_airflow_connection(compose: dict[str, Any]) -> None:
    services = compose["services"]
    env = service_env(services["airflow-worker"])
    connection = json.loads(env["AIRFLOW_CONN_GROWTH_WAREHOUSE"])
    url = WarehouseParams.from_url(env["GROWTH_WAREHOUSE_URL"])
    assert connection["conn_type"] == "postgres"
    assert (connection["host"], int(connection["port"])) == (url.host, url.port)
    assert (connection["login"], connection["password"], connection["schema"]) == (
        url.user,
        url.password,
        url.dbname,
    )
    # ... and both point at the warehouse service, whose own settings agree.
    assert url.host == "warehouse" and url.host in services
    warehouse_env = service_env(services["warehouse"])
    assert warehouse_env["GROWTH_WAREHOUSE_PASSWORD"] == url.password
    # The project's role is not the container's superuser: the init script creates it and its database.
    assert warehouse_env["POSTGRES_USER"] != url.user
    mounts = dict(str(v).split(":")[:2] for v in services["warehouse"]["volumes"])
    init_dir = PROJECT_DIR / next(src for src, dst in mounts.items() if dst == "/docker-entrypoint-initdb.d")
    init_sql = "\n".join(p.read_text() for p in sorted(init_dir.iterdir())).lower()
    assert f"create role {url.user} login password" in init_sql
    assert f"create database {url.dbname} owner {url.user}" in init_sql
    role_statement = re.search(rf"create role {url.user}\b[^;]*;", init_sql)
    assert role_statement and "superuser" not in role_statement.group(0)


def test_warehouse_is_published_on_port_5438(compose: dict[str, Any]) -> None:
    ports = [str(port) for port in compose["services"]["warehouse"]["ports"]]
    assert any(re.fullmatch(r"(?:[\d.]+:)?5438:5432", port) for port in ports), ports
    # The metadata database stays inside the network.
    assert not compose["services"]["postgres"].get("ports")


def test_every_mounted_and_referenced_path_exists(compose: dict[str, Any]) -> None:
    named_volumes = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = PROJECT_DIR / build["context"]
            assert context.is_dir(), f"{name}: build context {context} is missing"
            assert (context / build["dockerfile"]).is_file(), f"{name}: Dockerfile is missing"
        for volume in service.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (PROJECT_DIR / source).exists(), f"{name}: mounted path {source} is missing"
            else:
                assert source in named_volumes, f"{name}: volume {source} is not declared"


def test_dockerfile_copies_existing_files_onto_the_pinned_image() -> None:
    dockerfile = (PROJECT_DIR / "docker" / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.\d+-python3\.11\s*$", dockerfile, re.MULTILINE)
    copied = 0
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            sources = [part for part in line.split()[1:-1] if not part.startswith("--")]
            for source in sources:
                assert (PROJECT_DIR / source).exists(), f"Dockerfile copies missing {source}"
                copied += 1
    assert copied >= 5
    assert "-r requirements.txt -c constraints.txt" in dockerfile
    pinned = re.search(r"^apache-airflow==(\S+)$", (PROJECT_DIR / "requirements.txt").read_text(), re.M)
    assert pinned and f"apache/airflow:{pinned.group(1)}-" in dockerfile, "image and pin must agree"


def test_interpolation_helper() -> None:
    assert interpolate("a${X:-b}c${Y}d$${HOSTNAME}") == "abcd${HOSTNAME}"
