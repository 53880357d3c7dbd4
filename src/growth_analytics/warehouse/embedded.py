"""A project-local PostgreSQL 16 for development and tests, from the ``pgserver`` wheel's binaries.

It runs from a git-ignored folder of the project, listening on 127.0.0.1 on a free port (dbt profiles,
Airflow connections and Cosmos asset URIs all need host and port). Postgres refuses to run as root, so under
root the server runs as the unprivileged system user ``pgserver``. The loader and dbt log in as the
non-superuser role ``growth``, which owns the ``growth`` database and so every schema the project creates.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from growth_analytics.ports import free_port, port_is_free
from growth_analytics.private_files import write_private
from growth_analytics.settings import state_dir
from growth_analytics.warehouse.connect import WarehouseError
from growth_analytics.warehouse.url import WarehouseParams

APP_ROLE = "growth"
APP_DB = "growth"
SUPERUSER = "postgres"
SERVICE_USER = "pgserver"  # system user the server runs as when we are root


# A single-node analytics box: no replicas, so WAL only needs crash safety. With wal_level=minimal a
# table created and filled in one transaction skips WAL, which the loader's per-load partitions use.
SERVER_SETTINGS: dict[str, str | int] = {
    "wal_level": "minimal",
    "max_wal_senders": 0,
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
    "shared_buffers": "1GB",
    "maintenance_work_mem": "512MB",
    "work_mem": "64MB",
    "effective_cache_size": "8GB",
    # Memory or SSD: a random page read costs about as much as a sequential one, so incremental runs
    # probe the dimensions' indexes for their few rows instead of hashing whole tables.
    "random_page_cost": 1.1,
    "max_connections": 100,
    # The models' statements are few and large or many and small: JIT compilation costs more than it saves.
    "jit": "off",
    # Two dbt threads already keep both cores busy: a parallel plan for one node takes its workers' CPU from
    # the node beside it. Statements stay serial unless a model opts in (macro tune_postgres_session), and
    # serial plans pick merge joins of index-only scans where parallel ones hash whole tables.
    "max_parallel_workers_per_gather": 0,
}


def _bin_dir() -> Path:
    configured = os.environ.get("GROWTH_PG_BINDIR")
    if configured:
        return Path(configured)
    # The pgserver wheel ships PostgreSQL 16; locate its binaries without importing the package
    # (its import has side effects we do not need).
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise WarehouseError("no Postgres binaries: install pgserver or set GROWTH_PG_BINDIR")
    return Path(spec.origin).parent / "pginstall" / "bin"


def _allow_traverse(path: Path) -> None:
    """Let other users traverse every folder above ``path`` (the service user must reach it)."""
    for parent in path.resolve().parents:
        parent.chmod(parent.stat().st_mode | 0o011)


@dataclass
class EmbeddedPostgres:
    """A project-local Postgres server: ``up`` is idempotent and safe to call from parallel processes."""

    root: Path

    @classmethod
    def default(cls) -> EmbeddedPostgres:
        return cls(state_dir() / "postgres")

    @property
    def pgdata(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    @property
    def _meta_path(self) -> Path:
        return self.root / "credentials.json"

    # -- process control ---------------------------------------------------------------------------

    def _run_as_service_user(self) -> bool:
        return os.geteuid() == 0

    def _pg(self, program: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        kwargs: dict = {}
        if self._run_as_service_user():
            kwargs["user"] = SERVICE_USER
        cmd = [str(_bin_dir() / program), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
        if proc.returncode != 0:
            raise WarehouseError(
                f"{program} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
                f" — see {self.logfile}"
            )
        return proc

    def _prepare_service_user(self) -> None:
        """Under root: make the binaries and our folder usable by the unprivileged service user."""
        if not self._run_as_service_user():
            return
        import pwd

        try:
            entry = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", SERVICE_USER], check=True, capture_output=True
            )
            entry = pwd.getpwnam(SERVICE_USER)
        install = _bin_dir().parent
        for path in (install, self.root):
            _allow_traverse(path)
        for path in install.rglob("*"):
            mode = path.stat().st_mode
            path.chmod(mode | 0o055 if path.is_dir() or mode & 0o100 else mode | 0o044)
        os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _read_meta(self) -> dict:
        return json.loads(self._meta_path.read_text())

    def _initdb(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._prepare_service_user()
        meta = {"superuser_password": secrets.token_urlsafe(18), "app_password": secrets.token_urlsafe(18)}
        pwfile = self.root / "initdb.pw"
        write_private(pwfile, meta["superuser_password"] + "\n")
        if self._run_as_service_user():
            import pwd

            entry = pwd.getpwnam(SERVICE_USER)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        try:
            self._pg(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "--encoding=UTF8",
                "--locale=C",
                timeout=180,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        write_private(self._meta_path, json.dumps(meta))

    def running_port(self) -> int | None:
        """The port of the running server, read from postmaster.pid; None when it is not running."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        if len(lines) < 4:
            return None
        try:
            os.kill(int(lines[0]), 0)
        except (ProcessLookupError, ValueError):
            return None
        except PermissionError:
            pass  # alive, owned by the service user
        return int(lines[3])

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.parent.mkdir(parents=True, exist_ok=True)
        with open(self.root.parent / f".{self.root.name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def up(self) -> str:
        """Start the server if needed (creating it on first use) and return the app role's URL."""
        with self._lock():
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            port = self.running_port()
            if port is None:
                self._prepare_service_user()
                meta = self._read_meta()
                port = meta.get("port", 0)
                if not port or not port_is_free(port):
                    port = free_port()
                options = " ".join(
                    f"-c {name}={value}"
                    for name, value in {
                        "listen_addresses": "127.0.0.1",
                        "port": port,
                        "unix_socket_directories": "''",
                        **SERVER_SETTINGS,
                    }.items()
                )
                self._pg(
                    "pg_ctl",
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.logfile),
                    "-o",
                    options,
                    timeout=90,
                )
                meta["port"] = port
                write_private(self._meta_path, json.dumps(meta))
            self._bootstrap(port)
            return self.url(port)

    def down(self) -> bool:
        """Stop the server; False when it was not running."""
        with self._lock():
            if self.running_port() is None:
                return False
            self._prepare_service_user()  # the folders above may have been tightened since `up`
            self._pg("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.pgdata), timeout=90)
            return True

    def _port_of_running_server(self) -> int:
        port = self.running_port()
        if port is None:
            raise WarehouseError("the embedded Postgres is not running: start it with `growth db up`")
        return port

    def url(self, port: int | None = None) -> str:
        port = port or self._port_of_running_server()
        return self._params(port, APP_ROLE, self._read_meta()["app_password"], APP_DB).url()

    def superuser_url(self, port: int) -> str:
        return self._params(port, SUPERUSER, self._read_meta()["superuser_password"], "postgres").url()

    @staticmethod
    def _params(port: int, user: str, password: str, dbname: str) -> WarehouseParams:
        return WarehouseParams(host="127.0.0.1", port=port, user=user, password=password, dbname=dbname)

    def create_database(self, name: str) -> str:
        """A new, empty database ``name`` owned by the app role (replacing one of that name); its URL."""
        self.drop_database(name)
        port = self._port_of_running_server()
        with psycopg.connect(self.superuser_url(port), autocommit=True) as admin:
            admin.execute(
                sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(APP_ROLE))
            )
        return self._params(port, APP_ROLE, self._read_meta()["app_password"], name).url()

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting its sessions."""
        with psycopg.connect(self.superuser_url(self._port_of_running_server()), autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))

    def _bootstrap(self, port: int) -> None:
        """Create the app role and database once; cheap when they exist."""
        meta = self._read_meta()
        if meta.get("bootstrapped"):
            return
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(self.superuser_url(port), autocommit=True)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with conn:
            exists = conn.execute("select 1 from pg_roles where rolname = %s", (APP_ROLE,)).fetchone()
            if not exists:
                conn.execute(
                    sql.SQL("create role {} login password {}").format(
                        sql.Identifier(APP_ROLE), sql.Literal(meta["app_password"])
                    )
                )
            if not conn.execute("select 1 from pg_database where datname = %s", (APP_DB,)).fetchone():
                conn.execute(
                    sql.SQL("create database {} owner {}").format(
                        sql.Identifier(APP_DB), sql.Identifier(APP_ROLE)
                    )
                )
        meta["bootstrapped"] = True
        write_private(self._meta_path, json.dumps(meta))
