"""The columnar review against the row-at-a-time Reviewer: identical flags,
fingerprints, lines, clean ids and counts, on messy inputs and the examples."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agegate.policy import FieldMap, Policy
from agegate.review.batches import plain_csv, read_batches
from agegate.review.columnar import (
    ColumnarReviewer,
    review_batches,
    screen_record_batch,
)
from agegate.review.readers import Row, read
from agegate.review.reviewer import Batch, Reviewer, ReviewSettings
from agegate.review.run import screen_batch, screen_batches

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
]  # fmt: skip
AGES = ["", "", "", "17", "x", " "]
COUNTRIES = ["US", "GB", "JP", "CA", "SU", "YU", "CS", "XX", "", "Germany", "us", "GP"]
REGIONS = ["", "", "AL", "US-MS", "MS", "ZZ", "Ontario", "BC", "CA-QC"]
PHONES = [
    "", "+1 205 555 0100", "+1 601 555 0100", "+1 416 555 0113", "+44 20 7946 0000",
    "020 7946 0000", "(205) 555-0100", "555", "abc", "+590 690 00 12 34",
    "0690 00 12 34", "+81 90 1234 5678", "0044 20 7946 0000", "+1 800 555 0100",
]  # fmt: skip
COLLECTED = [
    "", "2024-01-01", "2024-01-01T00:00:00+14:00", "2024-01-01T23:30:00-14:00",
    "2020-02-29T12:00:00Z", "2026-11-28T23:59:59-12:00", "2026-11-29", "garbage",
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2025-06-01 10:00",
    "2023-13-01", "2019-01-01T10:00:00+0530",
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
    with read(path) as stream:
        assert plain_csv(path, stream, "utf-8")
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
    with read(path) as stream:
        assert not plain_csv(path, stream, "utf-8")
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
