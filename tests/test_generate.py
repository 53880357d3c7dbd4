"""The data generator: determinism, shape, anomalies, the attribution mix, day files, malformed lines, gzip.

The checks read the files back with a small, independent reader of the input data contract (below), not
with the generator's own code.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from growth_analytics.cli import main as growth_main
from growth_analytics.generate import BAD_ROW_KINDS, MEDIUMS, generate, generate_day

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})?$"
)
BOOLEANS = {
    "true": True,
    "t": True,
    "1": True,
    "yes": True,
    "false": False,
    "f": False,
    "0": False,
    "no": False,
}
HEADERS = {"sessions": "user_id,time_started,is_paid,medium", "conversions": "user_id,registration_time"}
HOUR = 3600 * 10**6  # timestamps are compared in microseconds


# ---------------------------------------------------------------------------------------------------------
# An independent reader of the input data contract
# ---------------------------------------------------------------------------------------------------------


class Malformed(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def parse_timestamp(text: str) -> int:
    """Microseconds since the epoch (UTC) of a contract timestamp."""
    m = TIMESTAMP.match(text)
    if not m:
        raise Malformed("bad_timestamp")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise Malformed("bad_timestamp") from exc
    micros = int((m.group(7) or "").ljust(6, "0"))
    zone = m.group(8)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        moment -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return int(moment.timestamp()) * 10**6 + micros


def parse_line(feed: str, line: str) -> tuple:
    """A data line as typed values, or Malformed(kind) naming its defect."""
    if line.count('"') % 2:
        raise Malformed("unterminated_quote")
    fields = next(csv.reader([line], strict=True))
    expected = len(HEADERS[feed].split(","))
    if len(fields) < expected:
        raise Malformed("too_few_fields")
    if len(fields) > expected:
        raise Malformed("too_many_fields")
    if not re.fullmatch(r"-?\d+", fields[0]):
        raise Malformed("bad_id")
    user_id = int(fields[0])
    if not BIGINT_MIN <= user_id <= BIGINT_MAX:
        raise Malformed("id_out_of_range")
    t = parse_timestamp(fields[1])
    if feed == "conversions":
        return user_id, t
    if fields[2].lower() not in BOOLEANS:
        raise Malformed("bad_boolean")
    if not fields[3].strip():
        raise Malformed("empty_medium")
    return user_id, t, BOOLEANS[fields[2].lower()], fields[3]


def read_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="ascii", newline="") as f:
        text = f.read()
    assert text.endswith("\n")
    return text[:-1].split("\n")


def data_lines(folder: Path, feed: str) -> list[str]:
    """Data lines of every file of a feed in a folder (headers checked and dropped)."""
    lines: list[str] = []
    for path in sorted(folder.glob(f"{feed}*.csv*")):
        header, *rows = read_lines(path)
        assert header == HEADERS[feed], path
        lines += rows
    return lines


@dataclass
class Feeds:
    sessions: list[tuple[int, int, bool, str]]  # user_id, time (us), is_paid, raw medium
    conversions: list[tuple[int, int]]


def read_feeds(folder: Path) -> Feeds:
    return Feeds(
        [parse_line("sessions", line) for line in data_lines(folder, "sessions")],
        [parse_line("conversions", line) for line in data_lines(folder, "conversions")],
    )


# The rule-based model of the attribution contract: (label, medium, window or None = any time).
RULES = (
    ("PAID_SEARCH", "PAID SEARCH", 3 * HOUR),
    ("PAID_IMPRESSION", "IMPRESSION", 1 * HOUR),
    ("ORGANIC_SEARCH", "ORGANIC SEARCH", 12 * HOUR),
    ("DIRECT", "DIRECT", None),
)


def rule_based(feeds: Feeds) -> dict[tuple[int, int], str]:
    """Outcome of every registration (distinct user, time) under the contract's rules."""
    touches: dict[int, set[tuple[int, str, bool]]] = defaultdict(set)
    for user_id, t, paid, medium in feeds.sessions:
        touches[user_id].add((t, medium.strip().upper(), paid))
    outcome = {}
    for user_id, reg in set(feeds.conversions):
        before = [(t, medium) for t, medium, _ in touches.get(user_id, ()) if t <= reg]
        label = "OTHERS" if before else "UNATTRIBUTED"
        for name, medium, window in RULES:
            if any(m == medium and (window is None or reg - t <= window) for t, m in before):
                label = name
                break
        outcome[(user_id, reg)] = label
    return outcome


