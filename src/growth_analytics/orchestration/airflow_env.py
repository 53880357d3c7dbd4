"""Airflow for growth_analytics, configured entirely from the environment.

``growth airflow ARGS...`` runs the ``airflow`` CLI with a project-local setup: its home (metadata database,
logs, generated login) under ``.growth/airflow``, the project's ``dags/`` folder, no example DAGs, and the
warehouse connection ``growth_warehouse`` built from ``GROWTH_WAREHOUSE_URL`` (or the embedded Postgres) as an
``AIRFLOW_CONN_GROWTH_WAREHOUSE`` variable: nobody types a connection into the UI.

Login: user ``admin``, password generated once into
``.growth/airflow/simple_auth_manager_passwords.json.generated`` (mode 0600). Settings shared with
docker-compose.yml come from ``docker/airflow.env``.

The metadata database is SQLite: enough for one machine and ``airflow dags test``. The production layout
(Postgres metadata, Celery workers) runs as ``growth stack`` (:mod:`.stack`) or docker-compose.yml.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from growth_analytics.private_files import write_private
from growth_analytics.settings import DBT_EXECUTION_MODE_ENV, WAREHOUSE_URL_ENV, project_dir, state_dir
from growth_analytics.warehouse.url import WarehouseParams

CONN_ID = "growth_warehouse"
CONN_ENV = f"AIRFLOW_CONN_{CONN_ID.upper()}"
DAG_ID = "growth_etl"
DBT_PROJECT_NAME = "growth_analytics"
DBT_PROFILE = "growth_analytics"
DBT_TARGET = "dev"
# How growth_etl's tasks call dbt: dbt reuses a saved parse only for the same profile, target and vars (the
# project's own, as for `growth dbt`: the tasks and a user's commands share one parse).
TASK_DBT_ARGS = ("--profile", DBT_PROFILE, "--target", DBT_TARGET)
AIRFLOW_HOME_ENV = "GROWTH_AIRFLOW_HOME"
UI_HOST = "127.0.0.1"
UI_PORT_ENV = "GROWTH_AIRFLOW_PORT"
ADMIN_USER = "admin"
SHARED_SETTINGS_FILE = "docker/airflow.env"


def airflow_home() -> Path:
    """Airflow's home for this project (``GROWTH_AIRFLOW_HOME``, default ``.growth/airflow``)."""
    configured = os.environ.get(AIRFLOW_HOME_ENV)
    return Path(configured).resolve() if configured else state_dir() / "airflow"


def password_file(home: Path | None = None) -> Path:
    """Where Airflow's simple auth manager keeps the generated password of ``admin``."""
    return (home or airflow_home()) / "simple_auth_manager_passwords.json.generated"


def connection_json(url: str) -> str:
    """The warehouse URL as an Airflow connection in JSON form (conn type postgres; schema = database).

    The URL's libpq parameters (sslmode, sslrootcert, ...) go into ``extra`` under their libpq names: the
    postgres provider passes extra to the driver, and growth_etl's dbt profile mapping reads them from there.
    """
    params = WarehouseParams.from_url(url)
    connection: dict[str, object] = {
        "conn_type": "postgres",
        "host": params.host,
        "port": params.port,
        "login": params.user,
        "password": params.password,
        "schema": params.dbname,
    }
    if params.parameters():
        connection["extra"] = params.parameters()
    return json.dumps(connection)


def shared_settings() -> dict[str, str]:
    """The Airflow settings docker-compose.yml shares with ``growth airflow`` and ``growth stack``."""
    settings: dict[str, str] = {}
    path = project_dir() / SHARED_SETTINGS_FILE
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{path}:{number}: not NAME=VALUE: {line!r}")
        settings[name.strip()] = value.strip()
    return settings


def airflow_env(url: str, home: Path | None = None) -> dict[str, str]:
    """The variables that configure Airflow for this project (to be laid over ``os.environ``)."""
    home = home or airflow_home()
    port = os.environ.get(UI_PORT_ENV, "8080")
    return {
        **shared_settings(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project_dir() / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file(home)),
        "AIRFLOW__API__HOST": UI_HOST,
        "AIRFLOW__API__PORT": port,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{UI_HOST}:{port}/execution/",
        # Cosmos' default cache folder (/tmp/cosmos) is shared by every checkout on the machine.
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos-cache"),
        CONN_ENV: connection_json(url),
        WAREHOUSE_URL_ENV: url,
        "GROWTH_PROJECT_DIR": str(project_dir()),
    }


