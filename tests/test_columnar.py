"""The columnar review against the row-at-a-time Reviewer: identical flags,
fingerprints, lines, clean ids and counts, on messy inputs and the examples."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agegate.age import age_on
from agegate.policy import FIELDS, FieldMap, Policy
from agegate.review import batches, flag_columns
from agegate.review.batches import (
    WHOLE,
    Source,
    read_batches,
    read_share,
    shares,
)
from agegate.review.columnar import (
    ColumnarReviewer,
    as_batch,
    review_batches,
    screen_record_batch,
)
from agegate.review.columns import ages_on
from agegate.review.readers import Row, read
from agegate.review.reviewer import Batch, Reviewer, ReviewSettings
from agegate.review.run import screen_batch, screen_batches, screen_source
from agegate.rules import load_rules

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 28)
SECRET = b"differential test key, 32 bytes"
HEADER = ("user_id", "dob", "declared_age", "country", "region", "phone", "created_at")
MAP = {
    "account_id": "user_id",
    "birthdate": "dob",
    "age": "declared_age",
    "subdivision": "region",
    "collected_at": "created_at",
}

IDS = ["u1", "u2", "acct-7", "", "  ", "u1"]
BIRTHDATES = [
    "2012-05-01", "2008-02-29", "2010-11-28", "2010-11-29", "1990-01-01",
    "2009-02-29", "2010-13-01", "2010", "", " 2001-07-04 ", "01/02/2003",
    "2026-11-29", "1890-01-01", "1896-11-28", "2026-11-28", "٢٠١٠-٠١-٠١",
    "0000-01-01", "0001-01-01", "2010-04-31", "1900-02-29", "2000-02-29",
]  # fmt: skip
AGES = ["", "", "", "17", "x", " "]
COUNTRIES = ["US", "GB", "JP", "CA", "SU", "YU", "CS", "XX", "", "Germany", "us", "GP"]
REGIONS = ["", "", "AL", "US-MS", "MS", "ZZ", "Ontario", "BC", "CA-QC"]
PHONES = [
    "", "+1 205 555 0100", "+1 601 555 0100", "+1 416 555 0113", "+44 20 7946 0000",
    "020 7946 0000", "(205) 555-0100", "555", "abc", "+590 690 00 12 34",
    "0690 00 12 34", "+81 90 1234 5678", "0044 20 7946 0000", "+1 800 555 0100",
    "+383 44 123 456", "+1 876 555 0100", "+1 1205 555 0100", "+44 020 7946 0000",
    "+7 912 345 67 89", "+39 06 1234 5678", "+800 1234 5678", "+1-(205)-555/0100",
    "+49 30 1234567", "+33 6 12 34 56 78", "+1 205 555 01001", " +1 601 555 0100",
]  # fmt: skip
COLLECTED = [
    "", "2024-01-01", "2024-01-01T00:00:00+14:00", "2024-01-01T23:30:00-14:00",
    "2020-02-29T12:00:00Z", "2026-11-28T23:59:59-12:00", "2026-11-29", "garbage",
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2025-06-01 10:00",
    "2023-13-01", "2019-01-01T10:00:00+0530", "0000-01-01", "0001-01-02",
    "2024-03-01T00:00:00-23:59", "2024-03-01 05:00:00+23:59", "2024-03-01T11:59:59Z",
    "2024-01-01T00:00:00+24:00", "2024-01-01T23:59:60Z", "9999-12-31",
]  # fmt: skip

rows_strategy = st.lists(
    st.tuples(
        *(
            st.sampled_from(pool)
            for pool in (
                IDS,
                BIRTHDATES,
                AGES,
                COUNTRIES,
                REGIONS,
                PHONES,
                COLLECTED,
            )
        )
    ),
    min_size=1,
    max_size=40,
)
policies = st.sampled_from(
    [
        Policy(),
        Policy(phone_optional=True),
        Policy(when_no_jurisdiction="minimum_age"),
        Policy(threshold="contract", readings="prevailing"),
    ]
)


def _settings(policy: Policy, locator: str = "line") -> ReviewSettings:
    return ReviewSettings(
        today=TODAY,
        secret=SECRET,
        fields=FieldMap.from_mapping(MAP),
        policy=policy,
        locator=locator,  # type: ignore[arg-type]
    )


def _essence(batches: list[Batch]) -> tuple[Any, ...]:
    flags = [
        (f.account_id, f.codes, f.action, f.jurisdiction, f.required_age,
         f.source, f.fingerprint, f.line, f.rowid)
        for b in batches for f in b.flags
    ]  # fmt: skip
    return (
        flags,
        sum(b.screened for b in batches),
        [u for b in batches for u in b.unreadable],
        [c for b in batches for c in b.clean],
    )


def _row_engine(path: Path, settings: ReviewSettings) -> tuple[Any, ...]:
    with read(path) as items:
        return _essence(list(screen_batches(items, settings, batch_size=7)))


def _columnar(path: Path, settings: ReviewSettings, **kw: Any) -> tuple[Any, ...]:
    return _essence(
        list(review_batches(read_batches(path, batch_rows=5, **kw), settings))
    )


def _read_by_pyarrow(path: Path) -> bool:
    """Whether every batch of the file came from pyarrow's reader (the
    `csv` module's batches carry their rows)."""
    return all(batch.rows is None for batch in read_batches(path))


