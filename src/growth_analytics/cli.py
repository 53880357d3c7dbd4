"""The ``growth`` command.

Each subcommand parses its arguments here and hands them to the module that does the work; modules are
imported lazily so that ``growth db url`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from datetime import date
from pathlib import Path


def _cmd_db(args: argparse.Namespace) -> int:
    from growth_analytics.settings import WAREHOUSE_URL_ENV
    from growth_analytics.warehouse.connect import WarehouseError, warehouse_params, warehouse_url
    from growth_analytics.warehouse.embedded import EmbeddedPostgres

    server = EmbeddedPostgres.default()
    external = warehouse_url(start=False) if _external_url() else None
    if args.action == "url":
        print(external or server.up())
        return 0
    if args.action == "env":
        print(_shell_exports(external or server.up()))
        return 0
    if external and args.action in ("up", "down"):
        print(f"{WAREHOUSE_URL_ENV} is set: the warehouse is managed elsewhere, nothing to {args.action}.")
        return 0
    if args.action == "up":
        where = warehouse_params(server.up()).describe()
        # The URL holds the password: `growth db url` prints it, on request.
        print(f"embedded Postgres is up: {where}; `growth db url` prints its URL")
    elif args.action == "down":
        print("embedded Postgres stopped" if server.down() else "embedded Postgres was not running")
    elif args.action == "status":
        if external:
            print(json.dumps({"warehouse": "external", "env": WAREHOUSE_URL_ENV}))
            return 0
        port = server.running_port()
        status = {
            "warehouse": "embedded",
            "running": port is not None,
            "port": port,
            "data_dir": str(server.pgdata),
        }
        print(json.dumps(status))
        return 0 if port is not None else 3
    else:  # pragma: no cover - argparse restricts choices
        raise WarehouseError(args.action)
    return 0


def _shell_exports(url: str) -> str:
    """``export`` lines for the warehouse URL and the dbt profile's fields (``eval "$(growth db env)"``)."""
    import shlex

    from growth_analytics.settings import dbt_project_dir
    from growth_analytics.transform.dbt import profile_env

    env = {**profile_env(url), "DBT_PROFILES_DIR": str(dbt_project_dir())}
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in env.items())


def _external_url() -> bool:
    import os

    from growth_analytics.settings import WAREHOUSE_URL_ENV

    return bool(os.environ.get(WAREHOUSE_URL_ENV))


def _delegate(module: str):
    """A subcommand handled by ``growth_analytics.<module>.run_cli``, imported only when it runs."""

    def run(args: argparse.Namespace) -> int:
        return importlib.import_module(f"growth_analytics.{module}").run_cli(args)

    return run


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="growth", description="growth_analytics: load, model and attribute."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser(
        "db",
        help="manage the embedded Postgres (or show the configured warehouse); `url` prints its URL, "
        "`env` the shell exports for plain dbt",
    )
    db.add_argument("action", choices=["up", "down", "status", "url", "env"])
    db.set_defaults(func=_cmd_db)

    gen = sub.add_parser("generate", help="write realistic session and registration CSVs")
    gen.add_argument("--out", type=Path, required=True, help="folder to write the CSVs to")
    gen.add_argument("--sessions", type=int, default=20_000, help="number of session rows (default 20000)")
    gen.add_argument("--seed", type=int, default=42, help="random seed; same seed, same files")
    gen.add_argument("--daily", action="store_true", help="one file per feed per day, as in production")
    gen.add_argument(
        "--bad-rows",
        type=float,
        default=0.0,
        metavar="RATE",
        help="share of malformed lines to inject (every kind), e.g. 0.001",
    )
    gen.add_argument("--gzip", action="store_true", help="write .csv.gz files")
    gen.add_argument(
        "--register-share",
        type=float,
        default=None,
        metavar="SHARE",
        help="share of users who register (default: about one registration per 25 sessions; "
        "0.245: one per ten)",
    )
    gen.add_argument(
        "--day",
        type=_iso_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="write one more day (new users plus returning ones) as day files, for incremental runs",
    )
    gen.add_argument(
        "--base-sessions",
        type=int,
        default=20_000,
        metavar="N",
        help="with --day: --sessions of the run the day extends (returning users come from it)",
    )
    gen.set_defaults(func=_delegate("generate.cli"))

    load = sub.add_parser("load", help="load CSV files (or folders of them) into raw.* exactly once")
    load.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    load.add_argument("--json", action="store_true", help="print one JSON object per file")
    load.set_defaults(func=_delegate("load.cli"))

    dbt = sub.add_parser(
        "dbt", help="run dbt against the warehouse (Elementary on when installed)", add_help=False
    )
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(func=_delegate("transform.dbt"))

    run = sub.add_parser("run", help="the main job: load data/, run growth_etl in Airflow, print the report")
    run.add_argument("--data", type=Path, default=None, help="landing folder (default: data/)")
    run.set_defaults(func=_delegate("pipeline"))

    report = sub.add_parser("report", help="write the growth report: charts over the marts, one HTML file")
    report.add_argument("--out", type=Path, default=None, help="default: reports/attribution_report.html")
    report.set_defaults(func=_delegate("report"))

    airflow = sub.add_parser(
        "airflow", help="run an airflow command with the project's environment", add_help=False
    )
    airflow.add_argument("airflow_args", nargs=argparse.REMAINDER)
    airflow.set_defaults(func=_delegate("orchestration.airflow_env"))

    stack = sub.add_parser(
        "stack",
        help="the production layout on this machine: Airflow with Celery workers, Redis and a Postgres "
        "metadata database, on 127.0.0.1",
    )
    stack.add_argument(
        "action",
        choices=["up", "down", "status", "trigger"],
        help="trigger: run growth_etl once in the running stack and wait for it",
    )
    stack.add_argument("--workers", type=int, default=2, help="Celery workers (up; default 2)")
    stack.add_argument("--foreground", action="store_true", help="up: stay until Ctrl-C, then stop it")
    stack.add_argument("--json", action="store_true", help="status: as JSON (with the login)")
    stack.set_defaults(func=_delegate("orchestration.stack"))

    bench = sub.add_parser("bench", help="benchmark loader, dbt and the DAG (separate from the tests)")
    bench.add_argument("--sessions", type=int, default=10_000_000)
    bench.add_argument(
        "--register-share",
        type=float,
        default=None,
        metavar="SHARE",
        help="share of users who register (default: about one registration per ten sessions)",
    )
    bench.add_argument("--out", type=Path, default=None, help="results folder (default: results/)")
    bench.set_defaults(func=_delegate("bench.run"))
    return parser


def main(argv: list[str] | None = None) -> int:
    from growth_analytics.warehouse.connect import WarehouseError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WarehouseError as exc:
        print(f"growth: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
