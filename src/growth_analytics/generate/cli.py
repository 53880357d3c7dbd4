"""``growth generate``: write the files and print what was written."""

from __future__ import annotations

import argparse
from datetime import date

from growth_analytics.generate.dataset import generate, generate_day
from growth_analytics.generate.shape import P_REGISTER


def run_cli(args: argparse.Namespace) -> int:
    """``growth generate``: write the files and print what was written."""
    day: date | None = getattr(args, "day", None)
    register_share = P_REGISTER if args.register_share is None else args.register_share
    if day is not None:
        summary = generate_day(
            args.out,
            day,
            sessions=args.sessions,
            seed=args.seed,
            base_sessions=getattr(args, "base_sessions", 20_000),
            bad_rows=args.bad_rows,
            gzip=args.gzip,
            register_share=register_share,
        )
    else:
        summary = generate(
            args.out,
            sessions=args.sessions,
            seed=args.seed,
            daily=args.daily,
            bad_rows=args.bad_rows,
            gzip=args.gzip,
            register_share=register_share,
        )
    print(
        f"wrote {len(summary.files)} file(s) to {summary.out_dir} in {summary.seconds:.1f} s: "
        f"{summary.rows['sessions']:,} sessions, {summary.rows['conversions']:,} registrations, "
        f"{summary.rows['spend']:,} spend rows, {summary.users:,} users"
    )
    bad_total = sum(summary.bad_rows.values())
    if bad_total:
        kinds = ", ".join(f"{kind} {count}" for kind, count in summary.bad_rows.items() if count)
        print(f"plus {bad_total:,} malformed lines: {kinds}")
    return 0