def edge_cases(feeds: Feeds) -> Counter:
    """How often the attribution edge cases occur (over deduplicated touches, distinct registrations)."""
    touches: dict[int, set[tuple[int, str, bool]]] = defaultdict(set)
    for user_id, t, paid, medium in feeds.sessions:
        touches[user_id].add((t, medium.strip().upper(), paid))
    windows = {medium: window for _, medium, window in RULES if window}
    found: Counter = Counter()
    for user_id, reg in set(feeds.conversions):
        mine = touches.get(user_id, set())
        if not mine:
            found["registration_without_sessions"] += 1
        elif all(t > reg for t, _, _ in mine):
            found["sessions_only_after_registering"] += 1
        for t, medium, _ in mine:
            age = reg - t
            found["touch_at_registration_instant"] += age == 0
            found["touch_one_second_after"] += age == -(10**6)
            found["touch_at_window_edge"] += medium in windows and age == windows[medium]
            found["touch_one_second_outside_window"] += medium in windows and age == windows[medium] + 10**6
            found["touch_at_30_day_edge"] += age == 30 * 24 * HOUR
            found["touch_one_second_past_30_days"] += age == 30 * 24 * HOUR + 10**6
        instants = Counter(t for t, _, _ in mine if t <= reg)
        found["touches_sharing_an_instant"] += any(n > 1 for n in instants.values())
    return found


# ---------------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------------


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Feeds]:
    """50k sessions of the default seed, read back through the contract reader."""
    folder = tmp_path_factory.mktemp("sample")
    summary = generate(folder, sessions=50_000, seed=42)
    assert summary.rows["sessions"] == 50_000
    feeds = read_feeds(folder)
    assert len(feeds.sessions) == 50_000
    assert len(feeds.conversions) == summary.rows["conversions"]
    return folder, feeds


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        generate(tmp_path / name, sessions=3_000, seed=seed, bad_rows=0.01)
    first, again, other = (file_bytes(tmp_path / name) for name in "abc")
    assert set(first) == {"sessions.csv", "conversions.csv", "spend.csv"}
    assert first == again
    for name in first:
        assert first[name] != other[name]