def _write_plain(path: Path, rows: list[tuple[str, ...]], newline: str) -> None:
    lines = [",".join(HEADER)] + [",".join(row) for row in rows]
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))


def _plain(rows: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Rows pyarrow's reader may read: no comma inside a value."""
    return [tuple(v.replace(",", " ") for v in row) for row in rows]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy, policy=policies, newline=st.sampled_from(["\n", "\r\n"]))
def test_plain_csv_through_pyarrow_is_identical(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[str, ...]],
    policy: Policy,
    newline: str,
) -> None:
    path = tmp_path_factory.mktemp("plain") / "accounts.csv"
    _write_plain(path, _plain(rows), newline)
    assert _read_by_pyarrow(path)
    settings_ = _settings(policy)
    assert _columnar(path, settings_) == _row_engine(path, settings_)


@st.composite
def messy_files(draw: st.DrawFn) -> bytes:
    """CSV bytes with quoting, blank lines, ragged rows and bad bytes."""
    rows = draw(rows_strategy)
    out = io.StringIO(newline="")
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    writer = csv.writer(out, quoting=quoting, lineterminator=draw(
        st.sampled_from(["\n", "\r\n"])
    ))  # fmt: skip
    writer.writerow(HEADER)
    for row in rows:
        shape = draw(st.sampled_from(["row"] * 6 + ["blank", "ragged", "comma"]))
        if shape == "blank":
            out.write("\n")
        elif shape == "ragged":
            writer.writerow(row[:-1])
        elif shape == "comma":
            writer.writerow((row[0], row[1] + ", x", *row[2:]))
        else:
            writer.writerow(row)
    data = out.getvalue().encode("utf-8")
    if draw(st.booleans()):
        cut = draw(st.integers(data.index(b"\n") + 1, len(data)))
        data = data[:cut] + b"\xff\xfe" + data[cut:]
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=messy_files(), policy=policies)
def test_messy_csv_is_identical(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, policy: Policy
) -> None:
    path = tmp_path_factory.mktemp("messy") / "accounts.csv"
    path.write_bytes(data)
    settings_ = _settings(policy)
    assert _columnar(path, settings_) == _row_engine(path, settings_)


@pytest.mark.parametrize(
    "shape",
    [
        b'"u1","2010-01-01","","US","AL","+1 205 555 0100","2024-01-01"\n',
        b"u1,2010-01-01,,US,AL,+1 205 555 0100\n",
        b"u1,2010-01-01,,US,AL,+1 205 555 0100,2024-01-01\n\n",
        b"u1,2010-01-01,,US,AL,+1 205\r555 0100,2024-01-01\n",
        b"u1,2010-01-01,,US,AL,+1 205 555 0100,2024-01-01\xff\n",
        b"u1,2010-01-01,,US,AL,\x00,2024-01-01\n",
    ],
    ids=["quoted", "ragged", "blank", "lone-cr", "bad-byte", "nul"],
)
def test_files_pyarrow_could_split_otherwise_are_read_by_csv(
    tmp_path: Path, shape: bytes
) -> None:
    path = tmp_path / "accounts.csv"
    good = b"u2,2012-01-01,,JP,,,2024-01-01\n"
    path.write_bytes(",".join(HEADER).encode() + b"\n" + good + shape + good)
    assert not _read_by_pyarrow(path)
    settings_ = _settings(Policy())
    assert _columnar(path, settings_) == _row_engine(path, settings_)


