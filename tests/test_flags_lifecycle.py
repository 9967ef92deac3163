"""The flag lifecycle in the SQLite store: bulk moves in one transaction,
legal holds, and a review run again that never reopens a held flag or one
in a removal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from removal_support import MINORS, agegate

from agegate.errors import InputError
from agegate.flags import Flag, SqliteFlagStore
from agegate.flags.lifecycle import GONE, KEPT, FlagRef, StatusChange


def _flags(codes: tuple[str, ...] = ("MINOR_NOW",), fp: str = "a") -> list[Flag]:
    return [Flag(p.account_id, codes, "remove", fingerprint=fp) for p in MINORS]


@pytest.mark.parametrize("status", KEPT)
def test_a_review_run_again_on_other_data_leaves_the_flag_alone(
    tmp_path: Path, status: str
) -> None:
    with SqliteFlagStore(tmp_path / "f.sqlite") as store:
        store.add_many(_flags())
        refs = tuple(FlagRef(p.account_id, "review") for p in MINORS)
        assert store.set_status(StatusChange(refs, ("open",), status, "ops")) == len(
            MINORS
        )  # type: ignore[arg-type]
        store.add_many(_flags(("MINOR_NOW", "REPORTED"), "b"))
        kept = list(store.list())
    assert {s.status for s in kept} == {status}
    assert {s.flag.codes for s in kept} == {("MINOR_NOW",)}


@pytest.mark.parametrize("status", GONE)
def test_an_account_to_be_gone_found_again_reappears(
    tmp_path: Path, status: str
) -> None:
    # A copy the removal missed, or a restore from backup: the account is back.
    with SqliteFlagStore(tmp_path / "f.sqlite") as store:
        store.add_many(_flags())
        refs = tuple(FlagRef(p.account_id, "review") for p in MINORS)
        change = StatusChange(refs, ("open",), status, "ops")  # type: ignore[arg-type]
        assert store.set_status(change) == len(MINORS)
        store.add_many(_flags())
        statuses = {s.status for s in store.list()}
        again = store.statuses(p.account_id for p in MINORS)
    assert statuses == {"reappeared"}
    assert again["reappeared"] == len(MINORS)


def test_a_bulk_move_is_one_transaction_and_moves_only_from_the_statuses_named(
    tmp_path: Path,
) -> None:
    with SqliteFlagStore(tmp_path / "f.sqlite") as store:
        store.add_many(_flags())
        refs = tuple(FlagRef(p.account_id, "review") for p in MINORS)
        assert (
            store.set_status(
                StatusChange(refs[:2], ("open",), "held", "counsel", "case")
            )
            == 2
        )
        assert store.set_status(StatusChange(refs, ("open",), "planned", "ops")) == 3
        ghost = (*refs, FlagRef("nobody", "review"))
        assert (
            store.set_status(StatusChange(ghost, ("planned",), "approved", "ops")) == 3
        )
        statuses = sorted(s.status for s in store.list())
    assert statuses == ["approved", "approved", "approved", "held", "held"]


def test_hold_and_release_through_the_command(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite"
    with SqliteFlagStore(path) as store:
        store.add_many(_flags())
    account = MINORS[0].account_id
    held = agegate(
        "flags",
        "hold",
        account,
        "--store",
        path,
        "--why",
        "litigation",
        "--by",
        "counsel",
    )
    assert held.returncode == 0
    assert "1 flag(s) held" in held.stdout
    assert (
        agegate("flags", "hold", "nobody", "--store", path, "--why", "x").returncode
        == 2
    )
    with SqliteFlagStore(path) as store:
        (stored,) = store.list(account_id=account)
    assert (stored.status, stored.resolved_by, stored.resolution_note) == (
        "held",
        "counsel",
        "litigation",
    )
    assert agegate("flags", "release", account, "--store", path).returncode == 0
    assert agegate("flags", "release", account, "--store", path).returncode == 2
    with SqliteFlagStore(path) as store:
        assert store.count("open") == len(MINORS)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("status", "gone-away"),
        ("action", "shred"),
        ("codes", "not json"),
        ("codes", '{"a": 1}'),
        ("account_id", b"raw"),
        ("fingerprint", b"raw"),
    ],
)
def test_flag_states_name_the_damaged_row_and_never_its_values(
    tmp_path: Path, column: str, value: object
) -> None:
    import sqlite3

    path = tmp_path / "f.sqlite"
    with SqliteFlagStore(path) as store:
        store.add_many(_flags())
        assert [s.codes for s in store.flag_states()] == [("MINOR_NOW",)] * len(MINORS)
    with sqlite3.connect(path) as db:
        db.execute(
            f"UPDATE flags SET {column} = ? WHERE rowid = 2",
            (value,),
        )
    db.close()
    with SqliteFlagStore(path) as store, pytest.raises(InputError) as raised:
        store.flag_states()
    message = str(raised.value)
    assert "row 2" in message
    assert "not as a flag store writes it" in message
    assert all(p.account_id not in message for p in MINORS)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("account_id", b"raw"),
        ("action", "shred"),
        ("jurisdiction", b"raw"),
        ("codes", "not json"),
        ("fingerprint", b"raw"),
        ("status", "gone"),
    ],
)
def test_flag_columns_name_the_damaged_row_and_never_its_values(
    tmp_path: Path, column: str, value: object
) -> None:
    import sqlite3

    path = tmp_path / "f.sqlite"
    with SqliteFlagStore(path) as store:
        store.add_many(_flags())
    with sqlite3.connect(path) as db:
        db.execute("UPDATE flags SET resolution_note = 'mark'")
        db.execute(f"UPDATE flags SET {column} = ? WHERE rowid = 2", (value,))
    db.close()
    with SqliteFlagStore(path) as store, pytest.raises(InputError) as raised:
        store.flag_columns("mark")
    message = str(raised.value)
    assert "row 2" in message
    assert "not as a flag store writes it" in message
    assert all(p.account_id not in message for p in MINORS)


def test_flag_columns_and_marked_read_the_flags_with_the_note(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "f.sqlite"
    with SqliteFlagStore(path) as store:
        store.add_many(_flags())
    with sqlite3.connect(path) as db:
        db.execute("UPDATE flags SET resolution_note = 'mark' WHERE rowid > 1")
        # Text as JSON would have to escape it, and an id with a NUL.
        db.execute(
            "UPDATE flags SET fingerprint = ?, account_id = ? WHERE rowid = 2",
            ('q"\\\n\u00e9\U0001f600', "a\x00b"),
        )
    db.close()
    with SqliteFlagStore(path) as store:
        columns = store.flag_columns("mark")
        listed, statuses = store.marked("mark")
        rows = [s for s in store.flag_states() if s.note == "mark"]
    ids = json.loads(listed)
    # In the order of their key, as a plan's MAC takes them.
    rows.sort(key=lambda s: (s.account_id, s.source))
    assert list(columns.account_ids) == [s.account_id for s in rows]
    assert sorted(ids) == sorted(columns.account_ids)
    assert "a\x00b" in ids
    assert list(columns.fingerprints) == [s.fingerprint for s in rows]
    assert list(columns.codes) == [s.codes for s in rows]
    assert list(columns.sources) == [s.source for s in rows]
    assert statuses == {"open"}