def ensure_admin_password(home: Path) -> str:
    """The password of ``admin``: generated once, kept in a file only its owner can read."""
    where = password_file(home)
    if where.exists():
        os.chmod(where, 0o600)
        password = json.loads(where.read_text()).get(ADMIN_USER)
        if password:
            return str(password)
    password = secrets.token_urlsafe(16)
    write_private(where, json.dumps({ADMIN_USER: password}))
    return password


def prepare_manifest(url: str) -> Path:
    """Build the manifest the DAG renders from, as the tasks will parse the project (install time).

    dbt reuses its parse (``partial_parse.msgpack``) only when the command line vars, ``--profile``,
    ``--target`` and the connection are those of the previous parse. So after :func:`dbt.ensure_manifest`
    (a parse whenever a project file changed), the project is parsed once more the way the Cosmos tasks
    invoke dbt, and a stamp records for which warehouse; each task then starts from that parse.
    """
    from growth_analytics.transform import dbt

    manifest = dbt.ensure_manifest(url)
    params = WarehouseParams.from_url(url)
    stamp = manifest.with_name("growth_etl_parse.json")
    wanted = json.dumps(
        {
            "host": params.host,
            "port": params.port,
            "db": params.dbname,
            "user": params.user,
            **params.parameters(),
        },
        sort_keys=True,
    )
    fresh = stamp.exists() and stamp.stat().st_mtime >= manifest.stat().st_mtime
    if not (fresh and stamp.read_text() == wanted):
        dbt.run_dbt(["parse", "--quiet", *TASK_DBT_ARGS], url=url)
        stamp.write_text(wanted)
    return manifest


def airflow_executable() -> str:
    beside_python = Path(sys.executable).parent / "airflow"
    return str(beside_python) if beside_python.exists() else (shutil.which("airflow") or "airflow")


def full_env(url: str, home: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(airflow_env(url, home))
    return env


def run_airflow(
    args: list[str],
    url: str,
    home: Path | None = None,
    check: bool = True,
    extra_env: dict[str, str] | None = None,
    **kwargs,
) -> subprocess.CompletedProcess[str]:
    """Run ``airflow ARGS`` with the project's environment."""
    env = full_env(url, home)
    env.update(extra_env or {})
    # `airflow standalone` starts its components as `airflow ...` from PATH: the same installation.
    bin_dir = str(Path(airflow_executable()).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return subprocess.run([airflow_executable(), *args], env=env, check=check, text=True, **kwargs)


def dags_test(
    url: str, home: Path | None = None, extra_env: dict[str, str] | None = None, **kwargs
) -> subprocess.CompletedProcess[str]:
    """One run of growth_etl in this process tree (``airflow dags test``), with a dbt invocation per task.

    ``dags test`` runs one task at a time, so a watcher task would wait for a ``dbt build`` that never starts.
    """
    env = {**(extra_env or {}), DBT_EXECUTION_MODE_ENV: "local"}
    return run_airflow(["dags", "test", DAG_ID], url, home, check=False, extra_env=env, **kwargs)


def migrate(url: str, home: Path | None = None) -> None:
    """Create or upgrade the metadata database (cheap when it is current)."""
    proc = run_airflow(["db", "migrate"], url, home, check=False, capture_output=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-20:])
        raise RuntimeError(f"airflow db migrate failed ({proc.returncode}):\n{tail}")


def run_cli(args: argparse.Namespace) -> int:
    from growth_analytics.warehouse.connect import warehouse_url

    airflow_args = list(args.airflow_args) or ["--help"]
    url = warehouse_url()
    home = airflow_home()
    # The DAG renders its dbt tasks from the manifest: build it now, never while the DAG file is parsed.
    if airflow_args[0] not in ("--help", "-h", "version", "config"):
        prepare_manifest(url)
    if airflow_args[0] in ("standalone", "api-server"):
        ensure_admin_password(home)
        print(f"growth airflow: UI on http://{UI_HOST}:{airflow_env(url, home)['AIRFLOW__API__PORT']}")
        print(f"growth airflow: login {ADMIN_USER!r}, password in {password_file(home)}")
    if airflow_args[0] == "standalone":
        return _run_in_own_group(airflow_args, url, home)
    return run_airflow(airflow_args, url, home, check=False).returncode


def _run_in_own_group(args: list[str], url: str, home: Path) -> int:
    """Run ``airflow ARGS`` as its own process group; SIGTERM or Ctrl-C here stops all of it."""
    import signal

    env = full_env(url, home)
    env["PATH"] = os.pathsep.join([str(Path(airflow_executable()).parent), env.get("PATH", "")])
    process = subprocess.Popen([airflow_executable(), *args], env=env, start_new_session=True)

    def stop(signum: int, frame: object) -> None:
        os.killpg(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return process.wait()
    finally:
        # Whatever of the group outlived standalone (or all of it, if this wrapper is failing).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
