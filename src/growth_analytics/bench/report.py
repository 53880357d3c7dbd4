"""The benchmark's figures: recorded as measured, judged against their targets, saved as JSON and Markdown."""

from __future__ import annotations

import json
import os
import platform
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The benchmark's data: about one registration per ten sessions (1M registrations at 10M sessions), a
# heavier attribution load than `growth generate`'s default of one per 25.
BENCH_REGISTER_SHARE = 0.245

# What each figure should reach, for the verdict column of the table.
TARGETS = {
    "loader_ratio_to_floor": (">=", 0.9),
    "loader_peak_rss_mb": ("<=", 300.0),
    "dbt_build_full_seconds": ("<=", 60.0),
    "dbt_incremental_seconds": ("<=", 10.0),
    "airflow_overhead_pct": ("<=", 25.0),
    "stack_first_run_ratio": ("<=", 1.25),
    "stack_day_run_ratio": ("<=", 2.0),
}


@dataclass
class BenchReport:
    sessions: int
    register_share: float = BENCH_REGISTER_SHARE
    machine: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    slowest_nodes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def record(self, name: str, value: Any, unit: str = "") -> None:
        self.figures[name] = value
        shown = (
            f"{value:,.2f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
        )
        print(f"  {name:<34} {shown} {unit}".rstrip(), flush=True)

    def to_markdown(self) -> str:
        lines = [
            f"# growth bench — {self.sessions:,} sessions, register share {self.register_share:g}",
            "",
            f"Machine: {self.machine.get('description', '')}",
            "",
            "| figure | value | target | verdict |",
            "|---|---:|---|---|",
        ]
        for name, value in self.figures.items():
            target = TARGETS.get(name)
            verdict, target_text = "", ""
            if target and isinstance(value, int | float):
                op, bound = target
                target_text = f"{op} {bound:g}"
                verdict = "met" if (value >= bound if op == ">=" else value <= bound) else "missed"
            shown = (
                f"{value:,.2f}"
                if isinstance(value, float)
                else f"{value:,}"
                if isinstance(value, int)
                else value
            )
            lines.append(f"| {name} | {shown} | {target_text} | {verdict} |")
        if self.slowest_nodes:
            lines += ["", "Slowest dbt nodes of the full build:", "", "| node | seconds |", "|---|---:|"]
            lines += [f"| {n['unique_id']} | {n['seconds']:.2f} |" for n in self.slowest_nodes]
        if self.errors:
            lines += ["", "Errors:", ""] + [f"- {e}" for e in self.errors]
        return "\n".join(lines) + "\n"


def describe_machine() -> dict[str, Any]:
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = os.cpu_count() or 0
    memory_gib = psutil.virtual_memory().total / 2**30
    return {
        "cpu": cpu,
        "cores": cores,
        "memory_gib": round(memory_gib, 1),
        "python": platform.python_version(),
        "description": f"{cores} cores ({cpu}), {memory_gib:.0f} GiB RAM, Python {platform.python_version()}",
    }


def save(report: BenchReport, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "sessions": report.sessions,
        "machine": report.machine,
        "figures": report.figures,
        "slowest_nodes": report.slowest_nodes,
        "errors": report.errors,
        "finished_at": stamp,
    }
    json_path = out / f"bench-{report.sessions}-{stamp}.json"
    md_path = json_path.with_suffix(".md")
    json_path.write_text(json.dumps(payload, indent=2))
    md_path.write_text(report.to_markdown())
    shutil.copyfile(md_path, out / "latest.md")
    return json_path, md_path
