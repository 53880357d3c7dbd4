"""The dbt project's SQL passes sqlfluff (dbt_project/.sqlfluff: postgres dialect, dbt templater).

The dbt templater compiles every model, test and snapshot as dbt does, and the project's macros read the
warehouse while compiling (watermarks, the last load taken), so the lint runs against a warehouse built
from a small generated sample.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dbt_cases import run_dbt_in

from growth_analytics.generate import generate
from growth_analytics.load import STATUS_LOADED, load_files
from growth_analytics.settings import dbt_project_dir
from growth_analytics.transform.dbt import active_project_dir, dbt_env


def test_dbt_project_passes_sqlfluff(warehouse_url: str, tmp_path: Path) -> None:
    files = generate(tmp_path / "data", sessions=300, seed=5).files
    results = load_files(files, url=warehouse_url)
    assert [result.status for result in results] == [STATUS_LOADED] * len(results)
    for command in ("seed", "run"):
        dbt = run_dbt_in(tmp_path / "target", command, check=False)
        assert dbt.returncode == 0, dbt.stdout[-3000:]

    env = dbt_env(warehouse_url)
    # the project dbt runs in: without Elementary's package, the copy without packages.yml
    env["DBT_PROJECT_DIR"] = str(active_project_dir())
    env["DBT_TARGET_PATH"] = str(tmp_path / "lint_target")
    sqlfluff = Path(sys.executable).parent / "sqlfluff"
    # the templater is set by dbt_project/.sqlfluff, which sqlfluff reads from the working directory only
    lint = subprocess.run(
        [str(sqlfluff), "lint", "."],
        cwd=dbt_project_dir(),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, f"sqlfluff lint dbt_project:\n{lint.stdout}\n{lint.stderr[-3000:]}"