@pytest.mark.parametrize(
    "shape",
    [
        b'"u1","2010-01-01","","US","AL","+1 205 555 0100","2024-01-01"\n',
        b"u1,2010-01-01,,US,AL,+1 205 555 0100\n",
        b"\n",
        b"u1,2010-01-01,,US,AL,+1 205\r555 0100,2024-01-01\n",
        b"u1,2010-01-01,,US,AL,+1 205 555 0100,2024-01-01\xff\n",
    ],
    ids=["quoted", "ragged", "blank", "lone-cr", "bad-byte"],
)
def test_a_file_turning_messy_part_way_is_read_by_csv_from_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shape: bytes
) -> None:
    monkeypatch.setattr(batches, "_BLOCK", 200)
    monkeypatch.setattr(batches, "_FIRST_BLOCK", 150)
    path = tmp_path / "accounts.csv"
    good = [
        f"u{n},20{n % 20:02d}-01-0{n % 9 + 1},,US,AL,+1 205 555 01{n:02d},2024-01-01\n"
        for n in range(60)
    ]
    body = "".join(good).encode()
    path.write_bytes(",".join(HEADER).encode() + b"\n" + body + shape + body)
    found = list(batches.read_batches(path, columns=HEADER))
    by_pyarrow = [batch.rows is None for batch in found]
    assert by_pyarrow[0]
    assert not by_pyarrow[-1]
    assert by_pyarrow == sorted(by_pyarrow, reverse=True)
    settings_ = _settings(Policy())
    assert _columnar(path, settings_) == _row_engine(path, settings_)


@pytest.mark.parametrize("name", ["accounts.csv", "accounts.jsonl", "accounts.sqlite"])
def test_example_accounts_are_identical(name: str) -> None:
    path = ROOT / "examples" / name
    locator = "rowid" if name.endswith(".sqlite") else "line"
    settings_ = _settings(Policy(), locator)
    columnar = _columnar(path, settings_)
    assert columnar == _row_engine(path, settings_)
    assert columnar[0], "the examples raise flags"


def test_parquet_is_identical_to_the_rows_pyarrow_gives(tmp_path: Path) -> None:
    with read(ROOT / "examples" / "accounts.csv") as stream:
        values = [item.values for item in stream if isinstance(item, Row)]
    table = pa.Table.from_pylist(values)
    # A non-text column sends its batches to the row engine, unchanged.
    table = table.append_column("score", pa.array(range(table.num_rows)))
    path = tmp_path / "accounts.parquet"
    pq.write_table(table, path, row_group_size=50)
    settings_ = _settings(Policy())
    reviewer = Reviewer(settings_)
    items = [Row(n, values) for n, values in enumerate(table.to_pylist(), start=1)]
    expected = _essence([screen_batch(reviewer, items)])
    assert _columnar(path, settings_) == expected
    text_only = tmp_path / "text.parquet"
    pq.write_table(table.drop_columns(["score"]), text_only, row_group_size=64)
    assert _columnar(text_only, settings_) == expected


def test_a_record_batch_gives_its_flags_as_arrow_columns() -> None:
    records = pa.RecordBatch.from_pydict(
        {
            "user_id": ["kid", "adult", ""],
            "dob": ["2015-01-01", "1980-01-01", "2014-03-03"],
            "country": ["US", "US", "GB"],
            "region": ["MS", "MS", ""],
            "phone": ["", "", "+44 20 7946 0000"],
            "created_at": ["2024-01-01", "2024-01-01", "nonsense"],
        }
    )
    settings_ = _settings(Policy())
    screened = screen_record_batch(records, settings_)
    assert screened.rows_read == screened.rows_screened == 3
    assert screened.clean == ("adult",)
    flags = screened.flags
    assert flags.schema.names == [
        "account_id", "codes", "action", "jurisdiction", "required_age",
        "source", "fingerprint", "line", "rowid",
    ]  # fmt: skip
    assert flags.column("line").to_pylist() == [2, 4]
    assert flags.column("codes").to_pylist()[1] == [
        "MINOR_AT_COLLECTION", "MINOR_NOW", "COLLECTED_AT_INVALID",
    ] or "COLLECTED_AT_INVALID" in flags.column("codes").to_pylist()[1]  # fmt: skip
    assert flags.column("account_id")[1].as_py().startswith("anon-")
    assert screened.by_code["MINOR_NOW"] == 2
    # The same rows through Reviewer give the same flags.
    reviewer = Reviewer(settings_)
    rows = [Row(n, v) for n, v in enumerate(records.to_pylist(), start=2)]
    expected = screen_batch(reviewer, rows)
    again = ColumnarReviewer(settings_).screen(
        read_batches_of(records)  # the engine keeps its caches across calls
    )
    assert [f.fingerprint for f in expected.flags] == flags.column(
        "fingerprint"
    ).to_pylist()
    assert again.flags.equals(flags)


