"""Removal speed: `agegate remove run` beside the same removal done by hand.

Erases FLAGGED accounts from a ROWS-row SQLite table and from a ROWS-row
CSV file. The baseline is what an operator would write without agegate,
given the ids in a text file: for SQLite the same DELETE (ids in a
temporary table, secure_delete on, a WAL checkpoint), for CSV a rewrite with
the csv module's reader and writer to a file renamed over the input. Both
sides are timed as whole processes (interpreter start, imports, reading the
flags, the work, fsync), in interleaved rounds on fresh copies of the same
files; medians are compared. agegate's side also checks the plan and the
targets' state, moves the flags' status and writes tombstones, a journal
and receipts.

Usage (from the repository root):

    python benchmarks/bench_removal.py [--rows 1000000] [--flagged 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agegate.flags import Flag, SqliteFlagStore  # noqa: E402

HAND_SQLITE = """
import sqlite3, sys
ids = open(sys.argv[2], encoding="utf-8").read().split()
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA secure_delete=ON")
db.execute("BEGIN IMMEDIATE")
db.execute("CREATE TEMP TABLE ids (id PRIMARY KEY) WITHOUT ROWID")
db.executemany("INSERT INTO ids VALUES (?)", ((i,) for i in ids))
db.execute("DELETE FROM users WHERE account_id IN (SELECT id FROM ids)")
db.execute("COMMIT")
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
"""
HAND_CSV = """
import csv, os, sys
ids = set(open(sys.argv[2], encoding="utf-8").read().split())
tmp = sys.argv[1] + ".tmp"
with open(sys.argv[1], newline="", encoding="utf-8") as src, \\
        open(tmp, "w", newline="", encoding="utf-8") as out:
    rows = csv.reader(src)
    writer = csv.writer(out)
    column = next(rows)
    writer.writerow(column)
    at = column.index("account_id")
    writer.writerows(row for row in rows if row[at] not in ids)
    out.flush()
    os.fsync(out.fileno())
os.replace(tmp, sys.argv[1])
"""


def _people(rows: int) -> list[tuple[str, str, str, str]]:
    rng = random.Random(7)
    return [
        (
            f"acct-{n:08d}",
            f"user{n}@mail.example",
            f"{rng.randint(1950, 2015)}-{rng.randint(1, 12):02d}"
            f"-{rng.randint(1, 28):02d}",
            f"Name {n} Surname",
        )
        for n in range(rows)
    ]


def _make(directory: Path, rows: int, flagged: int) -> list[str]:
    people = _people(rows)
    with sqlite3.connect(directory / "app.sqlite") as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, account_id TEXT,"
            " email TEXT, birthdate TEXT, name TEXT)"
        )
        db.executemany(
            "INSERT INTO users (account_id, email, birthdate, name) VALUES (?,?,?,?)",
            people,
        )
        db.execute("CREATE INDEX users_account ON users (account_id)")
    db.close()
    with open(directory / "accounts.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("account_id", "email", "birthdate", "name"))
        writer.writerows(people)
    ids = [p[0] for p in random.Random(11).sample(people, flagged)]
    (directory / "ids.txt").write_text("\n".join(ids), encoding="utf-8")
    with SqliteFlagStore(directory / "flags.sqlite") as store:
        store.add_many(
            Flag(i, ("MINOR_AT_COLLECTION",), "remove", jurisdiction="US-CA",
                 fingerprint=f"fp{i}")
            for i in ids
        )  # fmt: skip
    return ids


def _agegate(*args: str, cwd: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "agegate.cli", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _plans(pristine: Path, work: Path) -> None:
    """Plans against the work copies (their bytes are the pristine ones),
    each with a flag store of its own: a plan marks its flags, and a newer
    plan over the same flags would take them."""
    for name in ("app.sqlite", "accounts.csv"):
        shutil.copy(pristine / name, work / name)
    for kind, target in (("sqlite", ["app.sqlite", "--table", "users"]),
                         ("csv", ["accounts.csv"])):  # fmt: skip
        store = f"flags-{kind}.sqlite"
        shutil.copy(pristine / "flags.sqlite", work / store)
        _agegate("remove", "plan", "--store", store, "--target", *target,
                 "--out", f"plan-{kind}.json", "--by", "bench", cwd=work)  # fmt: skip
        _agegate("remove", "approve", f"plan-{kind}.json", "--by", "approver",
                 "--store", store, cwd=work)  # fmt: skip
        shutil.copy(work / store, pristine / f"planned-{store}")
    # The receipts hold the plans and their approvals, which a run checks.
    for receipts in work.glob("*.receipts.jsonl"):
        shutil.copy(receipts, pristine / receipts.name)


def _reset(pristine: Path, work: Path) -> None:
    for stale in work.glob("*.jsonl"):
        stale.unlink()
    for stale in work.glob("app.sqlite-*"):
        stale.unlink()
    shutil.copy(pristine / "app.sqlite", work / "app.sqlite")
    shutil.copy(pristine / "accounts.csv", work / "accounts.csv")
    for kind in ("sqlite", "csv"):
        store = f"flags-{kind}.sqlite"
        shutil.copy(pristine / f"planned-{store}", work / store)
    for receipts in pristine.glob("*.receipts.jsonl"):
        shutil.copy(receipts, work / receipts.name)


def _timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, cwd=cwd, check=True, capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--flagged", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    python = sys.executable
    cases = {
        "sqlite agegate": [python, "-m", "agegate.cli", "remove", "run",
                           "plan-sqlite.json", "--store", "flags-sqlite.sqlite"],
        "sqlite by hand": [python, "-c", HAND_SQLITE, "app.sqlite", "ids.txt"],
        "csv agegate": [python, "-m", "agegate.cli", "remove", "run",
                        "plan-csv.json", "--store", "flags-csv.sqlite"],
        "csv by hand": [python, "-c", HAND_CSV, "accounts.csv", "ids.txt"],
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as temp:
        pristine, work = Path(temp) / "pristine", Path(temp) / "work"
        pristine.mkdir()
        work.mkdir()
        started = time.perf_counter()
        _make(pristine, args.rows, args.flagged)
        shutil.copy(pristine / "ids.txt", work / "ids.txt")
        _plans(pristine, work)
        print(f"{args.rows} rows, {args.flagged} flagged; set-up"
              f" {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in cases}
        order = list(cases)
        for round_number in range(args.rounds):
            for name in order[round_number % 4 :] + order[: round_number % 4]:
                _reset(pristine, work)
                times[name].append(_timed(cases[name], work))
        medians = {name: statistics.median(found) for name, found in times.items()}
    for name, value in medians.items():
        print(f"{name:16} median {value:7.3f} s over {args.rounds} rounds")
    for store in ("sqlite", "csv"):
        ratio = medians[f"{store} by hand"] / medians[f"{store} agegate"]
        print(f"{store}: agegate runs at {ratio:.2f}x the speed by hand (goal >= 0.5x)")


if __name__ == "__main__":
    main()
