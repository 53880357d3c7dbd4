"""The warehouse URL, taken apart once for the loader, dbt and Airflow; the embedded server's own promises.

The parser is checked against libpq's (psycopg's ``conninfo_to_dict``) over random URLs: passwords of any
characters, IPv6 hosts, missing parts, query parameters. Then each client is run for real against the
test session's Postgres with a password full of URL-special characters: the loader, ``growth dbt`` (the
profile's fields from the environment), Airflow's postgres hook and Cosmos' profile mapping (both from the
connection ``growth airflow`` generates).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
import yaml
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from growth_analytics import pipeline
from growth_analytics.orchestration import airflow_env
from growth_analytics.orchestration.profile import profile_config, warehouse_url_from_connection
from growth_analytics.orchestration.tasks import table_asset
from growth_analytics.settings import WAREHOUSE_URL_ENV
from growth_analytics.transform import dbt
from growth_analytics.warehouse.connect import connect
from growth_analytics.warehouse.embedded import APP_ROLE, EmbeddedPostgres
from growth_analytics.warehouse.url import (
    DBT_FIELD_ENV,
    DBT_LIBPQ_PARAMETERS,
    SSL_MODES,
    WarehouseParams,
    WarehouseUrlError,
)

PROJECT_DIR = Path(__file__).resolve().parents[1]
SPECIAL_PASSWORD = "p@ss:w/o%rd#?& x{{ y }}'\"é"
ROUND_TRIPS = 3000


# -- the parser ------------------------------------------------------------------------------------------


def _random_text(rng: random.Random, alphabet: str, low: int, high: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


# Printable ASCII (every URL delimiter among it), whitespace and a few non-ASCII characters; no NUL, which
# libpq cannot take in any string.
TEXT = "".join(chr(c) for c in range(32, 127)) + "\t\n éü€😀"
HOSTS = ["127.0.0.1", "::1", "fe80::1%eth0", "2001:db8::42", "warehouse", "db.example.com", "Host-1"]


def _random_params(rng: random.Random) -> WarehouseParams:
    parameters: dict[str, str | int] = {}
    for name in rng.sample(DBT_LIBPQ_PARAMETERS, rng.randint(0, len(DBT_LIBPQ_PARAMETERS))):
        if name == "sslmode":
            parameters[name] = rng.choice(SSL_MODES)
        elif name in ("connect_timeout", "keepalives_idle"):
            parameters[name] = rng.randint(0, 600)
        else:
            parameters[name] = _random_text(rng, TEXT, 1, 12)
    user = _random_text(rng, TEXT, 1, 10)
    return WarehouseParams(
        host=rng.choice(HOSTS),
        port=rng.randint(1, 65535),
        user=user,
        password=_random_text(rng, TEXT, 0, 24),
        dbname=_random_text(rng, TEXT, 1, 10),
        **parameters,  # type: ignore[arg-type]
    )


def test_url_round_trips_and_libpq_reads_it_the_same() -> None:
    rng = random.Random(20)
    for _ in range(ROUND_TRIPS):
        params = _random_params(rng)
        url = params.url()
        assert WarehouseParams.from_url(url) == params, url
        # libpq's own URL parser, the one psql or any libpq client would apply to the same URL.
        libpq = conninfo_to_dict(url)
        expected = {name: str(value) for name, value in params.connect_kwargs().items()}
        if not params.password:
            del expected["password"]  # an empty password is not written, libpq then looks in ~/.pgpass
        assert libpq == expected, url


def test_percent_encoded_password_ipv6_and_query() -> None:
    url = (
        "postgresql://growth:p%40ss%3Aw%2Fo%25rd%23%3F%26%20x@[::1]:25499/growth"
        "?sslmode=require&sslrootcert=%2Fetc%2Fssl%2Fca.pem&connect_timeout=7"
    )
    params = WarehouseParams.from_url(url)
    assert (params.host, params.port, params.user, params.password, params.dbname) == (
        "::1",
        25499,
        "growth",
        "p@ss:w/o%rd#?& x",
        "growth",
    )
    assert params.parameters() == {
        "sslmode": "require",
        "sslrootcert": "/etc/ssl/ca.pem",
        "connect_timeout": 7,
    }
    assert params.url() == url
    assert params.password not in repr(params)
    assert params.describe() == "[::1]:25499/growth (sslmode=require)"


def test_missing_parts_take_libpq_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGUSER", "someone")
    params = WarehouseParams.from_url("postgresql://warehouse")
    assert (params.host, params.port, params.user, params.password, params.dbname) == (
        "warehouse",
        5432,
        "someone",
        "",
        "someone",
    )
    assert WarehouseParams.from_url("postgres://alice@[2001:db8::1]/sales").user == "alice"
    assert WarehouseParams.from_url("postgresql://alice:@h/d").password == ""


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("postgresql://u:secret@h/d?options=-c%20search_path%3Dx", "'options' is not supported"),
        ("postgresql://u:secret@h/d?target_session_attrs=read-write", "'target_session_attrs'"),
        ("postgresql://u:secret@h/d?channel_binding=require", "'channel_binding' is not supported"),
        ("postgresql://u:secret@h/d?user=other", "'user' belongs in the URL itself"),
        ("postgresql://u:secret@h/d?sslmode=requir", "sslmode='requir'"),
        ("postgresql://u:secret@h/d?sslmode=require&sslmode=disable", "'sslmode' is given twice"),
        ("postgresql://u:secret@h/d?connect_timeout=ten", "connect_timeout='ten'"),
        ("postgresql://u:secret@h/d?sslmode", "'sslmode' has no value"),
        ("postgresql://u:sec#ret@h/d", "percent-encode it as %23"),
        ("postgresql://u:secret@::1:5432/d", "IPv6 host in brackets"),
        ("postgresql://u:secret@[::1/d", "[address]"),
        ("postgresql://u:secret@h:99999/d", "port '99999'"),
        ("postgresql://u:secret@h1:5432,h2:5432/d", "several hosts"),
        ("postgresql://u:secret@/d", "must name a host"),
        ("mysql://u:secret@h/d", "must be a postgresql:// URL"),
    ],
)
def test_unusable_urls_are_refused_in_one_line(url: str, names: str) -> None:
    with pytest.raises(WarehouseUrlError) as caught:
        WarehouseParams.from_url(url)
    message = str(caught.value)
    assert names in message
    assert "\n" not in message and "secret" not in message
    assert message.startswith(WAREHOUSE_URL_ENV)


def test_connection_extra_is_checked_like_the_url() -> None:
    with pytest.raises(WarehouseUrlError, match=r"^connection 'c': parameter 'options' is not supported"):
        WarehouseParams.from_parts("h", 5432, "u", "p", "d", {"options": "-c x=1"}, source="connection 'c'")


def test_dbt_fields_cover_every_parameter() -> None:
    params = WarehouseParams.from_url(
        "postgresql://u:12345@[::1]:6000/d?sslmode=verify-full&keepalives_idle=30"
    )
    env = params.dbt_env()
    assert set(env) == set(DBT_FIELD_ENV.values())
    assert env[DBT_FIELD_ENV["host"]] == "::1"
    assert env[DBT_FIELD_ENV["password"]] == "12345"
    assert env[DBT_FIELD_ENV["sslmode"]] == "verify-full"
    assert env[DBT_FIELD_ENV["keepalives_idle"]] == "30"
    assert env[DBT_FIELD_ENV["sslrootcert"]] == ""  # left out: overrides a stale value of the shell
    profile = (PROJECT_DIR / "dbt_project" / "profiles.yml").read_text()
    for variable in DBT_FIELD_ENV.values():
        assert f"env_var('{variable}'" in profile, variable


# -- every client, for real, with an awkward password ----------------------------------------------------


@pytest.fixture(scope="module")
def special_url(postgres_server: EmbeddedPostgres) -> Iterator[str]:
    """A role and database on the session's server whose password needs percent-encoding everywhere."""
    port = postgres_server.running_port()
    assert port is not None
    role = f"odd_{os.getpid()}"
    with psycopg.connect(postgres_server.superuser_url(port), autocommit=True) as admin:
        admin.execute(
            sql.SQL("create role {} login password {}").format(
                sql.Identifier(role), sql.Literal(SPECIAL_PASSWORD)
            )
        )
        admin.execute(
            sql.SQL("create database {} owner {}").format(sql.Identifier(role), sql.Identifier(role))
        )
    params = WarehouseParams(
        host="127.0.0.1",
        port=port,
        user=role,
        password=SPECIAL_PASSWORD,
        dbname=role,
        sslmode="disable",
        application_name="growth probe",
        connect_timeout=9,
    )
    yield params.url()
    with psycopg.connect(postgres_server.superuser_url(port), autocommit=True) as admin:
        admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(role)))
        admin.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def test_loader_connection_applies_every_parameter(special_url: str) -> None:
    with connect(special_url) as conn:
        assert conn.execute("select current_user, current_setting('application_name')").fetchone() == (
            WarehouseParams.from_url(special_url).user,
            "growth probe",
        )
        assert conn.execute("select current_setting('TimeZone')").fetchone() == ("UTC",)
        assert "sslmode=disable" in conn.info.dsn and "connect_timeout=9" in conn.info.dsn


