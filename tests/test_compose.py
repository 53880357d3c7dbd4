"""Static checks of docker-compose.yml and docker/Dockerfile (no Docker engine needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from growth_analytics.warehouse.url import WarehouseParams

PROJECT_DIR = Path(__file__).resolve().parents[1]
COMPOSE_FILE = PROJECT_DIR / "docker-compose.yml"
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
# What a user puts into .env: compose refuses to start without the variables it requires (${NAME:?}).
DOTENV = {
    "GROWTH_AIRFLOW_PASSWORD": "ui-secret",
    "GROWTH_WAREHOUSE_PASSWORD": "warehouse-secret",
    "WAREHOUSE_SUPERUSER_PASSWORD": "superuser-secret",
    "AIRFLOW_DB_PASSWORD": "metadata-secret",
}


def interpolate(value: str, dotenv: dict[str, str] | None = None) -> str:
    """Compose's ${NAME:-default} and ${NAME:?error} substitution with ``dotenv`` as the .env file."""
    given = DOTENV if dotenv is None else dotenv

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match.group("name", "op", "arg")
        if name in given:
            return given[name]
        if op and op.endswith("?"):
            raise KeyError(f"compose refuses to start without {name}: {arg}")
        return arg or ""

    return _VARIABLE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def service_env(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment: its env_file, then its environment mapping (which wins, as in compose)."""
    merged = {}
    env_file = service.get("env_file")
    if env_file:
        merged.update(shared_settings_file(PROJECT_DIR / env_file))
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment must be a mapping"
    merged.update({name: interpolate(str(value)) for name, value in env.items()})
    return merged


def shared_settings_file(path: Path) -> dict[str, str]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


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
    # The build never retries, so nothing would restore Cosmos' per-result backup of its XComs.
    assert reference["AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY"].lower() == "false"
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
    assert "127.0.0.1:5438:5432" in ports, ports
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
    assert interpolate("${X:?needed}", {"X": "x"}) == "x"
    with pytest.raises(KeyError, match="without X"):
        interpolate("${X:?needed}", {})


def test_every_published_port_is_on_loopback(compose: dict[str, Any]) -> None:
    published = [str(p) for service in compose["services"].values() for p in service.get("ports") or []]
    assert published
    for port in published:
        assert port.startswith("127.0.0.1:"), f"{port} listens on every interface"


def test_airflow_settings_come_from_the_file_growth_stack_reads(compose: dict[str, Any]) -> None:
    from growth_analytics.orchestration import airflow_env

    env_file = compose["x-airflow-common"]["env_file"]
    assert PROJECT_DIR / env_file == PROJECT_DIR / airflow_env.SHARED_SETTINGS_FILE
    shared = shared_settings_file(PROJECT_DIR / env_file)
    assert shared["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    # Not set twice: the compose file adds only what differs between containers and one machine.
    assert not set(shared) & set(compose["x-airflow-common"]["environment"])
    local = airflow_env.airflow_env("postgresql://u:p@127.0.0.1:5432/d")
    assert {name: local[name] for name in shared} == shared


def test_no_secret_has_a_committed_default(compose: dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text()
    for name in DOTENV:
        assert re.search(rf"\$\{{{name}:\?", text), f"{name} must be required, not defaulted"
        assert not re.search(rf"\$\{{{name}:?-", text), f"{name} has a default"
        with pytest.raises(KeyError):
            interpolate(f"${{{name}:?x}}", {})
    env = service_env(compose["services"]["airflow-worker"])
    # JWT secret, api secret key and Fernet key: read from files airflow-init generates once.
    for option, filename in [
        ("AIRFLOW__API_AUTH__JWT_SECRET", "jwt_secret"),
        ("AIRFLOW__API__SECRET_KEY", "api_secret_key"),
        ("AIRFLOW__CORE__FERNET_KEY", "fernet_key"),
    ]:
        assert option not in env, f"{option} must not be a literal"
        assert env[f"{option}_CMD"] == f"cat /opt/airflow/auth/{filename}"
    init = "\n".join(compose["services"]["airflow-init"]["command"])
    assert "umask 077" in init
    jwt = re.search(
        r"\[ -s /opt/airflow/auth/jwt_secret \] \|\| .*token_urlsafe\((\d+)\).*"
        r"> /opt/airflow/auth/jwt_secret",
        init,
    )
    assert jwt and int(jwt.group(1)) >= 64, "the JWT secret must be generated with at least 64 bytes"
    for filename in ("api_secret_key", "fernet_key"):
        assert f"[ -s /opt/airflow/auth/{filename} ] || python -c" in init


def test_warehouse_healthcheck_proves_role_growth_logs_in(compose: dict[str, Any]) -> None:
    check = compose["services"]["warehouse"]["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL"
    command = check[1]
    # Over TCP (the init phase listens on none) as growth, with its password, into its database.
    assert "pg_isready" not in command
    assert re.search(r"\bpsql\b.*-h 127\.0\.0\.1.*-U growth.*-d growth", command), command
    assert 'PGPASSWORD="$${GROWTH_WAREHOUSE_PASSWORD}"' in command


def test_celery_family_is_pinned() -> None:
    pins = dict(
        line.split("==", 1)
        for line in (PROJECT_DIR / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    pins = {name.lower().replace("_", "-"): version for name, version in pins.items()}
    for name in (
        "celery",
        "kombu",
        "billiard",
        "vine",
        "amqp",
        "redis",
        "flower",
        "apache-airflow-providers-celery",
    ):
        assert name in pins, f"constraints.txt does not pin {name}"
    # celery 5.7 drops celery.backends.database.retry, which the Airflow 3.3 Celery provider imports.
    assert pins["celery"].startswith("5.6."), pins["celery"]
    requirements = (PROJECT_DIR / "requirements.txt").read_text()
    assert f"apache-airflow-providers-celery=={pins['apache-airflow-providers-celery']}" in requirements


def test_the_image_installs_no_embedded_postgres() -> None:
    """The compose stack has its own warehouse: pgserver is an extra of local installs, not in the image."""
    import tomllib

    requirements = (PROJECT_DIR / "requirements.txt").read_text().splitlines()
    names = {re.split(r"[=<>\[;\s]", line.strip(), maxsplit=1)[0].lower() for line in requirements}
    assert "pgserver" not in names, "requirements.txt (the image's requirements) installs pgserver"
    dockerfile = (PROJECT_DIR / "docker" / "Dockerfile").read_text()
    assert "pgserver" not in dockerfile and "[embedded]" not in dockerfile
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]
    assert not any(dep.startswith("pgserver") for dep in project["dependencies"])
    assert any(dep.startswith("pgserver") for dep in project["optional-dependencies"]["embedded"])
