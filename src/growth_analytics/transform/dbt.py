"""Running dbt against the warehouse, with Elementary when its package is installed.

``dbt_project/packages.yml`` lists Elementary's dbt package, and dbt refuses to run at all while a listed
package is not installed. Where ``dbt deps`` cannot reach the dbt package hub, the package can't be had, so
dbt runs from a *core* copy of the project instead: links to the same models, seeds, macros and snapshots, a
dbt_project.yml with ``elementary_enabled: false`` (which disables every Elementary monitor) and no
packages.yml. Nothing else differs, and once ``dbt deps`` has installed the package the real project is used
again. Every run says which of the two it uses and why.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from growth_analytics import child
from growth_analytics.settings import WAREHOUSE_URL_ENV, dbt_project_dir, state_dir
from growth_analytics.warehouse.url import WarehouseParams

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult

PARTIAL_PARSE_FILE = "partial_parse.msgpack"  # dbt's saved parse, in a target folder
# Where Elementary's models are built (growth_etl's elementary_models, `growth dbt`): not in target/, whose
# manifest says which project's artifacts were last uploaded (elementary.models_to_build).
ELEMENTARY_TARGET = "elementary_target"
# dbt commands whose run ends with Elementary's hooks, which write to its tables (its tests do too).
COMMANDS_WITH_ELEMENTARY_HOOKS = {"build", "run", "test", "seed", "snapshot", "source"}
# Entries of dbt_project/ that the core copy must not share: dbt's own output, the package list and the
# installed packages, and dbt_project.yml, which the copy rewrites.
_NOT_LINKED = {"dbt_project.yml", "packages.yml", "package-lock.yml", "dbt_packages", "target", "logs"}


def elementary_package_file(project: Path | None = None) -> Path:
    """The dbt_project.yml of Elementary's dbt package as ``dbt deps`` installs it in a project."""
    return (project or dbt_project_dir()) / "dbt_packages" / "elementary" / "dbt_project.yml"


def elementary_installed(project: Path | None = None) -> bool:
    return elementary_package_file(project).exists()


def elementary_off_reason() -> str | None:
    """Why Elementary is off, or None when its dbt package is installed."""
    if elementary_installed():
        return None
    return (
        "Elementary is off: its dbt package (elementary-data/elementary, listed in dbt_project/packages.yml) "
        "is not installed. Run `make install` or `python -m growth_analytics.transform.elementary deps` "
        "where the dbt package hub is reachable; until then dbt builds and tests everything else without "
        "Elementary's monitors and report."
    )


def core_project_dir() -> Path:
    return state_dir() / "dbt_core"


