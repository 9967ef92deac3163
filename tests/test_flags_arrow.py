"""Flags written from Arrow columns are the bytes the per-flag writer writes."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agegate.flags.model import Flag
from agegate.flags.output import FlagFile
from agegate.review.flag_columns import FLAG_SCHEMA as _FLAG_SCHEMA

RAISED = datetime(2026, 11, 28, 9, 30, 1, 250, tzinfo=UTC)
CODES = ["MINOR_NOW", "MINOR_AT_COLLECTION", "BIRTHDATE_INVALID", "PHONE_INVALID"]

ids = st.one_of(
    st.text(min_size=1, max_size=12),
    st.from_regex(r"[a-z0-9\-]{1,10}", fullmatch=True),
    st.sampled_from(['=cmd|" /C calc"!A0', "jo\u00e9", "\u2028x", 'a"b\\c', "\x7f"]),
)
flags = st.builds(
    Flag,
    account_id=ids,
    codes=st.lists(st.sampled_from(CODES), max_size=3, unique=True).map(tuple),
    action=st.sampled_from(["remove", "verify"]),
    jurisdiction=st.one_of(st.none(), st.sampled_from(["US-CA", "DE", "CA-BC"])),
    required_age=st.one_of(st.none(), st.integers(13, 21)),
    raised_at=st.just(RAISED),
    line=st.one_of(st.none(), st.integers(1, 10**9)),
    rowid=st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
)


def as_columns(found: list[Flag]) -> pa.RecordBatch:
    columns: dict[str, list[object]] = {name: [] for name in _FLAG_SCHEMA.names}
    for flag in found:
        for name, values in columns.items():
            value = getattr(flag, name)
            values.append(list(value) if name == "codes" else value)
    return pa.RecordBatch.from_pydict(columns, schema=_FLAG_SCHEMA)


def written(path: Path, found: list[Flag], by_columns: bool) -> bytes:
    with FlagFile(path) as out:
        if by_columns:
            out.add_columns(as_columns(found), RAISED)
        else:
            out.add_many(found)
    return path.read_bytes()


@settings(max_examples=150, deadline=None)
@given(st.lists(flags, max_size=30), st.sampled_from(["flags.jsonl", "flags.csv"]))
def test_columns_and_flags_write_the_same_bytes(
    tmp_path_factory: pytest.TempPathFactory, found: list[Flag], name: str
) -> None:
    directory = tmp_path_factory.mktemp("out")
    by_flags = written(directory / ("a-" + name), found, by_columns=False)
    by_columns = written(directory / ("b-" + name), found, by_columns=True)
    assert by_columns == by_flags


def test_a_formula_id_is_neutralised_in_csv_from_columns(tmp_path: Path) -> None:
    flag = Flag(account_id="=1+1", codes=("MINOR_NOW",), action="remove", line=2)
    text = written(tmp_path / "flags.csv", [flag], by_columns=True).decode()
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["account_id"] == "'=1+1"
    assert row["raised_at"] == RAISED.isoformat()


def test_a_slice_of_a_batch_writes_its_own_rows(tmp_path: Path) -> None:
    found = [
        Flag(account_id=f"u{n}", codes=("MINOR_NOW",), action="remove", line=n)
        for n in range(2, 12)
    ]
    path = tmp_path / "flags.jsonl"
    with FlagFile(path) as out:
        out.add_columns(as_columns(found).slice(3, 4), RAISED)
    lines = path.read_text().splitlines()
    assert [line.split('"')[3] for line in lines] == ["u5", "u6", "u7", "u8"]
