"""Table records are split into words exactly as shlex splits them."""

from __future__ import annotations

import shlex
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from agegate.rules import split_record

ROOT = Path(__file__).resolve().parent.parent


def _shlex(record: str) -> list[str] | str:
    try:
        return shlex.split(record, comments=True)
    except ValueError as error:
        return str(error)


def _ours(record: str) -> list[str] | str:
    try:
        return split_record(record)
    except ValueError as error:
        return str(error)


def test_every_record_of_the_tables_splits_as_shlex_splits_it() -> None:
    records = [
        line.strip()
        for table in sorted((ROOT / "jurisdictions").glob("*.txt"))
        for line in table.read_text("utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert len(records) > 300
    for record in records:
        assert _ours(record) == _shlex(record), record


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=" \t\"'#ab=\\-<>\u00e9\r\n", max_size=30))
def test_any_record_splits_as_shlex_splits_it(record: str) -> None:
    assert _ours(record) == _shlex(record)
