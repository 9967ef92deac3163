"""A run whose first target is SQLite erases it early, beside its checks of
the flags: committed only once they passed, rolled back on a refusal, the
target then left as it was."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import attrs
import pytest
from removal_support import MINORS, flag_minors, sqlite_rows, write_csv, write_sqlite

from agegate.errors import InputError
from agegate.flags import SqliteFlagStore
from agegate.flags.lifecycle import hold
from agegate.removal import run as removal
from agegate.removal.plan import Plan, load_plan, read_plan, save_plan
from agegate.removal.run import (
    RemovalRefused,
    approve_plan,
    make_plan,
    run_plan,
    run_plan_file,
)
from agegate.removal.targets import target_of


class Files:
    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.store = tmp_path / "flags.sqlite"
        self.sqlite = tmp_path / "app.sqlite"
        self.csv = tmp_path / "accounts.csv"
        self.plan = str(tmp_path / "plan.json")
        flag_minors(self.store)
        write_sqlite(self.sqlite)
        write_csv(self.csv)
        self.rows = sqlite_rows(self.sqlite)

    def planned(self, store: SqliteFlagStore) -> Plan:
        targets = [
            target_of(str(self.sqlite), table="users"),
            target_of(str(self.csv)),
        ]
        plan = make_plan(
            store, targets, store_label="flags", by="author", max_accounts=None,
            receipts=str(self.dir / "receipts.jsonl"),
            tombstones=str(self.dir / "tombstones.jsonl"),
        )  # fmt: skip
        save_plan(plan, self.plan)
        approve_plan(self.plan, "second", store)
        return load_plan(self.plan)

    def without_minors(self) -> list[tuple[object, ...]]:
        gone = {p.account_id for p in MINORS}
        return [row for row in self.rows if row[1] not in gone]

    def journal(self) -> list[dict[str, Any]]:
        path = Path(f"{self.plan}.journal.jsonl")
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


def _started(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Notes each early erase a run starts."""
    started: list[bool] = []
    real = removal.EarlyErase

    def early(*args: Any) -> removal.EarlyErase:
        started.append(True)
        return real(*args)

    monkeypatch.setattr(removal, "EarlyErase", early)
    return started


