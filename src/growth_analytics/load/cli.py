"""``growth load``: load files or folders and print one line per file and a total."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from growth_analytics.load.files import load_files
from growth_analytics.load.results import STATUS_DUPLICATE, STATUS_IGNORED, STATUS_LOADED, STATUS_REFUSED
from growth_analytics.warehouse.connect import WarehouseError


def run_cli(args: argparse.Namespace) -> int:
    """``growth load PATH... [--json]``: one line per file and a total; non-zero if a file was refused."""
    try:
        results = load_files(args.paths)
    except WarehouseError as exc:
        print(f"growth load: {exc}", file=sys.stderr)
        return 2
    for result in results:
        if args.json:
            print(json.dumps(result.as_json()), flush=True)
        elif result.status == STATUS_REFUSED:
            print(f"growth load: {result.message}", file=sys.stderr)
        elif result.status == STATUS_IGNORED:
            print(f"ignored {result.message}")
        else:
            print(result.message)
    refused = sum(r.status == STATUS_REFUSED for r in results)
    if not args.json:
        loaded = [r for r in results if r.status == STATUS_LOADED]
        skipped = sum(r.status == STATUS_DUPLICATE for r in results)
        ignored = sum(r.status == STATUS_IGNORED for r in results)
        print(
            f"total: {len(results)} files: {len(loaded)} loaded, {skipped} already loaded, {refused} refused"
            f"{f', {ignored} ignored' if ignored else ''};"
            f" {sum(r.rows_read for r in loaded)} read = {sum(r.rows_loaded for r in loaded)} loaded"
            f" + {sum(r.rows_rejected for r in loaded)} rejected"
            f" in {sum(r.seconds for r in results):.1f} s"
        )
    return 1 if refused else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m growth_analytics.load PATH...`` (same as ``growth load``)."""
    parser = argparse.ArgumentParser(prog="growth load")
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true")
    return run_cli(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
