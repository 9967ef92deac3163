"""`agegate remove` end to end, through the real command, on real files:
CSV, JSON Lines, Parquet and SQLite targets, the refusals, the replay after
a restore, and nothing personal in anything it writes or prints."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from removal_support import (
    ADULTS,
    MINORS,
    Chunks,
    agegate,
    file_bytes,
    flag_minors,
    personal_values,
    sqlite_rows,
    without,
    write_csv,
    write_index,
    write_jsonl,
    write_parquet,
    write_sqlite,
)

from agegate.flags import SqliteFlagStore


class Setup:
    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.store = tmp_path / "flags.sqlite"
        self.csv = tmp_path / "accounts.csv"
        self.jsonl = tmp_path / "events.jsonl"
        self.parquet = tmp_path / "users.parquet"
        self.sqlite = tmp_path / "app.sqlite"
        self.plan = tmp_path / "plan.json"
        flag_minors(self.store)
        self.csv_chunks: Chunks = write_csv(self.csv)
        self.jsonl_chunks: Chunks = write_jsonl(self.jsonl)
        write_parquet(self.parquet)
        write_sqlite(self.sqlite)
        self.outputs: list[str] = []

    def targets(self) -> list[str]:
        return [
            "--target", str(self.csv),
            "--target", str(self.jsonl),
            "--target", str(self.parquet),
            "--target", str(self.sqlite), "--table", "users",
        ]  # fmt: skip

    def cli(
        self, *args: str | Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = agegate(*args, env=env, cwd=self.dir)
        self.outputs += [done.stdout, done.stderr]
        return done

    def plan_it(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.cli(
            "remove",
            "plan",
            "--store",
            self.store,
            *self.targets(),
            "--out",
            self.plan,
            "--by",
            "author",
            *extra,
        )

    def approve(self, by: str = "second") -> None:
        done = self.cli("remove", "approve", self.plan, "--by", by)
        assert done.returncode == 0, done.stderr

    def run(
        self, *extra: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.cli(
            "remove", "run", self.plan, "--store", self.store, *extra, env=env
        )

    def statuses(self) -> set[str]:
        with SqliteFlagStore(self.store) as store:
            return {s.status for s in store.list()}

    def written(self) -> list[Path]:
        return [
            self.plan,
            Path(f"{self.plan}.journal.jsonl"),
            Path(f"{self.store}.receipts.jsonl"),
            Path(f"{self.store}.tombstones.jsonl"),
        ]


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def _sqlite_without_minors(
    original: list[tuple[object, ...]],
) -> list[tuple[object, ...]]:
    gone = {p.account_id for p in MINORS}
    return [row for row in original if row[1] not in gone]


def test_plan_approve_run_verify_removes_the_minors_and_nothing_else(
    setup: Setup,
) -> None:
    rows_before = sqlite_rows(setup.sqlite)
    parquet_before = pq.read_table(setup.parquet).to_pylist()
    planned = setup.plan_it()
    assert planned.returncode == 0, planned.stderr
    assert f"{setup.csv}: 5 row(s) of 5 account(s), of 13 row(s)" in planned.stdout
    # The plan changes no target.
    assert setup.csv.read_bytes() == b"".join(raw for _, raw in setup.csv_chunks)
    assert sqlite_rows(setup.sqlite) == rows_before
    assert setup.statuses() == {"planned"}
    setup.approve()
    done = setup.run("--four-eyes")
    assert done.returncode == 0, done.stderr
    assert setup.statuses() == {"erased"}
    # Every other record byte for byte (CSV, JSON Lines) or row for row.
    assert setup.csv.read_bytes() == without(setup.csv_chunks)
    assert setup.jsonl.read_bytes() == without(setup.jsonl_chunks)
    adults = {p.account_id for p in ADULTS}
    assert pq.read_table(setup.parquet).to_pylist() == [
        r for r in parquet_before if r["account_id"] in adults
    ]
    assert sqlite_rows(setup.sqlite) == _sqlite_without_minors(rows_before)
    checked = setup.cli("remove", "verify", setup.plan, "--store", setup.store)
    assert checked.returncode == 0, checked.stdout
    assert "0 row(s) left" in checked.stdout
    assert setup.statuses() == {"verified"}
    chain = setup.cli("remove", "receipts", "--store", setup.store, "--verify")
    assert chain.returncode == 0
    assert "chain holds: 4 entries" in chain.stdout


def test_the_sqlite_file_no_longer_holds_the_removed_rows_bytes(setup: Setup) -> None:
    assert all(v.encode() in file_bytes(setup.sqlite) for v in personal_values())
    setup.plan_it()
    setup.approve()
    assert setup.run().returncode == 0
    data = file_bytes(setup.sqlite)
    for value in personal_values():
        assert value.encode() not in data, value
    for person in ADULTS:
        assert person.email.encode() in data


def test_nothing_personal_in_plan_receipts_tombstones_journal_or_output(
    setup: Setup,
) -> None:
    setup.plan_it()
    setup.approve()
    setup.run()
    setup.cli("remove", "verify", setup.plan, "--store", setup.store)
    setup.cli("remove", "receipts", "--store", setup.store)
    texts = [p.read_text(encoding="utf-8") for p in setup.written()] + setup.outputs
    assert all(texts[:4])
    for value in personal_values(MINORS + ADULTS):
        for text in texts:
            assert value not in text, value


def test_an_unapproved_plan_and_four_eyes_refuse(setup: Setup) -> None:
    setup.plan_it()
    refused = setup.run()
    assert refused.returncode == 1
    assert "not approved" in refused.stderr
    setup.approve(by="author")
    refused = setup.run("--four-eyes")
    assert refused.returncode == 1
    assert "four-eyes" in refused.stderr
    assert setup.csv.read_bytes() == b"".join(raw for _, raw in setup.csv_chunks)
    assert setup.statuses() == {"planned"}


def test_an_approval_written_into_the_plan_by_hand_refuses(setup: Setup) -> None:
    # The author adds a second person's approval to the file: the receipts,
    # which only `remove approve` writes, do not hold it.
    setup.plan_it()
    setup.approve(by="author")
    plan = json.loads(setup.plan.read_text(encoding="utf-8"))
    forged = dict(plan["approvals"][0], by="second")
    plan["approvals"].append(forged)
    setup.plan.write_text(json.dumps(plan), encoding="utf-8")
    refused = setup.run("--four-eyes")
    assert refused.returncode == 1
    assert "not in the receipts" in refused.stderr
    assert setup.csv.read_bytes() == b"".join(raw for _, raw in setup.csv_chunks)
    # Approved for real by the second person, the same plan runs.
    plan["approvals"].pop()
    setup.plan.write_text(json.dumps(plan), encoding="utf-8")
    setup.approve(by="second")
    assert setup.run("--four-eyes").returncode == 0


def test_a_cap_refuses(setup: Setup) -> None:
    over = setup.plan_it("--max-accounts", "4")
    assert over.returncode == 1
    assert "more than --max-accounts 4" in over.stderr
    setup.approve()
    refused = setup.run()
    assert refused.returncode == 1
    assert "cap of 4" in refused.stderr
    setup.plan_it()
    setup.approve()
    refused = setup.run("--max-accounts", "2")
    assert refused.returncode == 1
    assert "cap of 2" in refused.stderr
    assert setup.csv.read_bytes() == b"".join(raw for _, raw in setup.csv_chunks)


def test_a_target_changed_after_the_plan_refuses_before_any_change(
    setup: Setup,
) -> None:
    rows_before = sqlite_rows(setup.sqlite)
    setup.plan_it()
    setup.approve()
    with setup.jsonl.open("ab") as out:
        out.write(b'{"account_id": "late-signup"}\n')
    refused = setup.run()
    assert refused.returncode == 1
    assert "changed since the plan" in refused.stderr
    assert setup.csv.read_bytes() == b"".join(raw for _, raw in setup.csv_chunks)
    assert sqlite_rows(setup.sqlite) == rows_before
    assert setup.statuses() == {"planned"}


def test_a_plan_edited_by_hand_fails_its_digest(setup: Setup) -> None:
    setup.plan_it()
    setup.approve()
    plan = json.loads(setup.plan.read_text(encoding="utf-8"))
    plan["targets"][0]["rows"] = 4
    setup.plan.write_text(json.dumps(plan), encoding="utf-8")
    refused = setup.run()
    assert refused.returncode == 2
    assert "digest does not match" in refused.stderr
    plan["targets"][0]["rows"] = 5
    source = next(iter(plan["flags"]))
    plan["flags"][source].pop()
    setup.plan.write_text(json.dumps(plan), encoding="utf-8")
    assert setup.run().returncode == 2


def test_a_hold_after_the_plan_refuses_and_keeps_the_flag_out(setup: Setup) -> None:
    setup.plan_it()
    setup.approve()
    held = setup.cli(
        "flags",
        "hold",
        MINORS[0].account_id,
        "--store",
        setup.store,
        "--why",
        "litigation",
        "--by",
        "counsel",
    )
    assert held.returncode == 0, held.stderr
    refused = setup.run()
    assert refused.returncode == 1
    assert "legal hold" in refused.stderr
    # A new plan leaves the held account out.
    replanned = setup.plan_it()
    assert "accounts: 4;" in replanned.stdout
    setup.approve()
    assert setup.run().returncode == 0
    assert MINORS[0].account_id.encode() in setup.csv.read_bytes()
    assert MINORS[1].account_id.encode() not in setup.csv.read_bytes()
    released = setup.cli(
        "flags", "release", MINORS[0].account_id, "--store", setup.store
    )
    assert released.returncode == 0
    with SqliteFlagStore(setup.store) as store:
        assert [s.status for s in store.list(account_id=MINORS[0].account_id)] == [
            "open"
        ]


def test_verify_finds_rows_put_back_and_fails_the_flags(setup: Setup) -> None:
    setup.plan_it()
    setup.approve()
    saved = setup.csv.read_bytes()
    setup.run()
    shutil.copy(setup.sqlite, setup.dir / "spare")
    setup.csv.write_bytes(saved)
    found = setup.cli("remove", "verify", setup.plan, "--store", setup.store)
    assert found.returncode == 1
    assert f"{setup.csv}: 5 row(s) left" in found.stdout
    assert setup.statuses() == {"failed"}


def test_restoring_the_old_files_then_replay_removes_the_same_accounts(
    setup: Setup,
) -> None:
    backup = setup.dir / "backup"
    backup.mkdir()
    for path in (setup.csv, setup.jsonl, setup.parquet, setup.sqlite):
        shutil.copy(path, backup / path.name)
    setup.plan_it()
    setup.approve()
    assert setup.run().returncode == 0
    after = {p: p.read_bytes() for p in (setup.csv, setup.jsonl)}
    rows_after = sqlite_rows(setup.sqlite)
    parquet_after = pq.read_table(setup.parquet).to_pylist()
    for path in (setup.csv, setup.jsonl, setup.parquet, setup.sqlite):
        shutil.copy(backup / path.name, path)
    tombstones = f"{setup.store}.tombstones.jsonl"
    replayed = setup.cli(
        "remove",
        "replay",
        "--tombstones",
        tombstones,
        "--store",
        setup.store,
        *setup.targets(),
    )
    assert replayed.returncode == 0, replayed.stderr
    assert "5 removed account(s) found again, 5 row(s) removed" in replayed.stdout
    assert {p: p.read_bytes() for p in after} == after
    assert sqlite_rows(setup.sqlite) == rows_after
    assert pq.read_table(setup.parquet).to_pylist() == parquet_after
    chain = setup.cli("remove", "receipts", "--store", setup.store, "--verify")
    assert "chain holds: 4 entries" in chain.stdout


def test_an_operator_eraser_by_module_and_by_entry_point(
    setup: Setup, tmp_path: Path
) -> None:
    index = tmp_path / "index.json"
    write_index(index)
    dist = tmp_path / "site" / "acme_erasers-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-erasers\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[agegate.erasers]\nsearch = removal_support:make_index_eraser\n"
    )
    env = {"AGEGATE_TEST_INDEX": str(index)}
    import os

    env["PYTHONPATH"] = os.pathsep.join(
        [
            str(Path(__file__).resolve().parent.parent),
            str(Path(__file__).resolve().parent),
            str(tmp_path / "site"),
        ]
    )
    for n, spec in enumerate(("removal_support:make_index_eraser", "search")):
        write_index(index)
        setup.store = tmp_path / f"flags-{n}.sqlite"
        flag_minors(setup.store)
        planned = setup.cli(
            "remove",
            "plan",
            "--store",
            setup.store,
            "--eraser",
            spec,
            "--out",
            setup.plan,
            env=env,
        )
        assert planned.returncode == 0, planned.stderr
        assert (
            f"eraser:{spec}: 5 row(s) of 5 account(s), of 13 row(s)" in planned.stdout
        )
        setup.approve()
        assert setup.run(env=env).returncode == 0
        docs = json.loads(index.read_text())
        assert sorted(docs) == sorted(p.account_id for p in ADULTS)
        verified = setup.cli(
            "remove", "verify", setup.plan, "--store", setup.store, env=env
        )
        assert verified.returncode == 0
    unknown = setup.cli(
        "remove",
        "plan",
        "--store",
        setup.store,
        "--eraser",
        "nothing",
        "--out",
        setup.plan,
    )
    assert unknown.returncode == 2
    assert "no eraser of that name" in unknown.stderr


def test_an_edited_receipt_breaks_the_chain(setup: Setup) -> None:
    setup.plan_it()
    setup.approve()
    setup.run()
    log = Path(f"{setup.store}.receipts.jsonl")
    lines = log.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"by":"second"', '"by":"someone"')
    log.write_text("".join(lines))
    broken = setup.cli("remove", "receipts", "--store", setup.store, "--verify")
    assert broken.returncode == 1
    assert "chain broken at entry 2" in broken.stdout
    log.write_text("".join(lines[:1] + lines[2:]))
    assert (
        setup.cli("remove", "receipts", "--store", setup.store, "--verify").returncode
        == 1
    )


def test_bad_targets_are_input_errors(setup: Setup) -> None:
    def plan(*targets: str) -> subprocess.CompletedProcess[str]:
        return setup.cli(
            "remove", "plan", "--store", setup.store, *targets, "--out", setup.plan
        )

    assert plan("--target", str(setup.sqlite)).returncode == 2
    assert plan("--target", str(setup.dir / "x.txt")).returncode == 2
    missing = plan("--target", str(setup.csv), "--id-column", "user")
    assert missing.returncode == 2
    assert "no column user" in missing.stderr
    assert plan("--target", str(setup.dir / "nope.csv")).returncode == 2
    assert plan().returncode == 2
    assert not setup.plan.exists()


def test_a_sqlite_row_added_for_a_flagged_account_refuses_the_run(setup: Setup) -> None:
    setup.plan_it()
    setup.approve()
    with sqlite3.connect(setup.sqlite) as db:
        db.execute(
            "INSERT INTO users (account_id, email) VALUES (?, ?)",
            (MINORS[0].account_id, "again@minors.example"),
        )
    db.close()
    refused = setup.run()
    assert refused.returncode == 1
    assert "app.sqlite:users changed since the plan" in refused.stderr
    assert setup.csv.read_bytes() == b"".join(raw for _, raw in setup.csv_chunks)


def test_a_newer_plan_takes_the_flags_from_an_older_one(setup: Setup) -> None:
    setup.plan_it()
    setup.approve()
    older = setup.plan.read_bytes()
    setup.plan_it()
    newer = setup.plan.read_bytes()
    setup.plan.write_bytes(older)
    refused = setup.run()
    assert refused.returncode == 1
    assert "newer plan" in refused.stderr
    setup.plan.write_bytes(newer)
    setup.approve()
    assert setup.run().returncode == 0


def test_approving_with_the_store_moves_the_flags_to_approved(setup: Setup) -> None:
    setup.plan_it()
    done = setup.cli(
        "remove", "approve", setup.plan, "--by", "second", "--store", setup.store
    )
    assert done.returncode == 0, done.stderr
    assert setup.statuses() == {"approved"}
    assert setup.run("--four-eyes").returncode == 0
    assert setup.statuses() == {"erased"}


def test_a_first_sqlite_target_is_checked_inside_its_own_delete(setup: Setup) -> None:
    def plan() -> None:
        done = setup.cli(
            "remove", "plan", "--store", setup.store, "--target", setup.sqlite,
            "--table", "users", "--target", setup.csv, "--out", setup.plan,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    plan()
    setup.approve()
    before = sqlite_rows(setup.sqlite)
    with sqlite3.connect(setup.sqlite) as db:
        db.execute("INSERT INTO users (account_id) VALUES (?)", (MINORS[1].account_id,))
    db.close()
    refused = setup.run()
    assert refused.returncode == 1
    assert "app.sqlite:users changed since the plan" in refused.stderr
    assert len(sqlite_rows(setup.sqlite)) == len(before) + 1
    assert setup.csv.read_bytes() == b"".join(raw for _, raw in setup.csv_chunks)
    with sqlite3.connect(setup.sqlite) as db:
        db.execute("DELETE FROM users WHERE id = (SELECT max(id) FROM users)")
    db.close()
    # Back as the plan saw it: the run goes ahead, checking it again.
    done = setup.run()
    assert done.returncode == 0, done.stderr
    assert sqlite_rows(setup.sqlite) == _sqlite_without_minors(before)


@pytest.mark.parametrize("first", [True, False], ids=["early erase", "last target"])
def test_a_sqlite_target_locked_by_its_app_refuses_by_name_and_runs_again(
    setup: Setup, first: bool
) -> None:
    # The app holds its database's write lock longer than the eraser waits
    # (10 s): the run ends with a reason an operator can act on, the
    # target as it was and the flags failed; once the lock is free the
    # same plan finishes.
    targets = setup.targets()
    if first:
        targets = ["--target", str(setup.sqlite), "--table", "users"]
    planned = setup.cli(
        "remove", "plan", "--store", setup.store, *targets, "--out", setup.plan,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    approved = setup.cli(
        "remove", "approve", setup.plan, "--by", "second", "--store", setup.store
    )
    assert approved.returncode == 0, approved.stderr
    before = sqlite_rows(setup.sqlite)
    app = sqlite3.connect(setup.sqlite, isolation_level=None)
    try:
        app.execute("BEGIN IMMEDIATE")
        refused = setup.run()
    finally:
        app.execute("ROLLBACK")
        app.close()
    assert refused.returncode == 2
    assert (
        "app.sqlite:users: SQLite refused the removal (SQLITE_BUSY)" in refused.stderr
    )
    assert "run again once it is free" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert sqlite_rows(setup.sqlite) == before
    assert setup.statuses() == {"failed"}
    done = setup.run()
    assert done.returncode == 0, done.stderr
    assert sqlite_rows(setup.sqlite) == _sqlite_without_minors(before)
    assert setup.statuses() == {"erased"}
    for value in personal_values():
        assert all(value not in output for output in setup.outputs)
