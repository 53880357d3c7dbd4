"""A second, ordinary Postgres: TLS with scram only, a password full of URL-special characters.

The server is Debian's postgresql, started by the test on 127.0.0.1 (and ::1 where the machine has IPv6)
with a certificate the test makes, ``ssl=on`` and ``hostssl ... scram-sha-256`` as the only way in, so
every client that gets in came over TLS. Over it: the loader, ``growth dbt`` and ``growth run`` (the whole
growth_etl DAG in Airflow, with ``sslmode=verify-full`` and the test's ``sslrootcert``, which only works
when the parameter reaches every client). Then the same URL with ``sslmode=require`` against a server with
``ssl=off`` must fail for the loader, ``growth dbt``, Airflow's connection, Cosmos' dbt profile and the DAG.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import psycopg2
import pytest
from psycopg import sql

from growth_analytics.generate import generate
from growth_analytics.orchestration import airflow_env
from growth_analytics.orchestration.profile import profile_config, warehouse_url_from_connection
from growth_analytics.ports import free_port
from growth_analytics.settings import TASK_RETRY_DELAY_ENV, WAREHOUSE_URL_ENV
from growth_analytics.transform import dbt
from growth_analytics.warehouse.connect import WarehouseError, connect
from growth_analytics.warehouse.embedded import SERVICE_USER
from growth_analytics.warehouse.url import WarehouseParams

pytestmark = pytest.mark.slow

PG_BIN_DIRS = sorted(
    Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
)
ROLE = "growth_remote"
PASSWORD = "p@ss:w/o%rd#?& x"
SPLIT_DAY = date(2020, 6, 10)  # `growth load` takes the files before it, growth_etl the rest
SSL_REFUSED = "server does not support SSL"  # libpq's words when sslmode=require meets ssl=off

if not PG_BIN_DIRS:
    pytest.skip(
        "no Debian postgresql binaries (/usr/lib/postgresql/<version>/bin): install the postgresql package "
        "to run the second-server tests (CI does, in .ci/run)",
        allow_module_level=True,
    )


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("::1", 0))
        except OSError:
            return False
    return True


@dataclass
class Server:
    """One Debian Postgres cluster in a folder of its own, run as an unprivileged user under root."""

    folder: Path
    tls: bool
    port: int = 0

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def ca_file(self) -> Path:
        """The server's self-signed certificate, which is also the client's root certificate."""
        return self.folder / "ca.pem"

    def _as_owner(self, *cmd: str) -> None:
        user = SERVICE_USER if os.geteuid() == 0 else None
        proc = subprocess.run(cmd, user=user, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {proc.stderr.strip()} {tail}")

    def start(self, superuser_password: str) -> None:
        bin_dir = PG_BIN_DIRS[0]
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(SERVICE_USER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", SERVICE_USER], check=True)
            owner = pwd.getpwnam(SERVICE_USER)
            self.folder.chmod(0o711)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        pwfile = self.folder / "pw"
        pwfile.write_text(superuser_password + "\n")
        if os.geteuid() == 0:
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        pwfile.chmod(0o600)
        self._as_owner(
            str(bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        )
        pwfile.unlink()
        addresses = ["127.0.0.1", *(["::1"] if _ipv6_loopback() else [])]
        kind = "hostssl" if self.tls else "host"
        (self.data / "pg_hba.conf").write_text(
            "".join(
                f"{kind} all all {address}/{32 if '.' in address else 128} scram-sha-256\n"
                for address in addresses
            )
        )
        settings = {
            "listen_addresses": f"'{','.join(addresses)}'",
            "unix_socket_directories": "''",
            "ssl": "on" if self.tls else "off",
            "max_connections": 60,
        }
        if self.tls:
            sans = ",".join(f"IP:{address}" for address in addresses)
            self._as_owner(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                f"subjectAltName={sans}",
                "-keyout",
                str(self.data / "server.key"),
                "-out",
                str(self.data / "server.crt"),
            )
            (self.data / "server.key").chmod(0o600)
            shutil.copy(self.data / "server.crt", self.ca_file)
            self.ca_file.chmod(0o644)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        self.port = free_port()
        self._as_owner(
            str(bin_dir / "pg_ctl"),
            "start",
            "-w",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            f"-p {self.port}",
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_owner(str(PG_BIN_DIRS[0] / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data))

    def url(
        self,
        host: str = "127.0.0.1",
        user: str = ROLE,
        password: str = PASSWORD,
        dbname: str = ROLE,
        **parameters: str,
    ) -> str:
        return WarehouseParams(
            host=host, port=self.port, user=user, password=password, dbname=dbname, **parameters
        ).url()


@contextlib.contextmanager
def running_server(tls: bool) -> Iterator[Server]:
    # Not under pytest's temporary root: pytest keeps that private to the current user, while under root
    # the server runs as the service user.
    server = Server(Path(tempfile.mkdtemp(prefix="growth-test-second-pg-")), tls=tls)
    superuser_password = secrets.token_urlsafe(18)
    try:
        server.start(superuser_password)
        admin_url = server.url(
            user="postgres",
            password=superuser_password,
            dbname="postgres",
            sslmode="require" if tls else "disable",
        )
        with connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("create role {} login password {}").format(
                    sql.Identifier(ROLE), sql.Literal(PASSWORD)
                )
            )
            admin.execute(
                sql.SQL("create database {} owner {}").format(sql.Identifier(ROLE), sql.Identifier(ROLE))
            )
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_server() -> Iterator[Server]:
    with running_server(tls=True) as server:
        yield server


@pytest.fixture(scope="module")
def plain_server() -> Iterator[Server]:
    with running_server(tls=False) as server:
        yield server


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("second_pg_data")
    generate(folder, sessions=2_000, seed=5, daily=True)
    return folder


def _growth(
    url: str, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "growth_analytics.cli", *args],
        env={**os.environ, WAREHOUSE_URL_ENV: url, **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _first_days(landing: Path) -> list[str]:
    return [
        str(p) for p in sorted(landing.glob("*.csv")) if date.fromisoformat(p.stem.split("_")[1]) < SPLIT_DAY
    ]


def test_loader_and_growth_dbt_over_tls(tls_server: Server, landing: Path) -> None:
    url = tls_server.url(sslmode="require")
    assert "%40" in url and "%20" in url  # the password travels percent-encoded
    with connect(url) as conn:
        assert conn.execute("select ssl from pg_stat_ssl where pid = pg_backend_pid()").fetchone() == (True,)

    load = _growth(url, "load", *_first_days(landing))
    assert load.returncode == 0, load.stdout[-2000:] + load.stderr[-2000:]
    with connect(url) as conn:
        loaded = conn.execute("select count(*) from raw.conversions").fetchone()
    assert loaded is not None and loaded[0] > 0

    debug = _growth(url, "dbt", "debug")
    assert debug.returncode == 0, debug.stdout[-3000:]
    assert "sslmode: require" in debug.stdout and "All checks passed!" in debug.stdout


def test_ipv6_host_over_tls(tls_server: Server) -> None:
    if not _ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback (::1)")
    url = tls_server.url(host="::1", sslmode="verify-full", sslrootcert=str(tls_server.ca_file))
    assert "@[::1]:" in url
    with connect(url) as conn:
        assert conn.execute("select inet_client_addr() = '::1'::inet").fetchone() == (True,)
    debug = _growth(url, "dbt", "debug")
    assert debug.returncode == 0, debug.stdout[-3000:]
    assert "host: ::1" in debug.stdout


def test_growth_run_over_verified_tls(tls_server: Server, landing: Path, tmp_path: Path) -> None:
    # verify-full only connects with the test's root certificate: every client must have got sslrootcert.
    url = tls_server.url(sslmode="verify-full", sslrootcert=str(tls_server.ca_file))
    assert not (Path.home() / ".postgresql" / "root.crt").exists(), (
        "a default root certificate would hide a drop"
    )
    ledger = "select case when to_regclass('raw.load_ledger') is null then 0 else 1 end"
    with connect(url) as conn:
        if conn.execute(ledger).fetchone() == (1,):
            before = conn.execute("select count(*) from raw.load_ledger").fetchone()
        else:
            before = (0,)
    run = _growth(
        url,
        "run",
        "--data",
        str(landing),
        extra_env={
            "GROWTH_AIRFLOW_HOME": str(tmp_path / "airflow"),
            "GROWTH_REPORTS_DIR": str(tmp_path / "reports"),
        },
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"dbt docs: {tmp_path / 'reports' / 'dbt_docs' / 'index.html'}" in run.stdout
    assert PASSWORD not in run.stdout + run.stderr
    with connect(url) as conn:
        after = conn.execute("select count(*) from raw.load_ledger").fetchone()
        registrations = conn.execute("select count(*) from mart.registration_attribution").fetchone()
        raw = conn.execute(
            "select count(distinct (user_id, registration_time)) from raw.conversions"
        ).fetchone()
    assert (
        before is not None and after is not None and after[0] > before[0]
    )  # the DAG's loads came over TLS too
    assert registrations is not None and raw is not None and registrations[0] == raw[0] > 0


def test_require_against_a_server_without_tls_fails_everywhere(
    plain_server: Server, landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    url = plain_server.url(sslmode="require")
    # The server itself takes the role's password: only sslmode stands in the way.
    with connect(plain_server.url(sslmode="disable")) as conn:
        assert conn.execute("select current_user").fetchone() == (ROLE,)

    load = _growth(url, "load", _first_days(landing)[0])
    assert load.returncode != 0 and SSL_REFUSED in load.stderr, load.stdout + load.stderr

    debug = _growth(url, "dbt", "debug")
    assert debug.returncode != 0 and SSL_REFUSED in debug.stdout, debug.stdout[-3000:]

    # The Airflow connection growth_etl uses, for Airflow's own postgres hook (create_schemas) ...
    monkeypatch.setenv(airflow_env.CONN_ENV, airflow_env.connection_json(url))
    with pytest.raises((psycopg.OperationalError, psycopg2.OperationalError), match=SSL_REFUSED):
        PostgresHook(postgres_conn_id=airflow_env.CONN_ID).get_conn()
    # ... for the loader and docs tasks (the URL they rebuild from the connection) ...
    with pytest.raises(WarehouseError, match=SSL_REFUSED):
        connect(warehouse_url_from_connection()).close()
    # ... and for the per-node dbt tasks (Cosmos' profile made from the connection).
    mapping = profile_config().profile_mapping
    assert mapping is not None
    profiles = tmp_path / "cosmos_profile"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text(
        mapping.get_profile_file_contents(airflow_env.DBT_PROFILE, airflow_env.DBT_TARGET)
    )
    cosmos_debug = subprocess.run(
        [
            dbt.dbt_executable(),
            "debug",
            "--project-dir",
            str(dbt.active_project_dir()),
            "--profiles-dir",
            str(profiles),
        ],
        env={**os.environ, **mapping.env_vars},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert cosmos_debug.returncode != 0 and SSL_REFUSED in cosmos_debug.stdout, cosmos_debug.stdout[-3000:]

    # The DAG as a whole: its first task, over the connection, fails the run.
    run = _growth(
        url,
        "run",
        "--data",
        str(landing),
        extra_env={
            "GROWTH_AIRFLOW_HOME": str(tmp_path / "airflow"),
            "GROWTH_REPORTS_DIR": str(tmp_path / "reports"),
            # the retries run, without their waits
            TASK_RETRY_DELAY_ENV: "0",
        },
    )
    assert run.returncode != 0
    assert "failed task: create_schemas" in run.stdout, run.stdout[-3000:]
    with connect(plain_server.url(sslmode="disable")) as conn:
        schemas = conn.execute("select count(*) from pg_namespace where nspname = 'raw'").fetchone()
    assert schemas == (0,)  # nothing reached the server