def test_growth_dbt_reaches_the_warehouse_with_the_urls_parameters(special_url: str) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "growth_analytics.cli",
            "dbt",
            "show",
            "--inline",
            "select current_user as who, current_setting('application_name') as app",
            "--output",
            "json",
        ],
        env={**os.environ, WAREHOUSE_URL_ENV: special_url, DBT_FIELD_ENV["password"]: "stale"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    shown = json.loads(proc.stdout[proc.stdout.index("{") : proc.stdout.rindex("}") + 1])["show"]
    assert shown == [{"who": WarehouseParams.from_url(special_url).user, "app": "growth probe"}]


def test_growth_db_env_configures_plain_dbt(special_url: str, tmp_path: Path) -> None:
    exports = subprocess.run(
        [sys.executable, "-m", "growth_analytics.cli", "db", "env"],
        env={**os.environ, WAREHOUSE_URL_ENV: special_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    script = tmp_path / "plain_dbt.sh"
    script.write_text(f'eval "$({sys.executable} -m growth_analytics.cli db env)"\nexec "$@"\n')
    # The shell evaluates the exports; dbt then reads only the GROWTH_DBT_* fields and profiles.yml.
    env = {name: value for name, value in os.environ.items() if not name.startswith("GROWTH_DBT_")}
    env[WAREHOUSE_URL_ENV] = special_url
    proc = subprocess.run(
        ["bash", str(script), dbt.dbt_executable(), "debug", "--project-dir", str(dbt.active_project_dir())],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "All checks passed!" in proc.stdout
    assert "application_name: growth probe" in proc.stdout
    assert "export GROWTH_DBT_SSLMODE=disable" in exports


def test_airflow_connection_and_cosmos_profile_carry_every_parameter(
    special_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    env = airflow_env.airflow_env(special_url, home=tmp_path)
    monkeypatch.setenv(airflow_env.CONN_ENV, env[airflow_env.CONN_ENV])
    params = WarehouseParams.from_url(special_url)
    assert json.loads(env[airflow_env.CONN_ENV])["extra"] == params.parameters()

    # The URL growth_etl's loader, docs and edr tasks build from the connection is the same warehouse.
    assert WarehouseParams.from_url(warehouse_url_from_connection()) == params

    # Airflow's own postgres hook (create_schemas) gets the extra as driver arguments.
    with PostgresHook(postgres_conn_id=airflow_env.CONN_ID).get_conn() as conn, conn.cursor() as cur:
        cur.execute("select current_user, current_setting('application_name')")
        assert cur.fetchone() == (params.user, "growth probe")

    # Cosmos' profile for the per-node dbt tasks: every parameter, the password through an env var.
    mapping = profile_config().profile_mapping
    assert mapping is not None
    profile = mapping.profile
    assert {name: profile[name] for name in params.parameters()} == params.parameters()
    assert (profile["host"], profile["port"], profile["user"], profile["dbname"]) == (
        params.host,
        params.port,
        params.user,
        params.dbname,
    )
    assert SPECIAL_PASSWORD not in json.dumps(profile)
    # ... and dbt connects with it.
    profiles_dir = tmp_path / "cosmos_profile"
    profiles_dir.mkdir()
    (profiles_dir / "profiles.yml").write_text(
        mapping.get_profile_file_contents(airflow_env.DBT_PROFILE, airflow_env.DBT_TARGET)
    )
    proc = subprocess.run(
        [
            dbt.dbt_executable(),
            "debug",
            "--project-dir",
            str(dbt.active_project_dir()),
            "--profiles-dir",
            str(profiles_dir),
        ],
        env={**os.environ, **mapping.env_vars},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "application_name: growth probe" in proc.stdout


def test_connection_without_password_or_parameters() -> None:
    connection = json.loads(airflow_env.connection_json("postgresql://reader@[::1]:6432/sales"))
    assert connection == {
        "conn_type": "postgres",
        "host": "::1",
        "port": 6432,
        "login": "reader",
        "password": "",
        "schema": "sales",
    }


# -- the embedded server ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_server() -> Iterator[EmbeddedPostgres]:
    """An embedded server of this module's own (it is stopped and started), created at first ``up``."""
    folder = Path(tempfile.mkdtemp(prefix="growth-test-embedded-"))
    server = EmbeddedPostgres(folder / "state" / "postgres")
    yield server
    server.down()
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def test_password_files_are_private_from_the_start(own_server: EmbeddedPostgres) -> None:
    modes: dict[str, int] = {}
    real_pg = own_server._pg

    def watching_pg(program: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        if program == "initdb":
            pwfile = next(arg.split("=", 1)[1] for arg in args if arg.startswith("--pwfile="))
            modes["initdb.pw"] = os.stat(pwfile).st_mode & 0o777
        return real_pg(program, *args, timeout=timeout)

    own_server._pg = watching_pg  # type: ignore[method-assign]
    try:
        own_server.up()
    finally:
        del own_server._pg
    assert modes == {"initdb.pw": 0o600}
    assert (own_server.root / "credentials.json").stat().st_mode & 0o777 == 0o600
    assert not (own_server.root / "initdb.pw").exists()


def _growth(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != WAREHOUSE_URL_ENV}
    env["GROWTH_STATE_DIR"] = str(state)
    return subprocess.run(
        [sys.executable, "-m", "growth_analytics.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def test_db_up_keeps_its_port_and_keeps_the_password_to_db_url(own_server: EmbeddedPostgres) -> None:
    state = own_server.root.parent
    own_server.up()
    url = _growth(state, "db", "url").stdout.strip()
    params = WarehouseParams.from_url(url)
    password = params.password
    assert password and params.user == APP_ROLE
    # A client connected while the server stops: the server closes first, leaving its port in TIME_WAIT.
    with socket.create_connection(("127.0.0.1", params.port)) as client:
        down = _growth(state, "db", "down")
        assert "stopped" in down.stdout
        assert client.recv(1) == b""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe, pytest.raises(OSError):
        probe.bind(("127.0.0.1", params.port))  # without SO_REUSEADDR the port looks busy
    up = _growth(state, "db", "up")
    assert password not in up.stdout + up.stderr
    assert f"127.0.0.1:{params.port}/" in up.stdout
    assert _growth(state, "db", "url").stdout.strip() == url


# -- the dbt child of `growth dbt` -----------------------------------------------------------------------


def _start_sleeping_dbt(url: str) -> tuple[subprocess.Popen[str], psutil.Process]:
    """``growth dbt show`` of a query that sleeps; returns the wrapper and its dbt child once it runs."""
    wrapper = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "growth_analytics.cli",
            "dbt",
            "show",
            "--inline",
            "select pg_sleep(60) as slept",
        ],
        env={**os.environ, WAREHOUSE_URL_ENV: url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 180
    with connect(url, autocommit=True) as conn:  # pg_stat_activity is read afresh by each transaction
        while time.monotonic() < deadline:
            sleeping = conn.execute(
                "select count(*) from pg_stat_activity"
                " where datname = current_database() and query like '%pg_sleep(60)%'"
                " and pid <> pg_backend_pid()"
            ).fetchone()
            if sleeping and sleeping[0]:
                break
            assert wrapper.poll() is None, "growth dbt ended before its query started"
            time.sleep(0.5)
        else:
            wrapper.kill()
            pytest.fail("dbt's query never started")
    (child,) = psutil.Process(wrapper.pid).children()
    return wrapper, child


def test_dbt_child_dies_with_a_killed_growth(warehouse_url: str) -> None:
    wrapper, child = _start_sleeping_dbt(warehouse_url)
    os.kill(wrapper.pid, signal.SIGKILL)
    wrapper.wait()
    _, alive = psutil.wait_procs([child], timeout=20)
    for process in alive:
        process.kill()
    assert not alive, "dbt outlived `growth dbt` killed with SIGKILL"


def test_sigterm_of_growth_reaches_dbt(warehouse_url: str) -> None:
    wrapper, child = _start_sleeping_dbt(warehouse_url)
    wrapper.send_signal(signal.SIGTERM)
    try:
        returncode = wrapper.wait(timeout=30)
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert returncode != 0  # dbt's status: it was stopped, not finished


# -- growth run's report lines ---------------------------------------------------------------------------


def test_run_names_only_the_reports_it_wrote(tmp_path: Path) -> None:
    (tmp_path / "dbt_docs").mkdir()
    (tmp_path / "dbt_docs" / "index.html").write_text("an earlier run's docs")
    failed = [("dbt_mart.x_run", "failed", 1.0), ("dbt_docs", "failed", 2.0)]
    assert pipeline.report_messages(failed, tmp_path, None) == [
        "dbt docs were not written (task dbt_docs did not succeed; see the log)"
    ]
    done = [("elementary_report", "success", 1.0), ("dbt_docs", "success", 2.0)]
    assert pipeline.report_messages(done, tmp_path, None) == [
        f"Elementary report: {tmp_path / 'elementary_report.html'}",
        f"dbt docs: {tmp_path / 'dbt_docs' / 'index.html'}",
    ]
    assert pipeline.report_messages(done, tmp_path, "Elementary is off")[0] == "Elementary is off"


def test_profiles_yml_is_valid_yaml_with_both_profiles() -> None:
    profiles = yaml.safe_load((PROJECT_DIR / "dbt_project" / "profiles.yml").read_text())
    assert set(profiles) == {"growth_analytics", "elementary"}


def test_table_assets_of_an_ipv6_warehouse() -> None:
    asset = table_asset("postgresql://u:p@[::1]:6000/growth", "raw", "sessions")
    assert asset.uri == "postgres://[::1]:6000/growth/raw/sessions"


def test_dbt_tasks_refuse_an_ipv6_address_before_running(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        airflow_env.CONN_ENV, airflow_env.connection_json("postgresql://u:p@[::1]:6000/growth")
    )
    mapping = profile_config().profile_mapping
    assert mapping is not None
    with pytest.raises(Exception, match=r"cannot use the IPv6 address ::1 as host"):
        _ = mapping.profile
