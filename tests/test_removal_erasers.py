"""The erasers on their own, on real files: the awkward shapes of real
exports keep every other byte."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from agegate.errors import InputError
from agegate.removal.erasers.files import CsvEraser, JsonlEraser, ParquetEraser
from agegate.removal.erasers.sqlite import SqliteEraser


def test_csv_with_a_bom_semicolons_and_quoted_ids_keeps_every_other_byte(
    tmp_path: Path,
) -> None:
    path = tmp_path / "export.csv"
    header = "\ufeffname;account_id;note\r\n".encode()
    keep = [
        b'"Ann; the first";a-1;plain\r\n',
        b'Bo;"a-3";"two\r\nlines"\r\n',
        "Zoë;a-5;ünïcode\r\n".encode(),
    ]
    gone = [b'Cy;"a-2";x\r\n', b'"Di ""D""";a-4;"multi\nline ; note"\r\n']
    path.write_bytes(header + keep[0] + gone[0] + keep[1] + gone[1] + keep[2])
    mode = 0o640
    os.chmod(path, mode)
    eraser = CsvEraser(str(path), "account_id")
    survey = eraser.plan({"a-2", "a-4", "nobody"})
    assert (survey.rows, survey.accounts, survey.total) == (2, 2, 5)
    assert eraser.erase({"a-2", "a-4"}).rows == 2
    assert path.read_bytes() == header + b"".join(keep)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert eraser.verify({"a-2", "a-4"}) == 0
    assert sorted(eraser.ids()) == ["a-1", "a-3", "a-5"]
    assert [p.name for p in tmp_path.iterdir()] == ["export.csv"]