def test_ids_dates_and_registration_ratio(sample: tuple[Path, Feeds]) -> None:
    _, feeds = sample
    user_ids = {u for u, *_ in feeds.sessions} | {u for u, _ in feeds.conversions}
    assert all(len(str(u)) == 19 and 3.0e18 <= u < 3.1e18 for u in user_ids)
    registrations = set(feeds.conversions)
    assert 0.085 <= len(registrations) / len(user_ids) <= 0.115
    first, last = datetime(2020, 5, 1, tzinfo=UTC), datetime(2020, 7, 1, tzinfo=UTC)
    to_us = lambda moment: int(moment.timestamp()) * 10**6  # noqa: E731
    assert all(to_us(first) <= t < to_us(last) for _, t, *_ in feeds.sessions)
    assert all(to_us(first) <= t < to_us(last) for _, t in registrations)
    june = sum(t >= to_us(datetime(2020, 6, 1, tzinfo=UTC)) for _, t in registrations)
    assert 0.75 <= june / len(registrations) <= 0.95
    # sessions cover the whole two months
    days = {datetime.fromtimestamp(t // 10**6, UTC).date() for _, t, *_ in feeds.sessions}
    assert len(days) == 61


def test_medium_mix_spelling_noise_and_paid_flag(sample: tuple[Path, Feeds]) -> None:
    _, feeds = sample
    normalised = Counter(medium.strip().upper() for *_, medium in feeds.sessions)
    assert set(normalised) == set(MEDIUMS)  # every raw spelling normalises to a known medium
    main = ("PAID SEARCH", "IMPRESSION", "ORGANIC SEARCH", "DIRECT")
    assert all(normalised[m] / len(feeds.sessions) >= 0.04 for m in main)
    tail = sum(n for m, n in normalised.items() if m not in main)
    assert tail / len(feeds.sessions) > 0.5  # the long tail together dominates
    noisy = [m for *_, m in feeds.sessions if m != m.strip().upper()]
    assert 0.005 <= len(noisy) / len(feeds.sessions) <= 0.06
    assert any(m != m.strip() for m in noisy) and any(m == m.strip() for m in noisy)
    paid_mediums = {
        "PAID SEARCH",
        "IMPRESSION",
        "PAID SOCIAL",
        "DISPLAY",
        "AFFILIATE",
        "PARTNER",
        "TV",
        "VIDEO",
    }
    consistent = sum(
        paid == (medium.strip().upper() in paid_mediums) for _, _, paid, medium in feeds.sessions
    )
    assert 0.95 <= consistent / len(feeds.sessions) < 1.0


def test_anomalies_and_attribution_edge_cases_occur(sample: tuple[Path, Feeds]) -> None:
    _, feeds = sample
    registrations = set(feeds.conversions)
    found = edge_cases(feeds)
    assert 0.12 <= found["registration_without_sessions"] / len(registrations) <= 0.18
    assert 0.01 <= found["sessions_only_after_registering"] / len(registrations) <= 0.06
    for case in (
        "touch_at_registration_instant",
        "touch_one_second_after",
        "touch_at_window_edge",
        "touch_one_second_outside_window",
        "touch_at_30_day_edge",
        "touch_one_second_past_30_days",
        "touches_sharing_an_instant",
    ):
        assert found[case] >= 3, case
    duplicate_sessions = len(feeds.sessions) - len(set(feeds.sessions))
    assert 0.005 <= duplicate_sessions / len(feeds.sessions) <= 0.03
    assert len(feeds.conversions) > len(registrations)  # exact duplicate registration rows
    per_user = Counter(u for u, _ in registrations)
    assert 0.005 <= sum(n > 1 for n in per_user.values()) / len(per_user) <= 0.03
    registered = set(per_user)
    never = {u for u, *_ in feeds.sessions} - registered
    assert len(never) > 5 * len(registered)


def test_timestamps_mostly_plain_with_a_few_other_contract_forms(sample: tuple[Path, Feeds]) -> None:
    folder, _ = sample
    stamps = [line.split(",")[1] for line in data_lines(folder, "sessions")]
    stamps += [line.split(",")[1] for line in data_lines(folder, "conversions")]
    plain = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
    others = [s for s in stamps if not plain.match(s)]
    assert 0.003 <= len(others) / len(stamps) <= 0.03
    assert any("T" in s for s in others)
    assert any("." in s and s.split(".")[1].rstrip("Z").strip("0") != "" for s in others)
    assert any(s.endswith("Z") for s in others)
    assert any(s.endswith("+02:00") for s in others) and any(s.endswith("-05:00") for s in others)


def test_rule_based_outcome_shares_match_the_original(tmp_path: Path) -> None:
    generate(tmp_path, sessions=200_000, seed=42)
    outcomes = Counter(rule_based(read_feeds(tmp_path)).values())
    attributed = sum(n for label, n in outcomes.items() if label != "UNATTRIBUTED")
    shares = {label: n / attributed for label, n in outcomes.items()}
    expected = {
        "OTHERS": 0.67,
        "PAID_SEARCH": 0.12,
        "ORGANIC_SEARCH": 0.12,
        "PAID_IMPRESSION": 0.05,
        "DIRECT": 0.04,
    }
    for label, share in expected.items():
        assert shares[label] == pytest.approx(share, abs=0.02), (label, shares)
    assert 0.15 <= outcomes["UNATTRIBUTED"] / sum(outcomes.values()) <= 0.25


def test_daily_files_hold_exactly_the_lines_of_the_single_files(tmp_path: Path) -> None:
    single = generate(tmp_path / "single", sessions=20_000, seed=3, bad_rows=0.002)
    daily = generate(tmp_path / "daily", sessions=20_000, seed=3, bad_rows=0.002, daily=True)
    assert daily.rows == single.rows and daily.bad_rows_by_feed == single.bad_rows_by_feed
    names = sorted(p.name for p in (tmp_path / "daily").iterdir())
    assert names == sorted(p.name for p in daily.files)
    assert all(re.fullmatch(r"(sessions|conversions|spend)_2020-0[56]-\d{2}\.csv", name) for name in names)
    assert sum(name.startswith("sessions_") for name in names) == 61
    for feed in ("sessions", "conversions"):
        assert Counter(data_lines(tmp_path / "daily", feed)) == Counter(data_lines(tmp_path / "single", feed))
        for path in (tmp_path / "daily").glob(f"{feed}_*.csv"):
            day = date.fromisoformat(path.stem.split("_")[1])
            for line in read_lines(path)[1:]:
                try:
                    t = parse_line(feed, line)[1]
                except Malformed:
                    continue
                assert datetime.fromtimestamp(t // 10**6, UTC).date() == day, (path.name, line)


@pytest.mark.parametrize("rate", [0.0005, 0.01])
def test_bad_rows_are_extra_lines_of_every_kind_each_truly_malformed(tmp_path: Path, rate: float) -> None:
    clean = generate(tmp_path / "clean", sessions=10_000, seed=5)
    dirty = generate(tmp_path / "dirty", sessions=10_000, seed=5, bad_rows=rate)
    assert dirty.rows == clean.rows
    for feed, kinds in BAD_ROW_KINDS.items():
        injected = dirty.bad_rows_by_feed[feed]
        assert set(injected) == set(kinds) and all(injected[kind] >= 1 for kind in kinds)
        expected_total = max(len(kinds), round(rate * dirty.rows[feed]))
        assert abs(sum(injected.values()) - expected_total) <= 1
        lines = data_lines(tmp_path / "dirty", feed)
        assert len(lines) == dirty.data_lines(feed)
        extra = Counter(lines) - Counter(data_lines(tmp_path / "clean", feed))
        assert sum(extra.values()) == sum(injected.values())  # good rows untouched, bad ones added
        found: Counter = Counter()
        for line in extra.elements():
            with pytest.raises(Malformed) as defect:
                parse_line(feed, line)
            found[defect.value.kind] += 1
        assert found == Counter({kind: n for kind, n in injected.items() if n})
    assert dirty.bad_rows == {
        kind: sum(per_feed.get(kind, 0) for per_feed in dirty.bad_rows_by_feed.values())
        for kind in BAD_ROW_KINDS["sessions"]
    }


def test_gzip_files_are_deterministic_and_hold_the_same_lines(tmp_path: Path) -> None:
    plain = generate(tmp_path / "plain", sessions=5_000, seed=9, daily=True)
    zipped = generate(tmp_path / "zipped", sessions=5_000, seed=9, daily=True, gzip=True)
    again = generate(tmp_path / "again", sessions=5_000, seed=9, daily=True, gzip=True)
    assert all(p.name.endswith(".csv.gz") for p in zipped.files)
    assert len(zipped.files) == len(plain.files)
    assert file_bytes(tmp_path / "zipped") == file_bytes(tmp_path / "again")
    assert again.rows == plain.rows
    for feed in ("sessions", "conversions"):
        assert data_lines(tmp_path / "zipped", feed) == data_lines(tmp_path / "plain", feed)


def test_generate_day_adds_new_and_returning_users_on_that_day(tmp_path: Path) -> None:
    base = generate(tmp_path, sessions=20_000, seed=42, daily=True)
    before = read_feeds(tmp_path)
    known = {u for u, *_ in before.sessions} | {u for u, _ in before.conversions}
    day = date(2020, 7, 1)
    summary = generate_day(tmp_path, day, sessions=400, seed=42, base_sessions=20_000)
    assert sorted(p.name for p in summary.files) == [
        "conversions_2020-07-01.csv",
        "sessions_2020-07-01.csv",
        "spend_2020-07-01.csv",
    ]
    assert summary.rows["sessions"] == 400 and summary.rows["conversions"] > 0
    new = Feeds(
        [parse_line("sessions", line) for line in read_lines(tmp_path / "sessions_2020-07-01.csv")[1:]],
        [parse_line("conversions", line) for line in read_lines(tmp_path / "conversions_2020-07-01.csv")[1:]],
    )
    assert len(new.sessions) == 400
    on_day = lambda t: datetime.fromtimestamp(t // 10**6, UTC).date() == day  # noqa: E731
    assert all(on_day(t) for _, t, *_ in new.sessions) and all(on_day(t) for _, t in new.conversions)
    session_users = {u for u, *_ in new.sessions}
    assert 0.2 <= sum(u in known for u, *_ in new.sessions) / 400 <= 0.4  # returning users' visits
    assert len(session_users - known) >= 50  # new users
    assert {u for u, _ in new.conversions} & known  # some earlier users register on the new day
    assert {u for u, _ in new.conversions} - known
    assert len(known | session_users) > base.users
    with pytest.raises(FileExistsError, match="2020-07-01"):
        generate_day(tmp_path, day, sessions=400, seed=42)
    other = tmp_path / "again"
    generate_day(other, day, sessions=400, seed=42, base_sessions=20_000)
    assert (other / "sessions_2020-07-01.csv").read_bytes() == (
        tmp_path / "sessions_2020-07-01.csv"
    ).read_bytes()


def test_cli_writes_files_and_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["generate", "--out", str(tmp_path), "--sessions", "2000", "--seed", "1", "--bad-rows", "0.01"]
    assert growth_main(args) == 0
    out = capsys.readouterr().out
    assert "2,000 sessions" in out and "malformed lines" in out and "unterminated_quote" in out
    assert len(data_lines(tmp_path, "sessions")) > 2_000
    assert growth_main(["generate", "--out", str(tmp_path), "--sessions", "50", "--day", "2020-07-02"]) == 0
    assert (tmp_path / "sessions_2020-07-02.csv").exists()
    assert len(read_lines(tmp_path / "sessions_2020-07-02.csv")) == 51


def test_register_share_sets_registrations_per_session(tmp_path: Path) -> None:
    """The benchmark's data: --register-share 0.245 gives about one registration per ten sessions (the
    default: one per 25), in the base files and among a day's rows alike."""
    ratios: dict[str, list[float]] = {}
    for share in ("0.0985", "0.245"):
        out = tmp_path / share
        common = ["generate", "--out", str(out), "--register-share", share]
        assert growth_main([*common, "--sessions", "40000"]) == 0
        assert growth_main([*common, "--sessions", "10000", "--day", "2020-07-02"]) == 0
        ratios[share] = [
            (len(read_lines(out / f"conversions{suffix}.csv")) - 1)
            / (len(read_lines(out / f"sessions{suffix}.csv")) - 1)
            for suffix in ("", "_2020-07-02")
        ]
    assert 0.035 <= ratios["0.0985"][0] <= 0.045
    assert 0.09 <= ratios["0.245"][0] <= 0.11
    assert ratios["0.245"][1] > 1.5 * ratios["0.0985"][1]  # the day's returning users register as before
    with pytest.raises(ValueError, match="register_share"):
        generate(tmp_path / "bad", sessions=10, register_share=0)