def read_batches_of(records: pa.RecordBatch) -> Any:
    from agegate.review.batches import AccountBatch

    return AccountBatch(records, tuple(range(2, 2 + records.num_rows)))


# -- shares: what each worker reads ------------------------------------------


def _shared(
    source: Source, settings_: ReviewSettings, cut: list[Any]
) -> tuple[Any, ...]:
    engine = ColumnarReviewer(settings_)
    return _essence(
        [
            as_batch(engine.screen(batch))
            for share in cut
            for batch in read_share(source, share, batch_rows=5)
        ]
    )


def _csv_source(path: Path) -> Source:
    fields = FieldMap.from_mapping(MAP)
    columns = tuple(key for field in FIELDS for key in fields.keys_of(field))
    with read(path) as stream:
        return Source.of(stream, str(path), "utf-8", columns)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=messy_files(), share_bytes=st.integers(16, 400))
def test_csv_shares_read_as_the_whole_file(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, share_bytes: int
) -> None:
    path = tmp_path_factory.mktemp("shares") / "accounts.csv"
    path.write_bytes(data)
    source = _csv_source(path)
    cut = shares(source, 2, share_bytes)
    settings_ = _settings(Policy())
    assert _shared(source, settings_, cut) == _row_engine(path, settings_)


QUOTED = [
    b'u1,"2010-01-01",,US,"A\nL","+1 205 555 0100",2024-01-01\n',
    b'u2,2010-01-01,,"U""S\n,x",AL,,2024-01-01\r\n',
    b'u3,20"10-01-01,,US,AL,",\n"",2024-01-01\n',
    b'"u4",2010-01-01,,US,AL,"""",2024-01-01\r',
    b"u5,2012-03-04,,JP,,,2024-01-01\n",
    b'u6,2012-03-04,,JP,,"a""\n""b",2024-01-01\n',
    b"\n",
    b"u7,2012-03-04,,JP\n",
]


@pytest.mark.parametrize("share_bytes", [8, 20, 33, 64])
def test_quoted_line_ends_are_never_cut(tmp_path: Path, share_bytes: int) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes(",".join(HEADER).encode() + b"\n" + b"".join(QUOTED * 6))
    source = _csv_source(path)
    cut = shares(source, 2, share_bytes)
    assert len(cut) > 3
    settings_ = _settings(Policy())
    assert _shared(source, settings_, cut) == _row_engine(path, settings_)


@pytest.mark.parametrize(
    "tail",
    [b'u9,"2010-01-01\n,,US,AL,,\n', b"u9,\x00,,,,,\n" + b"".join(QUOTED)],
    ids=["unclosed", "nul"],
)
def test_a_file_the_scan_cannot_follow_goes_whole(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "accounts.csv"
    body = b"".join(QUOTED * 6)
    path.write_bytes(",".join(HEADER).encode() + b"\n" + body + tail)
    assert shares(_csv_source(path), 2, 16) == [WHOLE]


def test_sqlite_rowid_ranges_number_rows_as_the_whole_table(tmp_path: Path) -> None:
    path = tmp_path / "accounts.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE accounts ({', '.join(HEADER)})")
    rows = [
        (f"u{n}", f"{2000 + n % 20}-01-01", "", "US", "AL", "", "2024-01-01")
        for n in range(200)
    ]
    db.executemany(f"INSERT INTO accounts VALUES ({', '.join('?' * 7)})", rows)
    db.execute("DELETE FROM accounts WHERE rowid % 7 = 0 OR rowid BETWEEN 50 AND 90")
    db.execute("UPDATE accounts SET dob = CAST(x'ff' AS TEXT) WHERE rowid % 11 = 0")
    db.commit()
    db.close()
    source = Source(str(path), "sqlite")
    cut = shares(source, 3)
    assert len(cut) > 3
    settings_ = _settings(Policy(), "rowid")
    expected = _row_engine(path, settings_)
    assert expected[2], "some rows are unreadable"
    assert _shared(source, settings_, cut) == expected


