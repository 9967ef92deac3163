"""`agegate report`: the page's tables hold the store's numbers, the page
holds nothing personal, and it fails closed on what it cannot read.

Every test runs the real command in a child process on real stores: SQLite
files, JSON Lines files of flags and one PostgreSQL database of the suite's
cluster. The numbers a table should show are counted here from the flags
the test wrote, not from the report's own code.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

from agegate.flags import STATUSES, Flag, JsonlFlagSink, SqliteFlagStore
from agegate.removal.receipts import ReceiptLog
from tests.cli_support import ROOT, agegate

BASE = datetime(2025, 11, 3, 9, 30, tzinfo=UTC)
# What a person's data looks like in a store: ids that are e-mail addresses,
# phone numbers and names (the intake files flags by each), and notes and
# reviewers a person typed.
PERSONS = (
    ("amelie.durand@example.org", "FR", ("MINOR_AT_COLLECTION",), "remove"),
    ("+33612345678", "FR", ("REPORTED",), "remove"),
    ("jonas-becker-2011", "DE", ("MINOR_NOW",), "remove"),
    ("u-77812-olivia", "US-CA", ("MINOR_AT_COLLECTION", "SIGNALS_CONFLICT"), "remove"),
    ("liam.o.connor@example.net", "GB", ("BIRTHDATE_MISSING",), "verify"),
    ("acct-000913", None, ("JURISDICTION_UNKNOWN",), "verify"),
    ("sofia_rossi_2012-04-09", "IT", ("PROFILE_UNDERAGE",), "remove"),
)
BIRTHDATES = ("2011-04-09", "2012-04-09", "09/04/2011")
NOTE = "born 2011-04-09, mother wrote from amelie.mum@example.org"
REVIEWER = "Hélène Privacy-Officer"


def _flags() -> list[tuple[Flag, str, float]]:
    """Flags in every status: (flag, status, days from raised to updated)."""
    made = []
    for i in range(44):
        account, place, codes, action = PERSONS[i % len(PERSONS)]
        flag = Flag(
            account_id=f"{account}#{i}",
            codes=codes,
            action=action,  # type: ignore[arg-type]
            jurisdiction=place,
            raised_at=BASE + timedelta(days=9 * i),
        )
        made.append((flag, STATUSES[i % len(STATUSES)], 0.5 + 2.25 * (i % 13)))
    return made


FLAGS = _flags()
IDS = tuple(flag.account_id for flag, _, _ in FLAGS)


def _sqlite_store(path: Path, flags: list[tuple[Flag, str, float]] = FLAGS) -> Path:
    with SqliteFlagStore(path) as store:
        store.add_many(flag for flag, _, _ in flags)
    with sqlite3.connect(path) as db:
        for flag, status, days in flags:
            db.execute(
                "UPDATE flags SET status = ?, updated_at = ?, resolved_by = ?,"
                " resolution_note = ? WHERE account_id = ?",
                (
                    status,
                    (flag.raised_at + timedelta(days=days)).isoformat(),
                    REVIEWER,
                    NOTE,
                    flag.account_id,
                ),
            )
    return path


class Tables(HTMLParser):
    """Every table of the page by id: its caption, header and rows of text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, object]] = {}
        self.scopes: list[str | None] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self._table = found.get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = {"caption": "", "rows": []}
        elif tag == "caption":
            self._caption = []
        elif tag == "tr":
            self._row = []
        elif tag in ("th", "td"):
            self._cell = []
            if tag == "th":
                self.scopes.append(found.get("scope"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self._table and self._caption is not None:
            self.tables[self._table]["caption"] = "".join(self._caption)
            self._caption = None
        elif tag in ("th", "td") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._table and self._row is not None:
            rows = self.tables[self._table]["rows"]
            assert isinstance(rows, list)
            rows.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)


def _tables(page: str) -> Tables:
    parser = Tables()
    parser.feed(page)
    return parser


def _counts(parser: Tables, table: str) -> dict[str, int]:
    rows = parser.tables[table]["rows"]
    assert isinstance(rows, list)
    return {row[0]: int(row[1]) for row in rows[1:]}


def _report(tmp_path: Path, *args: str | Path) -> tuple[str, str]:
    out = tmp_path / "report.html"
    done = agegate("report", *args, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return out.read_text(encoding="utf-8"), done.stdout + done.stderr


def _expected(flags: list[tuple[Flag, str, float]]) -> dict[str, Counter[str]]:
    by_code, by_place, by_status, months = Counter(), Counter(), Counter(), Counter()
    for flag, status, _ in flags:
        by_code.update(flag.codes)
        by_place[flag.jurisdiction or "unknown"] += 1
        by_status[status] += 1
        months[(flag.raised_at.strftime("%Y-%m"), flag.action)] += 1
    return {"code": by_code, "place": by_place, "status": by_status, "month": months}


def _check_tables(page: str, flags: list[tuple[Flag, str, float]]) -> Tables:
    parser = _tables(page)
    want = _expected(flags)
    assert _counts(parser, "by-code") == dict(want["code"])
    assert _counts(parser, "by-jurisdiction") == dict(want["place"])
    statuses = _counts(parser, "by-status")
    assert list(statuses) == list(STATUSES)
    assert statuses == {s: want["status"][s] for s in STATUSES}
    rows = parser.tables["by-month"]["rows"]
    assert isinstance(rows, list)
    assert rows[0] == ["month", "removal", "check"]
    for month, removal, check in rows[1:]:
        assert int(removal) == want["month"][(month, "remove")]
        assert int(check) == want["month"][(month, "verify")]
    assert sum(int(r) + int(c) for _, r, c in rows[1:]) == len(flags)
    return parser


def test_the_tables_hold_the_sqlite_stores_numbers(tmp_path: Path) -> None:
    store = _sqlite_store(tmp_path / "flags.sqlite")
    page, _ = _report(tmp_path, "--store", store)
    parser = _check_tables(page, FLAGS)
    verified = sorted(days for _, status, days in FLAGS if status == "verified")
    buckets = _counts(parser, "delays")
    assert sum(buckets.values()) == len(verified)
    assert buckets["under 1 day"] == sum(1 for d in verified if d < 1)
    assert buckets["1-7 days"] == sum(1 for d in verified if 1 <= d < 7)
    assert buckets["7-30 days"] == sum(1 for d in verified if 7 <= d < 30)
    stats = parser.tables["delay-stats"]["rows"]
    assert isinstance(stats, list)
    assert stats[3] == ["longest", f"{verified[-1]:.1f}"]
    nearest_rank = verified[math.ceil(0.9 * len(verified)) - 1]
    assert stats[2] == ["90th percentile", f"{nearest_rank:.1f}"]
    assert stats[1] == ["median", f"{statistics.median(verified):.1f}"]
    # Every header cell says what it heads, and every table says what it is.
    assert parser.scopes
    assert set(parser.scopes) <= {"col", "row"}
    assert all(table["caption"] for table in parser.tables.values())
    assert 'id="store">flags.sqlite<' in page
    # Self-contained: a policy that lets nothing be fetched, nothing to run.
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src &#x27;none'
        in page
    )
    for fetching in ("<script", "<link", "<img", "<iframe", "@import", "url(http"):
        assert fetching not in page


def test_the_page_holds_no_personal_data(tmp_path: Path) -> None:
    store = _sqlite_store(tmp_path / "flags.sqlite")
    summary = tmp_path / "review-summary.json"
    summary.write_text(json.dumps(_summary()), encoding="utf-8")
    page, printed = _report(tmp_path, "--store", store, "--summary", summary)
    for text in (page, printed):
        for account in IDS:
            assert account not in text
            assert account.split("#")[0] not in text
        for value in (*BIRTHDATES, NOTE, REVIEWER, "amelie.mum@example.org"):
            assert value not in text
        assert "@example." not in text


def test_a_hostile_code_or_jurisdiction_is_counted_not_shown(tmp_path: Path) -> None:
    odd = [
        (
            Flag("a1", ("<script>x</script>",), "remove", "amelie@example.org"),
            "open",
            1.0,
        ),
        (Flag("a2", ("$\\frac{1}{0}$",), "remove", "<b>FR</b>"), "open", 1.0),
    ]
    store = _sqlite_store(tmp_path / "odd.sqlite", odd)
    page, _ = _report(tmp_path, "--store", store)
    parser = _tables(page)
    assert _counts(parser, "by-code") == {"(other)": 2}
    assert _counts(parser, "by-jurisdiction") == {"(other)": 2}
    for value in ("<script>", "amelie@example.org", "<b>FR", "frac"):
        assert value not in page


def test_a_jsonl_file_of_flags_is_a_store_the_report_reads(tmp_path: Path) -> None:
    # As a review's sink writes it (no status: open) and as `flags export`
    # writes it (with the status and the times).
    sink_file = tmp_path / "sink.jsonl"
    JsonlFlagSink(sink_file).add_many(flag for flag, _, _ in FLAGS)
    page, _ = _report(tmp_path, "--store", sink_file)
    opened = [(flag, "open", 0.0) for flag, _, _ in FLAGS]
    _check_tables(page, opened)

    store = _sqlite_store(tmp_path / "flags.sqlite")
    exported = tmp_path / "export.jsonl"
    done = agegate(
        "flags", "export", "--store", store, "--status", "all", "--out", exported
    )
    assert done.returncode == 0, done.stderr
    page, _ = _report(tmp_path, "--store", exported)
    _check_tables(page, FLAGS)
    assert 'id="store">export.jsonl<' in page


def test_a_postgresql_store_and_its_masked_name(
    tmp_path: Path, pg_database: str
) -> None:
    import adbc_driver_postgresql.dbapi as adbc

    from agegate.flags import PostgresFlagStore

    with PostgresFlagStore(pg_database) as store:
        store.add_many(flag for flag, _, _ in FLAGS)
    with adbc.connect(pg_database, autocommit=True) as db, db.cursor() as cursor:
        for flag, status, days in FLAGS:
            cursor.execute(
                "UPDATE flags SET status = $1, updated_at = raised_at + $2 * interval"
                " '1 day' WHERE account_id = $3",
                (status, days, flag.account_id),
            )
    page, printed = _report(tmp_path, "--store", pg_database)
    _check_tables(page, FLAGS)
    password = pg_database.split(":")[2].split("@")[0]
    assert password not in page + printed
    assert ":***@" in page


def test_an_empty_store_makes_a_page_that_says_so(tmp_path: Path) -> None:
    store = tmp_path / "empty.sqlite"
    SqliteFlagStore(store).close()
    page, _ = _report(tmp_path, "--store", store)
    assert "Nothing to report" in page
    assert "<svg" not in page
    assert 'id="by-status"' not in page
    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    page, _ = _report(tmp_path, "--store", empty)
    assert "Nothing to report" in page


def _summary(**changes: object) -> dict[str, object]:
    summary: dict[str, object] = {
        "rows_read": 1200,
        "rows_screened": 1190,
        "rows_unreadable": 10,
        "accounts_flagged": 44,
        "flags_cleared": 0,
        "by_code": {"MINOR_AT_COLLECTION": 30, "MINOR_NOW": 14},
        "by_action": {"remove": 44},
        "by_jurisdiction": {"FR": 44},
        "unreadable": [{"line": 7, "reason": "birthdate 2011-04-09 is not a date"}],
        "unreadable_listed_all": False,
        "completed": True,
        "input": "postgresql://reviewer:s3cret-pw@db.internal/app",
        "started_at": "2026-01-15T08:00:00+00:00",
    }
    summary.update(changes)
    return summary


def test_review_summaries_are_tabled_without_their_secrets(tmp_path: Path) -> None:
    store = _sqlite_store(tmp_path / "flags.sqlite")
    first, second = tmp_path / "jan.json", tmp_path / "feb.json"
    first.write_text(json.dumps(_summary()), encoding="utf-8")
    second.write_text(
        json.dumps(
            _summary(
                completed=False,
                accounts_flagged=3,
                input="/home/jdupont/exports/a.csv",
            )
        ),
        encoding="utf-8",
    )
    page, _ = _report(
        tmp_path, "--store", store, "--summary", first, "--summary", second
    )
    rows = _tables(page).tables["reviews"]["rows"]
    assert isinstance(rows, list)
    assert rows[1] == [
        "jan.json",
        "2026-01-15 08:00 UTC",
        "postgresql://reviewer:***@db.internal/app",
        "1200",
        "1190",
        "10",
        "44",
        "yes",
    ]
    assert rows[2][2] == "a.csv"
    assert rows[2][-2:] == ["3", "NO"]
    assert "jdupont" not in page
    assert "s3cret-pw" not in page


def _receipts(path: Path) -> ReceiptLog:
    log = ReceiptLog(path)
    log.append("plan", {"digest": "ab" * 32, "counts": {"users": 12}})
    log.append("approve", {"by": REVIEWER})
    log.append("run", {"digest": "ab" * 32, "after": {"users": 0}})
    return log


def _chain(page: str) -> str:
    start = page.index('id="chain-status">')
    return page[start : page.index("</p>", start)]


def test_receipts_beside_the_store_are_checked(tmp_path: Path) -> None:
    store = _sqlite_store(tmp_path / "flags.sqlite")
    page, _ = _report(tmp_path, "--store", store)
    assert "No receipts were given" in _chain(page)
    log = _receipts(Path(f"{store}.receipts.jsonl"))
    page, _ = _report(tmp_path, "--store", store)
    assert "chain of 3 receipt(s) is intact" in _chain(page)
    assert _counts(_tables(page), "receipts") == {"approve": 1, "plan": 1, "run": 1}
    head = log.verify().head
    assert head
    assert f'id="chain-head">{head}<' in page
    assert REVIEWER not in page


def test_a_broken_chain_is_named_with_its_entry(tmp_path: Path) -> None:
    store = _sqlite_store(tmp_path / "flags.sqlite")
    receipts = tmp_path / "elsewhere" / "receipts.jsonl"
    _receipts(receipts)
    lines = receipts.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"approve"', b'"plan"')
    receipts.write_bytes(b"".join(lines))
    page, _ = _report(tmp_path, "--store", store, "--receipts", receipts)
    assert "The chain is broken at entry 2" in _chain(page)
    assert "broken at 2" in page
    assert 'id="chain-head"' not in page


def _refused(tmp_path: Path, named: str, *args: str | Path) -> str:
    out = tmp_path / "refused.html"
    done = agegate("report", *args, "--out", out)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr
    assert named in done.stderr
    assert not out.exists()
    return done.stderr


def test_what_cannot_be_read_is_exit_2_naming_the_file(tmp_path: Path) -> None:
    store = _sqlite_store(tmp_path / "flags.sqlite")
    missing = tmp_path / "missing.sqlite"
    _refused(tmp_path, str(missing), "--store", missing)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all, " * 100)
    _refused(tmp_path, str(garbage), "--store", garbage)
    bad_lines = tmp_path / "bad.jsonl"
    bad_lines.write_text('{"account_id": "x"}\n{not json\n', encoding="utf-8")
    _refused(tmp_path, str(bad_lines), "--store", bad_lines)
    _refused(tmp_path, "line 1", "--store", bad_lines)
    for name, text in (
        ("absent.json", None),
        ("text.json", "not json"),
        ("list.json", "[1, 2]"),
        ("counts.json", json.dumps(_summary(rows_read="many"))),
        ("codes.json", json.dumps(_summary(by_code=[1]))),
    ):
        summary = tmp_path / name
        if text is not None:
            summary.write_text(text, encoding="utf-8")
        _refused(tmp_path, str(summary), "--store", store, "--summary", summary)
    receipts = tmp_path / "no-receipts.jsonl"
    _refused(tmp_path, str(receipts), "--store", store, "--receipts", receipts)


def test_the_page_is_not_half_written_where_it_cannot_go(tmp_path: Path) -> None:
    store = _sqlite_store(tmp_path / "flags.sqlite")
    out = tmp_path / "no-such-dir" / "report.html"
    done = agegate("report", "--store", store, "--out", out)
    assert done.returncode == 2
    assert str(out) in done.stderr
    assert "Traceback" not in done.stderr


def test_without_matplotlib_it_says_what_to_install(tmp_path: Path) -> None:
    store = _sqlite_store(tmp_path / "flags.sqlite")
    shadow = tmp_path / "shadow" / "matplotlib"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
    out = tmp_path / "report.html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "agegate.cli",
            "report",
            "--store",
            str(store),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": f"{shadow.parent}{os.pathsep}{ROOT}"},
    )
    assert done.returncode == 2
    assert "pip install 'agegate[report]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_the_page_is_the_same_for_the_same_store(tmp_path: Path) -> None:
    store = _sqlite_store(tmp_path / "flags.sqlite")
    first, _ = _report(tmp_path, "--store", store)
    second, _ = _report(tmp_path, "--store", store)

    def without_date(page: str) -> str:
        start = page.index('<time id="made">')
        return page[:start] + page[page.index("</time>", start) :]

    assert without_date(first) == without_date(second)
    assert first.count("<svg") == 5
    ids = [part.split('"')[0] for part in first.split(' id="')[1:]]
    assert len(ids) == len(set(ids)), "two charts share an id"


def test_times_without_an_offset_are_read_as_utc(tmp_path: Path) -> None:
    record = {
        "account_id": "x1",
        "codes": ["MINOR_NOW"],
        "action": "remove",
        "jurisdiction": "FR",
        "required_age": 18,
        "source": "review",
        "raised_at": "2026-01-31T23:30:00",
        "status": "verified",
        "updated_at": "2026-02-03T23:30:00+00:00",
    }
    flags = tmp_path / "hand-written.jsonl"
    flags.write_text(json.dumps(record) + "\n", encoding="utf-8")
    page, _ = _report(tmp_path, "--store", flags)
    parser = _tables(page)
    assert _counts(parser, "by-month") == {"2026-01": 1}
    assert _counts(parser, "delays")["1-7 days"] == 1


def test_matplotlib_is_loaded_by_the_first_chart_alone() -> None:
    code = (
        "import sys, agegate, agegate.cli.report, agegate.removal.report\n"
        "from agegate.cli.main import build_parser\n"
        "build_parser()\n"
        "assert 'matplotlib' not in sys.modules, 'loaded on import'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
