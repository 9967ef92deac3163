"""`agegate review --store`: re-runs converge, resolutions stick, kills are safe."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agegate.cli.main import main
from agegate.flags import SqliteFlagStore

SECRET = "a test key of enough bytes"
HEADER = ("id", "dob", "country", "region", "phone", "collected")


def _accounts(path: Path, count: int) -> Path:
    """`count` accounts: every third a minor, every seventh without a birthdate."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(count):
            year = 2012 if n % 3 == 0 else 1960 + n % 30
            dob = "" if n % 7 == 0 else f"{year}-{1 + n % 12:02d}-{1 + n % 28:02d}"
            country, region, area = (
                ("CA", "BC", "604") if n % 2 else ("US", "AL", "205")
            )
            phone = f"+1 {area} 555 01{n % 100:02d}"
            writer.writerow(
                (f"acct-{n:06d}", dob, country, region, phone, "2025-01-01")
            )
    return path


MAPS = (
    "--map=account_id=id",
    "--map=birthdate=dob",
    "--map=subdivision=region",
    "--map=collected_at=collected",
)


def _review(source: Path, store: Path, *extra: str) -> int:
    return main(
        [
            "review",
            str(source),
            *MAPS,
            "--today=2026-11-28",
            f"--store={store}",
            "--quiet",
            *extra,
        ]
    )


def _content(store: Path) -> list[tuple[Any, ...]]:
    """What a store holds, without the times at which it was written."""
    with SqliteFlagStore(store) as flags:
        return [
            (
                s.flag.account_id,
                s.flag.source,
                s.flag.codes,
                s.flag.action,
                s.flag.jurisdiction,
                s.flag.required_age,
                s.flag.fingerprint,
                s.status,
                s.resolved_by,
                s.resolution_note,
            )
            for s in flags.list()
        ]


def test_rerunning_adds_no_duplicate(tmp_path: Path) -> None:
    source = _accounts(tmp_path / "a.csv", 300)
    store = tmp_path / "flags.sqlite"
    assert _review(source, store) == 0
    first = _content(store)
    # Minors (n % 3 == 0) and missing birthdates (n % 7 == 0), once each.
    assert len(first) == 100 + 43 - 15
    assert _review(source, store) == 0
    assert _content(store) == first


def test_the_store_keeps_its_own_key(tmp_path: Path) -> None:
    source = _accounts(tmp_path / "a.csv", 30)
    store = tmp_path / "flags.sqlite"
    assert _review(source, store) == 0
    with SqliteFlagStore(store) as flags:
        key = flags.secret()
        fingerprints = {s.flag.fingerprint for s in flags.list()}
    assert len(key) == 32
    assert _review(source, store) == 0
    with SqliteFlagStore(store) as flags:
        assert flags.secret() == key
        assert {s.flag.fingerprint for s in flags.list()} == fingerprints


def _resolve(store: Path, account: str, status: str) -> int:
    return main(
        [
            "flags", "resolve", account, "--store", str(store), f"--status={status}",
            "--by=trust-and-safety", "--why=ticket 1234",
        ]
    )  # fmt: skip


def test_a_removed_account_found_again_reappears_and_a_dismissal_stays(
    tmp_path: Path,
) -> None:
    source = _accounts(tmp_path / "a.csv", 30)
    store = tmp_path / "flags.sqlite"
    assert _review(source, store, f"--secret={SECRET}") == 0
    assert _resolve(store, "acct-000003", "removed") == 0
    assert _resolve(store, "acct-000006", "dismissed") == 0
    # The removed account is still in the export: exit 4, status reappeared,
    # and who resolved it is kept.
    assert _review(source, store, f"--secret={SECRET}") == 4
    with SqliteFlagStore(store) as flags:
        (removed,) = flags.list(account_id="acct-000003")
        assert removed.status == "reappeared"
        assert removed.resolved_by == "trust-and-safety"
        (dismissed,) = flags.list(account_id="acct-000006")
        assert dismissed.status == "dismissed"
        assert flags.count("open") == len(_content(store)) - 2

    # Their data changes: the dismissal still stands; the reappeared flag
    # stays reappeared until it is resolved again.
    rows = source.read_text().splitlines()
    rows[4] = rows[4].replace("2012-04-04", "2012-04-05")
    rows[7] = rows[7].replace("2012-07-07", "2012-07-08")
    source.write_text("\n".join(rows) + "\n")
    assert _review(source, store, f"--secret={SECRET}") == 4
    with SqliteFlagStore(store) as flags:
        assert [s.status for s in flags.list(account_id="acct-000003")] == [
            "reappeared"
        ]
        assert [s.status for s in flags.list(account_id="acct-000006")] == ["dismissed"]
    assert _resolve(store, "acct-000003", "removed") == 0
    with SqliteFlagStore(store) as flags:
        assert [s.status for s in flags.list(account_id="acct-000003")] == ["removed"]


@pytest.mark.slow
def test_a_killed_review_leaves_a_store_a_rerun_completes(tmp_path: Path) -> None:
    source = _accounts(tmp_path / "big.csv", 30_000)
    killed = tmp_path / "killed.sqlite"
    clean = tmp_path / "clean.sqlite"
    command = [
        sys.executable,
        "-m",
        "agegate.cli",
        "review",
        str(source),
        *MAPS,
        "--today=2026-11-28",
        f"--secret={SECRET}",
        "--batch-size=100",
        "--quiet",
    ]
    process = subprocess.Popen(
        [*command, f"--store={killed}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if killed.exists() and _committed(killed) >= 200:
                break
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    part = _committed(killed)
    assert 0 < part < 10_000 + 30_000 // 7

    # Consistent as it stands, and a re-run converges on one clean run.
    with sqlite3.connect(killed) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert subprocess.run([*command, f"--store={killed}"], check=False).returncode == 0
    assert subprocess.run([*command, f"--store={clean}"], check=False).returncode == 0
    assert _content(killed) == _content(clean)
    assert len(_content(clean)) > part


def _committed(store: Path) -> int:
    try:
        with sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT count(*) FROM flags").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