def prepare_core_project() -> Path:
    """(Re)create the core copy of the dbt project; cheap, and a no-op when nothing changed."""
    source = dbt_project_dir()
    core = core_project_dir()
    core.mkdir(parents=True, exist_ok=True)
    wanted = {entry.name for entry in source.iterdir() if entry.name not in _NOT_LINKED}
    for entry in core.iterdir():
        if entry.is_symlink() and entry.name not in wanted:
            entry.unlink()
    for name in wanted:
        link = core / name
        if link.is_symlink() and os.readlink(link) == str(source / name):
            continue
        if link.is_symlink() or link.is_file():
            link.unlink()
        link.symlink_to(source / name)

    config = yaml.safe_load((source / "dbt_project.yml").read_text())
    config.setdefault("vars", {})["elementary_enabled"] = False
    (config.get("models") or {}).pop("elementary", None)
    text = (
        "# Generated from dbt_project/dbt_project.yml by growth_analytics.transform.dbt: the project\n"
        "# without Elementary, used while its dbt package is not installed. Do not edit.\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    target = core / "dbt_project.yml"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return core


def active_project_dir() -> Path:
    """The project dbt should run in: the real one with Elementary, else the core copy."""
    return dbt_project_dir() if elementary_installed() else prepare_core_project()


def manifest_path() -> Path:
    return active_project_dir() / "target" / "manifest.json"


def dbt_executable() -> str:
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


def dbt_env(url: str | None = None) -> dict[str, str]:
    """Environment for a dbt process: the warehouse URL, its parts for profiles.yml, the profiles folder."""
    from growth_analytics.warehouse.connect import warehouse_url

    env = dict(os.environ)
    env.update(profile_env(url or warehouse_url()))
    env["DBT_PROFILES_DIR"] = str(dbt_project_dir())
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def profile_env(url: str) -> dict[str, str]:
    """The variables dbt_project/profiles.yml reads, from the warehouse URL (and the URL itself)."""
    return {WAREHOUSE_URL_ENV: url, **WarehouseParams.from_url(url).dbt_env()}


def run_dbt(
    args: list[str], check: bool = True, url: str | None = None, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``dbt ARGS`` in the active project; ``deps`` always runs in the real project.

    dbt dies with this process and gets its SIGTERM and SIGINT (see :mod:`growth_analytics.child`).
    """
    project = dbt_project_dir() if args[:1] == ["deps"] else active_project_dir()
    return child.run([dbt_executable(), *args], cwd=project, env=dbt_env(url), check=check, capture=capture)


def invoke_dbt(args: list[str], url: str) -> dbtRunnerResult:
    """Run ``dbt ARGS`` in this process (dbtRunner, as growth_etl's Cosmos tasks do).

    The profile reads the warehouse from the environment, so it is set for the invocation only.
    """
    from dbt.cli.main import dbtRunner

    with environment_restored():
        os.environ.update(profile_env(url))
        return dbtRunner().invoke(
            [*args, "--project-dir", str(active_project_dir()), "--profiles-dir", str(dbt_project_dir())]
        )


@contextlib.contextmanager
def environment_restored() -> Iterator[None]:
    """The process environment and working directory as they were before the block, whatever it changed."""
    environment, cwd = dict(os.environ), os.getcwd()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environment)
        os.chdir(cwd)


def ensure_manifest(url: str | None = None) -> Path:
    """``dbt parse`` when target/manifest.json is missing or older than any project file."""
    path = manifest_path()
    source = dbt_project_dir()
    newest = max(
        (p.stat().st_mtime for p in source.rglob("*") if p.is_file() and not _is_output(p, source)),
        default=0.0,
    )
    if not path.exists() or path.stat().st_mtime < newest:
        run_dbt(["parse", "--quiet"], url=url)
    return path


def target_with_installed_parse(name: str) -> Path:
    """A target folder of its own (under the state folder), starting from the parse made when the project was
    installed: dbt reuses that parse for the same vars, profile and target, and the project's target/ (the
    manifest growth_etl renders from, its saved parse) stays as it is."""
    target = state_dir() / name
    target.mkdir(parents=True, exist_ok=True)
    installed_parse = manifest_path().with_name(PARTIAL_PARSE_FILE)
    if installed_parse.exists():
        shutil.copy2(installed_parse, target / PARTIAL_PARSE_FILE)
    return target


def prepare_elementary_tables(url: str, capture: bool = False) -> str | None:
    """Elementary's tables as the project's tests and hooks need them, as growth_etl's first task leaves them
    (dbt leaves Elementary's models out unless asked: the default selector); the selector built, if any."""
    if not elementary_installed():
        return None
    from growth_analytics.transform import elementary

    manifest = json.loads(ensure_manifest(url).read_text())
    target = target_with_installed_parse(ELEMENTARY_TARGET)
    return elementary.bring_tables_up_to_date(
        url, manifest, lambda args: run_dbt([*args, "--target-path", str(target)], url=url, capture=capture)
    )


def _is_output(path: Path, source: Path) -> bool:
    top = path.relative_to(source).parts[0]
    return top in {"target", "logs", "dbt_packages"}


def run_cli(args: argparse.Namespace) -> int:
    dbt_args = list(args.dbt_args)
    reason = elementary_off_reason()
    if reason and dbt_args[:1] != ["deps"]:
        print(f"growth dbt: {reason}", file=sys.stderr)
    if dbt_args[:1] and dbt_args[0] in COMMANDS_WITH_ELEMENTARY_HOOKS:
        from growth_analytics.warehouse.connect import warehouse_url

        try:
            built = prepare_elementary_tables(warehouse_url())
        except subprocess.CalledProcessError as exc:  # dbt has said why
            print(f"growth dbt: `{' '.join(exc.cmd[1:])}` failed, before {dbt_args[0]}", file=sys.stderr)
            return exc.returncode
        if built:
            print(f"growth dbt: built Elementary's models first ({built})", file=sys.stderr)
    returncode = run_dbt(dbt_args or ["--help"], check=False).returncode
    return 128 - returncode if returncode < 0 else returncode  # killed by signal N: 128 + N, as a shell says
