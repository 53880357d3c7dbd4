"""The dbt layers of growth_etl and the nodes of the project a layer selects: a task group per layer when each
task runs dbt, one for the whole project when one ``dbt build`` runs it (watcher mode)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BUSINESS_TAG = "tag:business"
# Elementary's monitors of the raw feeds run in a task of their own beside the build: in it, dbt would run a
# source's tests before the views that read the source.
ELEMENTARY_TAG = "tag:elementary"
# growth_etl's dbt invocations leave dbt's unit tests out: their inputs are fixed, so they run in development
# and CI (`growth dbt build`, the test suite), as dbt recommends, not on every delivery.
WITHOUT_UNIT_TESTS = ("--exclude-resource-type", "unit_test")


@dataclass(frozen=True)
class Layer:
    """One task group of dbt nodes: its dbt selectors, in the order the groups run."""

    name: str
    select: tuple[str, ...]
    doc: str


# Intermediate models sit between the star schema and the marts (touches per registration come from the
# facts; a user's registration status needs the rule-based attribution), so they run with the marts.
LAYERS: tuple[Layer, ...] = (
    Layer("seeds", ("resource_type:seed",), "reference data: medium -> channel mapping, attribution rules"),
    Layer("staging", ("path:models/staging",), "typed, normalised, de-duplicated raw feeds"),
    Layer("dwh", ("path:models/marts/dwh",), "Kimball star schema: facts and dimensions"),
    Layer("mart", ("path:models/intermediate", "path:models/marts/mart"), "attribution marts"),
    Layer("snapshots", ("resource_type:snapshot",), "SCD2 history of dimension attributes"),
)

# Watcher mode: dbt's own build skips what a failed critical test guards, so layers need no gate between them.
WHOLE_PROJECT = Layer(
    "build",
    tuple(selector for layer in LAYERS for selector in layer.select),
    "every layer in one dbt build with its critical tests",
)


def layer_nodes(manifest: dict[str, Any], selectors: tuple[str, ...]) -> list[tuple[str, str]]:
    """(resource type, name) of the nodes a DAG layer renders, parents first."""
    wanted: dict[str, dict[str, Any]] = {}
    for unique_id, node in manifest["nodes"].items():
        if (
            node["resource_type"] not in ("model", "seed", "snapshot")
            or node["package_name"] != "growth_analytics"
        ):
            continue
        path = node["original_file_path"]
        for selector in selectors:
            method, value = selector.split(":", 1)
            if (method == "path" and path.startswith(value)) or (
                method == "resource_type" and node["resource_type"] == value
            ):
                wanted[unique_id] = node
    ordered: list[tuple[str, str]] = []
    done: set[str] = set()

    def visit(unique_id: str) -> None:
        if unique_id in done or unique_id not in wanted:
            return
        done.add(unique_id)
        for parent in wanted[unique_id].get("depends_on", {}).get("nodes", []):
            visit(parent)
        ordered.append((wanted[unique_id]["resource_type"], wanted[unique_id]["name"]))

    for unique_id in sorted(wanted):
        visit(unique_id)
    return ordered