def test_a_malformed_csv_is_an_input_error_and_the_file_is_untouched(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bad.csv"
    data = b'account_id,name\na-1,"never closed\n'
    path.write_bytes(data)
    with pytest.raises(InputError, match="line 2"):
        CsvEraser(str(path), "account_id").erase({"a-1"})
    assert path.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["bad.csv"]


def test_jsonl_integer_ids_and_records_without_one(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [
        b'{"user": 7, "e": "x"}\n',
        b'{"user": 8,  "e": "y"}\n',
        b"\n",
        b'{"e": "no user"}\n',
        b'{"user": "8", "e": "z"}',
    ]
    path.write_bytes(b"".join(lines))
    eraser = JsonlEraser(str(path), "user")
    assert eraser.plan({"8"}).rows == 2
    eraser.erase({"8"})
    assert path.read_bytes() == lines[0] + lines[2] + lines[3]


def test_parquet_integer_ids_keep_schema_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "users.parquet"
    table = pa.table(
        {"id": pa.array([1, 2, 3, 4], pa.int64()), "name": ["a", "b", "c", "d"]}
    )
    table = table.replace_schema_metadata({"owner": "crm"})
    pq.write_table(table, path, compression="zstd")
    eraser = ParquetEraser(str(path), "id")
    assert eraser.erase({"2", "4"}).rows == 2
    kept = pq.read_table(path)
    assert kept.schema.metadata[b"owner"] == b"crm"
    assert kept.to_pylist() == [{"id": 1, "name": "a"}, {"id": 3, "name": "c"}]
    assert eraser.verify({"2", "4"}) == 0


def test_sqlite_integer_id_column_and_rollback_journal(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE members (member INTEGER, secret TEXT)")
        db.executemany(
            "INSERT INTO members VALUES (?, ?)",
            [(1, "keep-one"), (2, "gone-two"), (3, "keep-three")],
        )
    db.close()
    eraser = SqliteEraser(str(path), "members", "member")
    assert eraser.plan({"2"}).rows == 1
    assert eraser.erase({"2"}).rows == 1
    assert b"gone-two" not in path.read_bytes()
    assert b"keep-three" in path.read_bytes()
    with pytest.raises(InputError, match="no column"):
        SqliteEraser(str(path), "members", "account_id").plan({"2"})
    with pytest.raises(InputError, match="no such table"):
        SqliteEraser(str(path), "nothing", "member").plan({"2"})
    assert json.dumps(eraser.label)


def test_sqlite_ids_with_quotes_nul_and_non_ascii_are_erased_exactly(
    tmp_path: Path,
) -> None:
    import sqlite3

    path = tmp_path / "app.db"
    odd = ['a"b', "a\x00b", "é☃\U0001f600", "back\\slash"]
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (account_id TEXT, secret TEXT)")
        db.executemany(
            "INSERT INTO users VALUES (?, ?)",
            [*((i, f"gone-{n}") for n, i in enumerate(odd)), ("a", "keep-a")],
        )
    db.close()
    eraser = SqliteEraser(str(path), "users", "account_id")
    for ids in ({"a\x00b"}, set(odd)):
        assert eraser.plan(ids).rows == len(ids)
    assert eraser.erase(set(odd)).rows == len(odd)
    assert eraser.verify(set(odd)) == 0
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT account_id FROM users").fetchall() == [("a",)]
    db.close()
    assert eraser.erase(set(odd[:1] + odd[2:])).rows == 0


def test_tombstones_one_line_per_run_read_beside_the_one_key_lines(
    tmp_path: Path,
) -> None:
    from datetime import date

    from agegate.removal.tombstones import TombstoneStore

    path = tmp_path / "t.jsonl"
    old = {"key": "a" * 64, "plan": "p1", "removed_on": "2026-01-01", "targets": []}
    path.write_text(json.dumps(old) + "\n", encoding="utf-8")
    store = TombstoneStore(path)
    on = date(2026, 2, 1)
    assert (
        store.add(["b" * 64, "c" * 64, "b" * 64], on=on, targets=["t"], plan="p2") == 2
    )
    # A run resumed buries nothing twice; another plan may bury the same key.
    assert store.add(["b" * 64, "c" * 64], on=on, targets=["t"], plan="p2") == 0
    assert store.add(["a" * 64], on=on, targets=["t"], plan="p2") == 1
    assert store.keys() == {"a" * 64, "b" * 64, "c" * 64}
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3
    with path.open("a", encoding="utf-8") as out:
        out.write('{"keys": "not a list", "plan": "p3"}\n')
    with pytest.raises(InputError, match="line 4 is not a tombstone"):
        store.keys()


def test_a_sqlite_state_is_the_one_earlier_plans_hold(tmp_path: Path) -> None:
    """The state is surveyed from the rows found once, kept for the DELETE;
    it is still the digest of the counts over the column itself, so a plan
    made before reads the same state."""
    import hashlib
    import sqlite3

    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, account_id TEXT)")
        db.executemany(
            "INSERT INTO users (account_id) VALUES (?)",
            [(f"a{n % 7}",) for n in range(40)],
        )
        db.execute("DELETE FROM users WHERE id % 5 = 0")
    db.close()
    ids = {"a1", "a3", "a6", "nobody"}
    with sqlite3.connect(path) as db:
        (total,) = db.execute("SELECT count(*) FROM users").fetchone()
        found = db.execute(
            "SELECT count(*), count(DISTINCT account_id), total(rowid),"
            " min(rowid), max(rowid) FROM users WHERE account_id IN (?, ?, ?, ?)",
            sorted(ids),
        ).fetchone()
    db.close()
    earlier = hashlib.sha256(repr((int(total), *found)).encode()).hexdigest()
    eraser = SqliteEraser(str(path), "users", "account_id")
    survey = eraser.plan(ids)
    assert (survey.state, survey.rows, survey.accounts) == (earlier, found[0], 3)
    assert eraser.erase_checked(ids, earlier).rows == found[0]
    assert eraser.verify(ids) == 0
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM users").fetchone() == (
            total - found[0],
        )
    db.close()


def test_a_sqlite_erase_staged_from_listed_ids_takes_odd_ones_exactly(
    tmp_path: Path,
) -> None:
    import sqlite3

    path = tmp_path / "app.db"
    odd = ['a"b', "a\x00b", "é☃\U0001f600", "back\\slash"]
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (account_id TEXT, secret TEXT)")
        db.executemany(
            "INSERT INTO users VALUES (?, ?)",
            [*((i, f"gone-{n}") for n, i in enumerate(odd)), ("a", "keep-a")],
        )
        # The array as a store's json_group_array writes it.
        (listed,) = db.execute(
            "SELECT json_group_array(account_id) FROM users WHERE secret != 'keep-a'"
        ).fetchone()
    db.close()
    eraser = SqliteEraser(str(path), "users", "account_id")
    state = eraser.plan(set(odd)).state
    staged = eraser.stage_listed(listed, state)
    assert staged.rows == len(odd)
    staged.rollback()
    assert eraser.verify(set(odd)) == len(odd)
    assert eraser.stage_listed(listed, state).commit().rows == len(odd)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT account_id FROM users").fetchall() == [("a",)]
    db.close()
