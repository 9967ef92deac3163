"""Removal with PostgreSQL on both sides: the flag store and a target table,
on the suite's own cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from removal_support import ADULTS, EVERYONE, MINORS, agegate, personal_values

from agegate.flags import Flag, PostgresFlagStore
from agegate.flags.lifecycle import FlagRef, StatusChange

PASSWORD = "throwaway-cluster-password"


def _table(url: str) -> None:
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(url) as db, db.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE users (id bigserial PRIMARY KEY, account_id text,"
            " email text, birthdate date, name text)"
        )
        for p in EVERYONE:
            cursor.execute(
                "INSERT INTO users (account_id, email, birthdate, name)"
                " VALUES ($1, $2, $3::date, $4)",
                (p.account_id, p.email, p.birthdate, p.name),
            )
        db.commit()


def _rows(url: str) -> list[tuple[Any, ...]]:
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(url) as db, db.cursor() as cursor:
        cursor.execute(
            "SELECT id, account_id, email, birthdate::text, name FROM users ORDER BY id"
        )
        return [tuple(row) for row in cursor.fetchall()]


def _flag(store: PostgresFlagStore) -> None:
    store.add_many(
        Flag(
            p.account_id,
            ("MINOR_NOW",),
            "remove",
            jurisdiction="GB",
            fingerprint=f"f{p.account_id}",
            source="profile",
        )
        for p in MINORS
    )


def test_a_postgres_table_and_store_go_through_the_whole_removal(
    pg_database: str, tmp_path: Path
) -> None:
    _table(pg_database)
    with PostgresFlagStore(pg_database) as store:
        _flag(store)
    before = _rows(pg_database)
    env = {"PGPASSWORD": PASSWORD}
    plan = tmp_path / "plan.json"
    outputs = []

    def cli(*args: str | Path) -> Any:
        done = agegate(*args, env=env, cwd=tmp_path)
        outputs.extend([done.stdout, done.stderr])
        return done

    planned = cli(
        "remove",
        "plan",
        "--store",
        pg_database,
        "--target",
        pg_database,
        "--table",
        "users",
        "--out",
        plan,
        "--by",
        "a",
    )
    assert planned.returncode == 0, planned.stderr
    assert "postgresql://agegate@127.0.0.1" in planned.stdout
    assert "users: 5 row(s) of 5 account(s), of 13 row(s)" in planned.stdout
    assert PASSWORD not in plan.read_text()
    assert cli("remove", "approve", plan, "--by", "b").returncode == 0
    done = cli("remove", "run", plan, "--store", pg_database, "--four-eyes")
    assert done.returncode == 0, done.stderr
    assert "VACUUM" in done.stdout
    gone = {p.account_id for p in MINORS}
    assert _rows(pg_database) == [row for row in before if row[1] not in gone]
    checked = cli("remove", "verify", plan, "--store", pg_database)
    assert checked.returncode == 0, checked.stdout
    with PostgresFlagStore(pg_database) as store:
        assert {s.status for s in store.list()} == {"verified"}
    receipts = Path(f"{plan}.receipts.jsonl").read_text()
    assert "VACUUM" in receipts
    written = [plan.read_text(), receipts, Path(f"{plan}.tombstones.jsonl").read_text()]
    for value in personal_values(EVERYONE):
        for text in written + outputs:
            assert value not in text
    for text in written + outputs:
        assert PASSWORD not in text
    assert len(_rows(pg_database)) == len(ADULTS)


def test_bulk_status_moves_and_the_upsert_leave_removal_flags_alone(
    pg_database: str,
) -> None:
    with PostgresFlagStore(pg_database) as store:
        _flag(store)
        refs = tuple(FlagRef(p.account_id, "profile") for p in MINORS)
        moved = store.set_status(
            StatusChange(refs[:3], ("open",), "planned", "ops", "plan x")
        )
        assert moved == 3
        # Only from the statuses named: the planned ones do not move again.
        assert (
            store.set_status(StatusChange(refs, ("open",), "held", "counsel", "hold"))
            == 2
        )
        # A review raising the flags anew on other data reopens none of them.
        store.add_many(
            Flag(
                p.account_id,
                ("MINOR_NOW", "REPORTED"),
                "remove",
                fingerprint="new",
                source="profile",
            )
            for p in MINORS
        )
        statuses = {s.flag.account_id: s.status for s in store.list()}
        assert sorted(statuses.values()) == [
            "held",
            "held",
            "planned",
            "planned",
            "planned",
        ]
        assert all(s.flag.codes == ("MINOR_NOW",) for s in store.list())
