"""A run killed part-way (SIGKILL between targets, or while its early erase
is staged and not committed) and run again ends as an uninterrupted run
ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from removal_support import (
    ROOT,
    TESTS,
    agegate,
    flag_minors,
    sqlite_rows,
    write_csv,
    write_index,
    write_sqlite,
)

from agegate.flags import SqliteFlagStore


def _prepare(directory: Path) -> dict[str, str]:
    directory.mkdir()
    flag_minors(directory / "flags.sqlite")
    write_csv(directory / "accounts.csv")
    write_index(directory / "index.json")
    write_sqlite(directory / "app.sqlite")
    env = {"AGEGATE_TEST_INDEX": str(directory / "index.json")}
    planned = agegate(
        "remove", "plan", "--store", "flags.sqlite",
        "--target", "accounts.csv",
        "--eraser", "removal_support:make_index_eraser",
        "--target", "app.sqlite", "--table", "users",
        "--out", "plan.json", "--by", "author",
        env=env, cwd=directory,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    approved = agegate("remove", "approve", "plan.json", "--by", "other", cwd=directory)
    assert approved.returncode == 0
    return env


def _run(directory: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return agegate(
        "remove", "run", "plan.json", "--store", "flags.sqlite", env=env, cwd=directory
    )


def _outcome(directory: Path) -> dict[str, object]:
    with SqliteFlagStore(directory / "flags.sqlite") as store:
        statuses = sorted(s.status for s in store.list())
    tombstones = (directory / "flags.sqlite.tombstones.jsonl").read_text()
    return {
        "csv": (directory / "accounts.csv").read_bytes(),
        "index": json.loads((directory / "index.json").read_text())
        if (directory / "index.json").exists()
        else None,
        "sqlite": sqlite_rows(directory / "app.sqlite"),
        "statuses": statuses,
        # Each store has its own secret: the keys differ, their number not.
        "tombstones": len(
            {k for x in tombstones.splitlines() for k in json.loads(x)["keys"]}
        ),
        "tombstone_lines": len(tombstones.splitlines()),
    }


def test_a_run_killed_between_targets_and_run_again_ends_the_same(
    tmp_path: Path,
) -> None:
    reference = tmp_path / "reference"
    env = _prepare(reference)
    assert _run(reference, env).returncode == 0

    killed = tmp_path / "killed"
    env = _prepare(killed)
    before_sqlite = sqlite_rows(killed / "app.sqlite")
    marker = tmp_path / "erasing"
    child = subprocess.Popen(
        [sys.executable, "-m", "agegate.cli", "remove", "run", "plan.json",
         "--store", "flags.sqlite"],
        cwd=killed,
        env={**os.environ, **env, "AGEGATE_TEST_BLOCK": str(marker),
             "PYTHONPATH": f"{ROOT}{os.pathsep}{TESTS}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the run ended before the second target"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    # The first target is done, the third untouched, the flags approved.
    assert (killed / "accounts.csv").read_bytes() == (
        reference / "accounts.csv"
    ).read_bytes()
    assert sqlite_rows(killed / "app.sqlite") == before_sqlite
    with SqliteFlagStore(killed / "flags.sqlite") as store:
        assert {s.status for s in store.list()} == {"approved"}

    again = _run(killed, env)
    assert again.returncode == 0, again.stderr
    assert _outcome(killed) == _outcome(reference)
    # Run once more: nothing changes, nothing is refused.
    assert _run(killed, env).returncode == 0
    assert _outcome(killed) == _outcome(reference)


def _prepare_sqlite_first(directory: Path) -> None:
    directory.mkdir()
    flag_minors(directory / "flags.sqlite")
    write_csv(directory / "accounts.csv")
    write_sqlite(directory / "app.sqlite")
    planned = agegate(
        "remove", "plan", "--store", "flags.sqlite",
        "--target", "app.sqlite", "--table", "users",
        "--target", "accounts.csv", "--out", "plan.json", "--by", "author",
        cwd=directory,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    # Approved with the store: the run erases its SQLite target early.
    approved = agegate(
        "remove", "approve", "plan.json", "--by", "other", "--store", "flags.sqlite",
        cwd=directory,
    )  # fmt: skip
    assert approved.returncode == 0, approved.stderr


def test_a_run_killed_while_its_early_erase_is_open_ends_the_same(
    tmp_path: Path,
) -> None:
    import sqlite3

    reference = tmp_path / "reference"
    _prepare_sqlite_first(reference)
    assert _run(reference, {}).returncode == 0
    killed = tmp_path / "killed"
    _prepare_sqlite_first(killed)
    before = sqlite_rows(killed / "app.sqlite")
    # The receipts made a FIFO: the run, reading them to check the
    # approvals, waits there, its erase staged and not committed.
    receipts = killed / "flags.sqlite.receipts.jsonl"
    kept = receipts.read_bytes()
    receipts.unlink()
    os.mkfifo(receipts)
    child = subprocess.Popen(
        [sys.executable, "-m", "agegate.cli", "remove", "run", "plan.json",
         "--store", "flags.sqlite"],
        cwd=killed,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{TESTS}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert child.poll() is None
            assert time.monotonic() < deadline
            # The staged erase holds the target's write lock.
            try:
                with sqlite3.connect(killed / "app.sqlite", timeout=0) as db:
                    db.execute("BEGIN IMMEDIATE")
                    db.execute("ROLLBACK")
            except sqlite3.OperationalError:
                break
            finally:
                db.close()
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    # Nothing was committed: the target as it was, the flags approved.
    assert sqlite_rows(killed / "app.sqlite") == before
    with SqliteFlagStore(killed / "flags.sqlite") as store:
        assert {s.status for s in store.list()} == {"approved"}
    receipts.unlink()
    receipts.write_bytes(kept)
    again = _run(killed, {})
    assert again.returncode == 0, again.stderr
    assert _outcome(killed) == _outcome(reference)