def test_an_approved_plan_erases_its_first_target_early(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _started(monkeypatch)
    with SqliteFlagStore(files.store) as store:
        plan = files.planned(store)
        results = run_plan(plan, files.plan, store, by="operator")
        assert {s.status for s in store.list()} == {"erased"}
    assert started == [True]
    assert [r.removed for r in results] == [len(MINORS), len(MINORS)]
    assert sqlite_rows(files.sqlite) == files.without_minors()
    # The first target is recorded done last: its WAL is checkpointed
    # beside the rest of the run.
    steps = [(e["target"].split(":")[-1], e["step"]) for e in files.journal()]
    assert steps == [
        ("users", "started"),
        (str(files.csv), "started"),
        (str(files.csv), "done"),
        ("users", "done"),
    ]
    done = [e["rows"] for e in files.journal() if e["step"] == "done"]
    assert done == [len(MINORS)] * 2
    buried = Path(files.dir / "tombstones.jsonl").read_text().splitlines()
    assert len(json.loads(buried[0])["keys"]) == len(MINORS)


def test_a_hold_after_approval_rolls_the_early_erase_back(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _started(monkeypatch)
    with SqliteFlagStore(files.store) as store:
        plan = files.planned(store)
        hold(store, MINORS[0].account_id, by="counsel", why="litigation")
        with pytest.raises(RemovalRefused, match="legal hold"):
            run_plan(plan, files.plan, store, by="operator")
        statuses = {s.status for s in store.list()}
    # The held account is not among the ids the erase started from; the
    # erase ran and was rolled back.
    assert started == [True]
    assert sqlite_rows(files.sqlite) == files.rows
    assert statuses == {"approved", "held"}
    assert files.journal() == []


def test_flags_changed_between_the_two_reads_roll_the_erase_back(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SqliteFlagStore(files.store) as store:
        plan = files.planned(store)
        real = store.marked

        def fewer(note: str) -> tuple[str, frozenset[str]]:
            listed, statuses = real(note)
            return json.dumps(json.loads(listed)[1:]), statuses

        monkeypatch.setattr(store, "marked", fewer)
        with pytest.raises(RemovalRefused, match="flags changed"):
            run_plan(plan, files.plan, store, by="operator")
        assert {s.status for s in store.list()} == {"approved"}
    assert sqlite_rows(files.sqlite) == files.rows
    assert files.journal() == []


def test_a_target_changed_refuses_from_the_early_erase(files: Files) -> None:
    with SqliteFlagStore(files.store) as store:
        plan = files.planned(store)
        with sqlite3.connect(files.sqlite) as db:
            db.execute(
                "INSERT INTO users (account_id) VALUES (?)", (MINORS[1].account_id,)
            )
        db.close()
        changed = sqlite_rows(files.sqlite)
        with pytest.raises(RemovalRefused, match=r"app\.sqlite:users changed"):
            run_plan(plan, files.plan, store, by="operator")
        assert {s.status for s in store.list()} == {"approved"}
    assert sqlite_rows(files.sqlite) == changed
    assert [e["step"] for e in files.journal()] == ["started", "refused"]


def test_a_failure_of_the_checks_leaves_the_target_and_the_erase_unlocked(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SqliteFlagStore(files.store) as store:
        plan = files.planned(store)

        def broken(*args: Any, **kwargs: Any) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(removal, "_check_states", broken)
        with pytest.raises(OSError, match="disk full"):
            run_plan(plan, files.plan, store, by="operator")
    assert sqlite_rows(files.sqlite) == files.rows
    # Rolled back and closed: the target takes a write at once.
    with sqlite3.connect(files.sqlite, timeout=0) as db:
        db.execute("DELETE FROM users WHERE id = 1")
    db.close()
    monkeypatch.undo()
    with (
        SqliteFlagStore(files.store) as store,
        pytest.raises(RemovalRefused, match="changed since"),
    ):
        run_plan(plan, files.plan, store, by="operator")


def test_flags_still_planned_are_moved_first_and_erased_late(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _started(monkeypatch)
    with SqliteFlagStore(files.store) as store:
        plan = files.planned(store)
        store.set_status(
            removal._moved(("approved",), "planned", "author", plan.marker)
        )
        run_plan(plan, files.plan, store, by="operator")
        assert {s.status for s in store.list()} == {"erased"}
    assert started == []
    assert sqlite_rows(files.sqlite) == files.without_minors()


def test_a_plan_file_is_checked_beside_its_early_erase(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _started(monkeypatch)
    with SqliteFlagStore(files.store) as store:
        files.planned(store)
        data = json.loads(Path(files.plan).read_text(encoding="utf-8"))
        data["targets"][1]["rows"] += 1
        Path(files.plan).write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(InputError, match="digest does not match"):
            run_plan_file(read_plan(files.plan), store, by="operator")
        assert {s.status for s in store.list()} == {"approved"}
        assert started == [True]
        assert sqlite_rows(files.sqlite) == files.rows
        data["targets"][1]["rows"] -= 1
        Path(files.plan).write_text(json.dumps(data), encoding="utf-8")
        plan, results = run_plan_file(read_plan(files.plan), store, by="operator")
        assert {s.status for s in store.list()} == {"erased"}
    assert started == [True, True]
    assert plan.digest == data["digest"]
    assert [r.removed for r in results] == [len(MINORS), len(MINORS)]
    assert sqlite_rows(files.sqlite) == files.without_minors()


def test_an_unapproved_plan_file_refuses_and_rolls_back(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SqliteFlagStore(files.store) as store:
        files.planned(store)
        data = json.loads(Path(files.plan).read_text(encoding="utf-8"))
        data["approvals"] = []
        Path(files.plan).write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(RemovalRefused, match="not approved"):
            run_plan_file(read_plan(files.plan), store, by="operator")
        with pytest.raises(RemovalRefused, match="more than the cap"):
            run_plan(files.planned(store), files.plan, store, by="o", max_accounts=1)
        assert {s.status for s in store.list()} == {"approved"}
    assert sqlite_rows(files.sqlite) == files.rows
    assert files.journal() == []


def test_a_plan_checks_its_flags_by_their_mac_and_one_made_before_by_digest(
    files: Files,
) -> None:
    with SqliteFlagStore(files.store) as store:
        plan = files.planned(store)
        assert plan.flags_mac is not None
        # As a plan made before flags_mac: checked by its flags' digest.
        earlier = attrs.evolve(plan, flags_mac=None)
        assert "flags_mac" not in earlier.header()
        save_plan(earlier, files.plan)
        assert load_plan(files.plan).digest == earlier.digest
        accounts = removal.resolve(plan, store, removal.IN_REMOVAL)
        assert accounts.keys == plan.keys
        assert accounts.ids == {p.account_id for p in MINORS}
        with sqlite3.connect(files.store) as db:
            db.execute("UPDATE flags SET resolution_note = ?", (earlier.marker,))
        db.close()
        assert removal.resolve(earlier, store, removal.IN_REMOVAL) == accounts
        # A flag raised anew on other data (written by hand: the store's
        # own writer leaves a flag in removal as it is) fails both.
        with sqlite3.connect(files.store) as db:
            db.execute("UPDATE flags SET fingerprint = 'other' WHERE rowid = 3")
            db.execute("UPDATE flags SET resolution_note = ?", (plan.marker,))
        db.close()
        with pytest.raises(RemovalRefused, match="flags changed"):
            removal.resolve(plan, store, removal.IN_REMOVAL)
        with sqlite3.connect(files.store) as db:
            db.execute("UPDATE flags SET resolution_note = ?", (earlier.marker,))
        db.close()
        with pytest.raises(RemovalRefused, match="flags changed"):
            removal.resolve(earlier, store, removal.IN_REMOVAL)


def test_keys_put_into_a_plan_by_hand_fail_its_mac(files: Files) -> None:
    with SqliteFlagStore(files.store) as store:
        plan = files.planned(store)
        source, keys = next(iter(plan.flags.items()))
        # Its digest made again over the keys changed: only the MAC, under
        # the store's secret, still tells.
        forged = attrs.evolve(plan, flags={source: ("0" * 64, *keys[1:])})
        assert forged.digest != plan.digest
        with sqlite3.connect(files.store) as db:
            db.execute("UPDATE flags SET resolution_note = ?", (forged.marker,))
        db.close()
        with pytest.raises(RemovalRefused, match="flags changed"):
            removal.resolve(forged, store, removal.IN_REMOVAL)