def test_parquet_row_groups_number_rows_as_the_whole_file(tmp_path: Path) -> None:
    with read(ROOT / "examples" / "accounts.csv") as stream:
        values = [item.values for item in stream if isinstance(item, Row)]
    path = tmp_path / "accounts.parquet"
    pq.write_table(pa.Table.from_pylist(values), path, row_group_size=17)
    source = Source(str(path), "parquet")
    cut = shares(source, 2)
    assert len(cut) > 2
    settings_ = _settings(Policy())
    assert _shared(source, settings_, cut) == _columnar(path, settings_)


def test_two_workers_read_their_shares_and_merge_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes(",".join(HEADER).encode() + b"\n" + b"".join(QUOTED * 40))
    monkeypatch.setattr(batches, "SHARE_BYTES", 256)
    source = _csv_source(path)
    assert len(shares(source, 2)) > 4
    settings_ = _settings(Policy())
    found = [
        as_batch(s) for s in screen_source(source, settings_, workers=2, batch_size=7)
    ]
    assert _essence(found) == _row_engine(path, settings_)


@pytest.mark.parametrize("name", ["accounts.csv", "accounts.sqlite"])
def test_the_cli_engines_write_the_same_flags_and_counts(
    tmp_path: Path, name: str
) -> None:
    from agegate.cli.main import main

    written = {}
    for engine, workers in (("rows", "1"), ("columnar", "1"), ("columnar", "2")):
        out, summary = tmp_path / f"{engine}{workers}.jsonl", tmp_path / "s.json"
        status = main(
            ["review", str(ROOT / "examples" / name), f"--today={TODAY}",
             *(f"--map={field}={column}" for field, column in MAP.items()
               if field != "age"),
             f"--engine={engine}", f"--workers={workers}", f"--flags-out={out}",
             f"--summary={summary}", "--secret=" + SECRET.decode(), "--quiet"]
        )  # fmt: skip
        assert status == 0
        flags = [
            {k: v for k, v in json.loads(line).items() if k != "raised_at"}
            for line in out.read_text().splitlines()
        ]
        counts = json.loads(summary.read_text())
        written[engine, workers] = (
            flags,
            {k: counts[k] for k in ("rows_read", "rows_screened", "by_code")},
        )
    assert written["rows", "1"][0], "the examples raise flags"
    assert written["rows", "1"] == written["columnar", "1"] == written["columnar", "2"]


