"""The streaming readers: every row comes out as a Row or an Unreadable."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

import pytest

from agegate import jsonkeys
from agegate.errors import InputError
from agegate.review.readers import Row, Unreadable, detect_format, read


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_csv_rows_carry_their_line_numbers(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "a.csv",
        b'\xef\xbb\xbfid,dob\n1,2000-01-01\n\n"2\nstill 2",2001-01-01\n3,2002-01-01\n',
    )
    assert list(read(path)) == [
        Row(2, {"id": "1", "dob": "2000-01-01"}),
        Row(4, {"id": "2\nstill 2", "dob": "2001-01-01"}),
        Row(6, {"id": "3", "dob": "2002-01-01"}),
    ]


def test_csv_bad_rows_are_reported_and_the_stream_goes_on(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "a.csv",
        b"id,dob\n1,2000-01-01\nshort\n2,x,extra\n\xff\xfe,2000-01-01\n5,ok\n",
    )
    items = list(read(path))
    assert items == [
        Row(2, {"id": "1", "dob": "2000-01-01"}),
        Unreadable(3, "expected 2 fields, found 1"),
        Unreadable(4, "expected 2 fields, found 3"),
        Unreadable(5, "not UTF-8"),
        Row(6, {"id": "5", "dob": "ok"}),
    ]
    # A reason never repeats the row's content.
    assert all("2000" not in i.reason for i in items if isinstance(i, Unreadable))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no rows to review"),
        (b"id,id\n1,2\n", "names a column twice"),
        (b"id,\n1,2\n", "empty column name"),
        (b"id,\xff\n1,2\n", "not UTF-8"),
    ],
)
def test_csv_header_problems_stop_before_the_first_row(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = _write(tmp_path / "a.csv", data)
    with pytest.raises(InputError, match=message):
        read(path)


def test_jsonl_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "a.jsonl",
        b'{"id": "1", "user": {"dob": "2000-01-01"}}\n'
        b"\n"
        b'{"id": "2", "dob": \n'
        b"[1, 2]\n"
        b'{"id": "3", "id": "4"}\n'
        b'{"id": "\xff"}\n'
        b'{"id": 5}\n',
    )
    assert list(read(path)) == [
        Row(1, {"id": "1", "user": {"dob": "2000-01-01"}}),
        Unreadable(3, "broken JSON"),
        Unreadable(4, "not a JSON object"),
        Unreadable(5, "a key appears twice"),
        Unreadable(6, "not UTF-8"),
        Row(7, {"id": 5}),
    ]


def test_sqlite_rows(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    db = sqlite3.connect(path)
    with db:
        db.execute('CREATE TABLE "my accounts" (id TEXT, dob TEXT, n INTEGER)')
        db.execute("INSERT INTO \"my accounts\" VALUES ('1', '2000-01-01', 7)")
        db.execute("INSERT INTO \"my accounts\" VALUES ('2', CAST(X'ff' AS TEXT), 8)")
        db.execute("INSERT INTO \"my accounts\" VALUES ('3', NULL, NULL)")
    db.close()
    assert list(read(path, table="my accounts")) == [
        Row(1, {"id": "1", "dob": "2000-01-01", "n": 7}, rowid=1),
        Unreadable(2, "not UTF-8"),
        Row(3, {"id": "3", "dob": None, "n": None}, rowid=3),
    ]


def test_sqlite_input_problems(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    sqlite3.connect(path).close()
    with pytest.raises(InputError, match="holds no table"):
        read(path)
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE one (id TEXT)")
        db.execute("CREATE TABLE two (id TEXT)")
    db.close()
    with pytest.raises(InputError, match="needs --table; tables: one, two"):
        read(path)
    with pytest.raises(InputError, match="no such table or view; tables: one, two"):
        read(path, table="accounts")
    junk = _write(tmp_path / "junk.sqlite", b"this is not a database" * 100)
    with pytest.raises(InputError, match="not a readable SQLite"):
        read(junk, table="accounts")


def test_format_and_file_checks(tmp_path: Path) -> None:
    assert detect_format("x.CSV") == "csv"
    assert detect_format("x.ndjson") == "jsonl"
    assert detect_format("x.db") == "sqlite"
    with pytest.raises(InputError, match="--format"):
        detect_format("x.txt")
    with pytest.raises(InputError, match="no such file"):
        read(tmp_path / "missing.csv")
    path = _write(tmp_path / "a.txt", b"id\n1\n")
    assert list(read(path, "csv")) == [Row(2, {"id": "1"})]
    with pytest.raises(InputError, match="SQLite inputs only"):
        read(path, "csv", table="t")


def test_a_key_twice_at_any_depth_is_refused_as_the_gate_refuses_it(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path / "a.jsonl", b'{"id": "1", "user": {"dob": 1, "dob": 2}}\n')
    assert list(read(path)) == [Unreadable(1, "a key appears twice")]
    with pytest.raises(jsonkeys.DuplicateKey) as caught:
        jsonkeys.loads('{"user": {"dob": "2000-01-01", "dob": "2010-01-01"}}')
    assert caught.value.key == "dob"
    # The message names no key and no value; the error pickles for workers.
    assert str(caught.value) == "a key appears twice"
    assert pickle.loads(pickle.dumps(caught.value)).key == "dob"


def test_dotted_columns_of_json_lines_are_found_as_screening_finds_them(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path / "a.jsonl",
        b'{"id": "1", "user": {"dob": "2000-01-01"}}\n{"id": "2", "a.b": 1}\n',
    )
    with read(path) as stream:
        assert stream.has_key("user.dob")
        assert stream.has_key("a.b")
        assert not stream.has_key("user.name")
        assert not stream.has_key("id.x")
