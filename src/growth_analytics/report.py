"""The growth report (``growth report``): one self-contained HTML page of charts over the marts.

Plotly draws the charts; its JavaScript library is written into the page once, so the file opens offline
and nothing is requested from elsewhere when it is opened. Every number in the page is read from the
marts as they are when the report is written.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import psycopg
from plotly.offline import get_plotlyjs

from growth_analytics import settings
from growth_analytics.warehouse.connect import connect

REPORT_NAME = "attribution_report.html"
RULE_BASED = "rule_based"
TOP_PATHS = 10
# Plotly's own config: no logo linking to plotly.com.
PLOT_CONFIG = {"displaylogo": False, "responsive": True}

MODEL_NOTES = {
    "rule_based": "the growth team's rules (seed attribution_rules): paid search within 3 h, impression "
    "within 1 h, organic search within 12 h, else direct, else others; one channel per registration",
    "first_touch": "all credit to the first session in the 30-day lookback",
    "last_touch": "all credit to the last session before registering",
    "last_non_direct": "all credit to the last session that was not DIRECT (DIRECT only if nothing else)",
    "linear": "credit shared equally by the sessions in the lookback",
    "time_decay": "more credit to recent sessions (half of it every 7 days further back)",
    "position_based": "40 % first, 40 % last, 20 % shared by the sessions in between",
    "markov": "data-driven: each channel's share of the drop in conversions if the channel were removed "
    "from every path (Markov chain over all users' paths)",
}


@dataclass(frozen=True)
class Chart:
    """One chart of the report: a heading, a note for the reader, and the figure."""

    key: str
    title: str
    note: str
    figure: go.Figure


def _rows(conn: Any, query: str) -> list[tuple[Any, ...]]:
    return conn.execute(query).fetchall()


def registrations_per_day(conn: Any) -> go.Figure:
    rows = _rows(
        conn,
        "select registration_date, channel, registrations::float8 from mart.channel_attribution_daily"
        f" where model = '{RULE_BASED}' order by channel, registration_date",
    )
    figure = go.Figure()
    for channel in sorted({channel for _, channel, _ in rows}):
        mine = [(day, value) for day, name, value in rows if name == channel]
        figure.add_bar(name=channel, x=[day.isoformat() for day, _ in mine], y=[value for _, value in mine])
    figure.update_layout(barmode="stack", xaxis_title="day (UTC)", yaxis_title="registrations")
    return figure


def models_side_by_side(conn: Any) -> go.Figure:
    rows = _rows(
        conn,
        "select model, channel, sum(registrations)::float8 from mart.channel_attribution_daily"
        " group by model, channel order by model, channel",
    )
    figure = go.Figure()
    for model in sorted({model for model, _, _ in rows}):
        mine = [(channel, value) for name, channel, value in rows if name == model]
        figure.add_bar(name=model, x=[channel for channel, _ in mine], y=[value for _, value in mine])
    figure.update_layout(barmode="group", xaxis_title="channel", yaxis_title="registrations (credited)")
    return figure


def cost_per_registration(conn: Any) -> go.Figure:
    """Over the whole period, per model and channel with spend: total spend / total registrations."""
    rows = _rows(
        conn,
        "select model, channel, (sum(spend) / nullif(sum(registrations), 0))::float8, min(currency)"
        " from mart.channel_cost_daily group by model, channel having sum(spend) > 0 order by model, channel",
    )
    currency = rows[0][3] if rows else ""
    figure = go.Figure()
    for model in sorted({model for model, _, _, _ in rows}):
        mine = [(channel, value) for name, channel, value, _ in rows if name == model]
        figure.add_bar(name=model, x=[channel for channel, _ in mine], y=[value for _, value in mine])
    figure.update_layout(
        barmode="group", xaxis_title="channel", yaxis_title=f"cost per registration ({currency})"
    )
    return figure


def top_paths(conn: Any) -> go.Figure:
    rows = _rows(
        conn,
        "select path, converting from mart.conversion_paths where converting > 0"
        f" order by converting desc, path limit {TOP_PATHS}",
    )
    rows.reverse()  # the largest on top of a horizontal bar chart
    figure = go.Figure(
        go.Bar(orientation="h", x=[count for _, count in rows], y=[path for path, _ in rows], name="paths")
    )
    figure.update_layout(xaxis_title="registrations with this path", yaxis_title="path (channels in order)")
    return figure


def hours_to_convert(conn: Any) -> go.Figure:
    """Per rule-based channel, the quartiles and the 5th/95th percentiles (computed in Postgres)."""
    rows = _rows(
        conn,
        "select channel, percentile_cont(array[0.05, 0.25, 0.5, 0.75, 0.95])"
        " within group (order by hours_to_convert)::float8[]"
        " from mart.registration_attribution where hours_to_convert is not null"
        " group by channel order by channel",
    )
    figure = go.Figure()
    for channel, (p05, q1, median, q3, p95) in rows:
        figure.add_box(
            name=channel, q1=[q1], median=[median], q3=[q3], lowerfence=[p05], upperfence=[p95], x=[channel]
        )
    figure.update_layout(showlegend=False, xaxis_title="channel (rule-based)", yaxis_title="hours to convert")
    return figure


def charts(url: str | None = None) -> list[Chart]:
    with connect(url) as conn:
        return [
            Chart(
                "registrations_per_day",
                "Registrations per day by channel (rule-based)",
                "Each registration counted once, for the channel the growth team's rules give it.",
                registrations_per_day(conn),
            ),
            Chart(
                "models_side_by_side",
                "Registrations per channel under each attribution model",
                "The same registrations, credited by different models; multi-touch models split one "
                "registration over several channels, so bars can be fractional. rule_based names its rules "
                "(PAID_SEARCH), the other models name the session's medium (PAID SEARCH).",
                models_side_by_side(conn),
            ),
            Chart(
                "cost_per_registration",
                "Cost per registration per channel and model",
                "Spend over the whole period divided by the registrations the model credits to the channel; "
                "channels without spend are left out. A missing bar: spend but no registration credited.",
                cost_per_registration(conn),
            ),
            Chart(
                "top_paths",
                f"Top {TOP_PATHS} conversion paths",
                "The channels a user touched in the 30 days before registering, in order, repeats merged.",
                top_paths(conn),
            ),
            Chart(
                "hours_to_convert",
                "Hours from the attributed session to the registration",
                "Per rule-based channel: the box spans the middle half of registrations, the line is the "
                "median, the whiskers the 5th and 95th percentiles.",
                hours_to_convert(conn),
            ),
        ]


def render(chart_list: list[Chart]) -> str:
    sections = []
    for chart in chart_list:
        chart.figure.update_layout(template="plotly_white", margin={"t": 30})
        div = chart.figure.to_html(
            full_html=False, include_plotlyjs=False, div_id=chart.key, config=PLOT_CONFIG
        )
        sections.append(
            f"<section><h2>{html.escape(chart.title)}</h2><p>{html.escape(chart.note)}</p>{div}</section>"
        )
    notes = "".join(
        f"<li><b>{html.escape(model)}</b>: {html.escape(note)}</li>" for model, note in MODEL_NOTES.items()
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<title>Growth attribution report</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
        "section{margin-bottom:2em}p{color:#444}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        "<h1>Growth attribution report</h1>"
        "<p>Where registrations come from and what they cost. Attribution models:</p>"
        f"<ul>{notes}</ul>{''.join(sections)}</body></html>\n"
    )


def write_report(url: str | None = None, path: Path | None = None) -> Path:
    """Write the report (default: reports/attribution_report.html) and return its path."""
    path = path or settings.reports_dir() / REPORT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(render(charts(url)), encoding="utf-8")
    partial.replace(path)  # readers never see half a report
    return path


def figures_in(page: str) -> dict[str, dict[str, Any]]:
    """The figures (div id -> {"data": traces, "layout": layout}) of a page written by :func:`render`."""
    decoder = json.JSONDecoder()
    found: dict[str, dict[str, Any]] = {}
    start = page.index("</head>")  # after the library, whose code mentions the call too
    while (at := page.find("Plotly.newPlot(", start)) >= 0:
        pos = at + len("Plotly.newPlot(")
        parts = []
        for _ in range(3):
            while page[pos] in " \n\t,":
                pos += 1
            value, pos = decoder.raw_decode(page, pos)
            parts.append(value)
        found[parts[0]] = {"data": parts[1], "layout": parts[2]}
        start = pos
    return found


def run_cli(args: argparse.Namespace) -> int:
    try:
        path = write_report(path=args.out)
    except psycopg.errors.UndefinedTable as exc:
        problem = str(exc).splitlines()[0]
        print(
            f"growth report: {problem}: build the marts first (growth run, or growth dbt build)",
            file=sys.stderr,
        )
        return 1
    print(f"growth report: {path}")
    return 0