@settings(max_examples=300, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(
            st.dates(date(1, 1, 1), date(9999, 12, 31)),
            st.dates(date(1, 1, 1), date(9999, 12, 31))
            | st.sampled_from([date(2023, 2, 28), date(2024, 2, 28), date(2024, 3, 1)]),
        )
        | st.tuples(
            st.sampled_from([date(2000, 2, 29), date(2008, 2, 29), date(1904, 2, 29)]),
            st.dates(date(1990, 1, 1), date(2030, 12, 31)),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_ages_of_yyyymmdd_columns_are_age_on(pairs: list[tuple[date, date]]) -> None:
    """The batch's age arithmetic: (on - born) // 10000 on yyyymmdd integers,
    exactly `age.age_on`, 29 February and dates before birth included."""

    def number(day: date) -> int:
        return day.year * 10000 + day.month * 100 + day.day

    born = np.array([number(b) for b, _ in pairs], dtype=np.int64)
    on = np.array([number(o) for _, o in pairs], dtype=np.int64)
    assert ages_on(on, born).tolist() == [age_on(b, o) for b, o in pairs]
    today = number(TODAY)
    assert ages_on(today, born).tolist() == [age_on(b, TODAY) for b, _ in pairs]


def _edge_rows() -> list[tuple[str, ...]]:
    """Rows whose ages at collection straddle every threshold on both sides
    of rule changes, with phones under shared codes declared in each region
    of the code: many distinct decision keys in one batch."""
    rules = load_rules()
    changes = sorted(
        {
            (r.effective_from, r.code.split("-")[0])
            for r in rules.all()
            if r.effective_from
        }
    )
    places = [
        ("GB", "+44 20 7946 0000"), ("GG", "+44 1481 256789"), ("JE", "+44 1534 456789"),
        ("IM", "+44 1624 756789"), ("RU", "+7 912 345 67 89"), ("KZ", "+7 701 123 4567"),
        ("GP", "+590 690 00 12 34"), ("BL", "+590 590 27 12 34"), ("MF", "+590 590 87 12 34"),
        ("FI", "+358 18 123456"), ("AX", "+358 18 123456"), ("US", "+1 205 555 0100"),
    ]  # fmt: skip
    rows: list[tuple[str, ...]] = []
    for number, (start, country) in enumerate(changes):
        if start.year < 1950:
            continue
        place, phone_text = places[number % len(places)]
        for shift in (-1, 0, 1):
            on = start + timedelta(days=shift)
            for years in (12, 13, 15, 16, 17, 18, 19, 20, 21, 25):
                for days in (-1, 0, 1):
                    born = _years_before(on, years) + timedelta(days=days)
                    stamp = f"{on.isoformat()}T{(number * 7) % 24:02d}:30:00+14:00"
                    rows.append(
                        (f"u{len(rows)}", born.isoformat(), "", country, "",
                         phone_text if days else "", on.isoformat())
                    )  # fmt: skip
                    rows.append(
                        (f"v{len(rows)}", born.isoformat(), "", place, "",
                         phone_text, stamp)
                    )  # fmt: skip
    return rows


def _years_before(on: date, years: int) -> date:
    try:
        return on.replace(year=on.year - years)
    except ValueError:  # 29 February
        return on.replace(year=on.year - years, day=28)


@pytest.mark.parametrize("policy", [Policy(), Policy(threshold="digital_consent")])
def test_rule_changes_and_birthdays_in_large_batches_are_identical(
    tmp_path: Path, policy: Policy
) -> None:
    path = tmp_path / "edges.csv"
    rows = _edge_rows()
    _write_plain(path, rows, "\n")
    settings_ = _settings(policy)
    columnar = _essence(
        list(review_batches(read_batches(path, batch_rows=4000), settings_))
    )
    assert len(columnar[0]) > len(rows) // 10
    assert columnar == _row_engine(path, settings_)


def _parquet_accounts(path: Path) -> int:
    """Accounts written by pyarrow in three row groups, with nulls and a
    column that is not text."""
    rows = [*_edge_rows()[:400], ("", "2012-05-01", "", "US", "", "", "")]
    columns = {name: [row[i] or None for row in rows] for i, name in enumerate(HEADER)}
    table = pa.table(columns).append_column(
        "score", pa.array(range(len(rows)), pa.int64())
    )
    pq.write_table(table, path, row_group_size=150)
    return len(rows)


def _cli_review(
    path: Path, out: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    maps = [f"--map={f}={c}" for f, c in MAP.items() if f != "age"]
    return subprocess.run(
        [sys.executable, "-m", "agegate.cli", "review", str(path), *maps,
         f"--today={TODAY}", f"--flags-out={out}", "--secret=" + SECRET.decode(),
         "--quiet", *options],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip


def test_a_parquet_file_is_reviewed_through_the_cli(tmp_path: Path) -> None:
    """`agegate review accounts.parquet`: the format from the extension (or
    --format parquet), every engine and worker count writing the same flags,
    each with its row number (from 1) as its line."""
    path = tmp_path / "accounts.parquet"
    count = _parquet_accounts(path)
    renamed = tmp_path / "accounts.bin"
    renamed.write_bytes(path.read_bytes())
    written = []
    for source, options in (
        (path, ["--engine=rows"]),
        (path, []),
        (path, ["--workers=2"]),
        (renamed, ["--format=parquet"]),
    ):
        out = tmp_path / "flags.jsonl"
        done = _cli_review(source, out, *options)
        assert done.returncode == 0, done.stderr
        flags = [json.loads(line) for line in out.read_text().splitlines()]
        written.append(
            [{k: v for k, v in f.items() if k != "raised_at"} for f in flags]
        )
    assert written[0]
    assert all(found == written[0] for found in written)
    lines = [flag["line"] for flag in written[0]]
    assert lines == sorted(lines)
    assert lines[0] >= 1
    assert lines[-1] == count
    by_line = {flag["line"]: flag for flag in written[0]}
    assert by_line[count]["codes"] == ["MINOR_NOW"]
    assert by_line[count]["account_id"].startswith("anon-")


def test_a_parquet_input_that_is_not_one_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "accounts.parquet"
    path.write_bytes(b"user_id,dob\nu1,2012-05-01\n")
    done = _cli_review(path, tmp_path / "flags.jsonl")
    assert done.returncode == 2
    assert "not a readable Parquet file" in done.stderr
    done = _cli_review(Path("-"), tmp_path / "flags.jsonl", "--format=parquet")
    assert done.returncode == 2
    assert "standard input" in done.stderr


def test_the_padded_pattern_knows_every_character_strip_removes() -> None:
    """Clean ids skip strip() where RE2 finds no whitespace at either end:
    its class must hold exactly what str.strip() removes."""
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    others = ["a", "\x00", "\u200b", "\ufeff", "\x1b", "\u180e", "é", "\U0001f600"]
    texts = pa.array(
        [f"{c}id" for c in spaces + others] + [f"id{c}" for c in spaces + others]
    )
    found = pc.match_substring_regex(texts, flag_columns.PADDED).to_pylist()
    expected = [t != t.strip() for t in texts.to_pylist()]
    assert found == expected


@pytest.mark.parametrize("given", ["u1", " u1", "u1\x1f", "u1\u3000", "", None, "\x85"])
def test_clean_ids_are_stripped_as_the_row_engine_strips(
    tmp_path: Path, given: str | None
) -> None:
    ids = pa.array(["u0", given, "u2", "u3"], pa.string())
    births = pa.array(["1990-01-01", "1980-01-01", "2015-01-01", "1985-06-01"])
    table = pa.table({"user_id": ids, "dob": births, "country": ["US"] * 4})
    settings_ = _settings(Policy())
    screened = screen_record_batch(table.to_batches()[0], settings_)
    reviewer = Reviewer(settings_)
    expected = screen_batch(
        reviewer, [Row(i + 2, r) for i, r in enumerate(table.to_pylist())]
    )
    assert screened.clean == expected.clean


def test_a_review_process_does_not_import_pandas_and_pandas_still_works() -> None:
    pytest.importorskip("pandas")
    code = (
        "import sys\n"
        "from agegate.review.batches import skip_pandas_probe\n"
        "skip_pandas_probe()\n"
        "import pyarrow as pa, pyarrow.compute as pc\n"
        "pa.array(['x']); pa.scalar(1); pc.add(pa.array([1]), 1)\n"
        "assert 'pandas' not in sys.modules\n"
        "import pandas\n"
        "assert pa.table({'a': [7]}).to_pandas()['a'][0] == 7\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@settings(max_examples=30, deadline=None)
@given(
    count=st.integers(0, 14),
    children=st.integers(1, 3),
    delays=st.lists(st.sampled_from([0.0, 0.001, 0.004]), min_size=14, max_size=14),
)
def test_shares_come_back_in_order_each_screened_once(
    count: int, children: int, delays: list[float]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from agegate.review.run import _in_order

    screened: list[int] = []

    def work(number: int) -> list[Any]:
        time.sleep(delays[number])
        screened.append(number)
        return [number]

    with ThreadPoolExecutor(children) as pool:
        found = list(_in_order(count, lambda n: pool.submit(work, n), work, children))
    assert found == [[n] for n in range(count)]
    assert sorted(screened) == list(range(count))


@st.composite
def aged_rows(draw: st.DrawFn) -> list[tuple[str, ...]]:
    """Rows of every age from before birth to past every threshold, in
    places whose ages differ (and changed: Japan in 2022), collected on
    either side of those changes."""
    found = []
    for number in range(draw(st.integers(1, 30))):
        years = draw(st.integers(-1, 40))
        born = TODAY - timedelta(days=365 * years + draw(st.integers(-400, 400)))
        collected = TODAY - timedelta(days=draw(st.integers(0, 365 * 12)))
        place = draw(
            st.sampled_from(
                [("US", "AL"), ("US", "MS"), ("US", "CA"), ("CA", "BC"),
                 ("JP", ""), ("GB", ""), ("DE", ""), ("KR", ""), ("MZ", ""),
                 ("ID", ""), ("", "")]
            )
        )  # fmt: skip
        when = draw(st.sampled_from(["", collected.isoformat()]))
        found.append((f"u{number}", born.isoformat(), "", *place, "", when))
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=aged_rows(),
    policy=st.sampled_from(
        [
            Policy(),
            Policy(minimum_age=13, threshold="digital_consent"),
            Policy(overrides={"US": 21, "JP": 19}),
            Policy(minimum_age=16, overrides={"DE": 15}, overrides_may_lower=True),
            Policy(threshold="contract", readings="prevailing"),
            Policy(minimum_age=1, when_no_jurisdiction="minimum_age"),
        ]
    ),
)
def test_every_age_against_every_threshold_is_identical(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[str, ...]],
    policy: Policy,
) -> None:
    path = tmp_path_factory.mktemp("aged") / "accounts.csv"
    _write_plain(path, rows, "\n")
    settings_ = _settings(policy)
    assert _columnar(path, settings_) == _row_engine(path, settings_)


AGE_POLICIES = [
    Policy(),
    Policy(minimum_age=13, threshold="digital_consent"),
    Policy(overrides={"US": 21, "JP": 19}),
    Policy(minimum_age=16, overrides={"DE": 15}, overrides_may_lower=True),
    Policy(threshold="contract", readings="prevailing"),
    Policy(minimum_age=13, readings="prevailing"),
    Policy(minimum_age=1, when_no_jurisdiction="minimum_age"),
]


@pytest.mark.parametrize("policy", AGE_POLICIES, ids=range(len(AGE_POLICIES)))
def test_each_age_in_each_place_on_each_side_of_a_change_is_identical(
    tmp_path: Path, policy: Policy
) -> None:
    places = [
        ("US", "AL"), ("US", "MS"), ("US", "CA"), ("CA", "BC"), ("JP", ""),
        ("GB", ""), ("DE", ""), ("KR", ""), ("MZ", ""), ("ID", ""), ("ZM", ""),
        ("", ""),
    ]  # fmt: skip
    # Japan lowered majority from 20 to 18 on 2022-04-01.
    collected = ["", "2022-03-31", "2022-04-01", "2016-06-30"]
    rows = [
        (f"u{n}", (TODAY - timedelta(days=365 * years + 200)).isoformat(), "",
         *place, "", when)
        for n, (place, years, when) in enumerate(
            (p, y, w) for p in places for y in range(-1, 42) for w in collected
        )
    ]  # fmt: skip
    path = tmp_path / "accounts.csv"
    _write_plain(path, rows, "\n")
    settings_ = _settings(policy)
    columnar = _columnar(path, settings_)
    assert columnar == _row_engine(path, settings_)
    assert len(columnar[0]) > 100, "minors are flagged"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-(2**40), 2**40), max_size=60)
    | st.lists(st.integers(-5, 30), max_size=300)
)
def test_distinct_keys_are_found_as_numpy_finds_them(values: list[int]) -> None:
    from agegate.review.distinct import first_and_inverse as _first_and_inverse

    key = np.array(values, dtype=np.int64)
    first, inverse = _first_and_inverse(key)
    _, expected_first, expected_inverse = np.unique(
        key, return_index=True, return_inverse=True
    )
    assert first.tolist() == expected_first.tolist()
    assert inverse.tolist() == expected_inverse.reshape(-1).tolist()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([b"a", b",", b"\r", b"\n", b"\r\n"]), max_size=30).map(
        b"".join
    ),
    st.data(),
)
def test_lines_are_counted_as_the_csv_module_counts_them(
    data: bytes, draw: st.DataObject
) -> None:
    start = draw.draw(st.integers(0, len(data)))
    end = draw.draw(st.integers(start, len(data)))
    chunk = data[start:end]
    expected = chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
    # Counted a few bytes at a time too, so a \r\n may straddle two pieces.
    pieces = draw.draw(st.sampled_from([1, 2, 3, 7, batches._COUNT_BYTES]))
    kept = batches._COUNT_BYTES
    try:
        batches._COUNT_BYTES = pieces
        assert batches._lines(data, start, end) == expected
    finally:
        batches._COUNT_BYTES = kept


def test_caches_that_start_again_give_the_same_flags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Past its limit a run numbers its signals again, and forgets what it
    # kept by the old numbers (decision keys, rules by collection interval).
    from agegate.review import columns, decision_keys, places

    path = ROOT / "examples" / "accounts.csv"
    settings_ = _settings(Policy())
    expected = _row_engine(path, settings_)
    for module in (columns, places, decision_keys):
        monkeypatch.setattr(module, "CACHE_LIMIT", 3)
    assert _columnar(path, settings_) == expected
