"""The spend feed in the loader: its header, its values, one currency per file (real Postgres)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from dbt_cases import query

from growth_analytics.load import STATUS_LOADED, STATUS_REFUSED, load_files


def test_spend_rows_are_loaded_exactly_and_bad_ones_rejected_with_the_reason(
    warehouse_url: str, tmp_path: Path
):
    spend = tmp_path / "spend.csv"
    spend.write_text(
        "Medium,SPEND,spend_date\n"  # any order, any case, no currency (the reporting currency)
        " paid search ,12.5,2024-01-01\n"
        "DISPLAY,0.0001,2024-01-02\n"
        "TV,99999999999999.9999,2024-01-03\n"
        "TV,0,2024-01-04\n"
        "TV,1.23456,2024-01-01\n"
        "TV,-1,2024-01-01\n"
        "TV,1e3,2024-01-01\n"
        "TV,1,000,2024-01-01\n"
        "TV,123456789012345,2024-01-01\n"
        "TV,1,2024-02-30\n"
        "TV,1,1989-12-31\n"
        " ,1,2024-01-01\n"
    )
    (result,) = load_files([spend], url=warehouse_url)
    assert (result.status, result.feed, result.rows_read, result.rows_loaded) == (
        STATUS_LOADED,
        "spend",
        12,
        4,
    )
    rows = query(
        warehouse_url,
        f"select _line_number, spend_date::text, medium, spend, currency from raw.spend"
        f" where _load_id = {result.load_id} order by 1",
    )
    assert rows == [
        (2, "2024-01-01", " paid search ", Decimal("12.5"), None),
        (3, "2024-01-02", "DISPLAY", Decimal("0.0001"), None),
        (4, "2024-01-03", "TV", Decimal("99999999999999.9999"), None),
        (5, "2024-01-04", "TV", Decimal("0"), None),
    ]
    reasons = dict(
        query(
            warehouse_url,
            f"select line_number, reason from raw.load_rejects where load_id = {result.load_id}",
        )
    )
    assert reasons == {
        6: "bad spend '1.23456': more than 4 decimals",
        7: "bad spend '-1': expected a decimal >= 0 like 1234.56 (a dot, no sign)",
        8: "bad spend '1e3': expected a decimal >= 0 like 1234.56 (a dot, no sign)",
        9: "too many fields: 4, expected 3",
        10: "spend '123456789012345' too large: at most 14 digits before the dot",
        11: "bad spend_date '2024-02-30': day is out of range for month",
        12: "spend_date '1989-12-31' outside the accepted range [1990-01-01, 2100-01-01) UTC",
        13: "empty medium",
    }


def test_a_file_in_one_currency_loads_and_one_with_two_is_refused_whole(warehouse_url: str, tmp_path: Path):
    usd = tmp_path / "usd.csv"
    usd.write_text(
        "spend_date,medium,spend,currency\n2024-01-01,TV,100,usd\n2024-01-02,TV,5.25,USD\n2024-01-02,TV,1,US\n"
    )
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("currency,spend_date,medium,spend\nEUR,2024-01-01,TV,100\nUSD,2024-01-02,TV,5\n")
    loaded, refused = load_files([usd, mixed], url=warehouse_url)
    assert (loaded.status, loaded.rows_loaded, loaded.rows_rejected) == (STATUS_LOADED, 2, 1)
    assert query(warehouse_url, f"select currency from raw.spend where _load_id = {loaded.load_id}") == [
        ("USD",),
        ("USD",),
    ]
    assert refused.status == STATUS_REFUSED
    assert refused.message == (
        "mixed.csv: more than one currency in the file (EUR, USD): one per file, none is converted"
    )
    assert query(warehouse_url, "select count(*) from raw.load_ledger where source_file = 'mixed.csv'") == [
        (0,)
    ]


def test_a_spend_header_with_a_wrong_column_names_the_spend_feed(warehouse_url: str, tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("spend_date,medium,amount\n2024-01-01,TV,1\n")
    (result,) = load_files([bad], url=warehouse_url)
    assert result.status == STATUS_REFUSED
    assert result.message == (
        "bad.csv: header does not fit the spend feed (spend_date,medium,spend,currency):"
        " missing column spend; unknown column amount"
    )
