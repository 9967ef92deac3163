"""PostgreSQL as a review input and as the flag store, against a real server
(the session's throwaway cluster, see conftest)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from agegate.cli.main import main
from agegate.flags import PostgresFlagStore, open_sink, open_store
from agegate.flags.model import Flag
from agegate.review.readers import Row, read_csv

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TODAY = "2026-11-28"
SECRET = "a test key of enough bytes for postgres"
MAPS = (
    "--map=account_id=user_id",
    "--map=birthdate=dob",
    "--map=age=declared_age",
    "--map=subdivision=region",
    "--map=collected_at=created_at",
)
# Rows no CSV of the examples has: typed columns, NULLs, odd dates.
MESSY = (
    ("m-1", "2013-02-29", None, "CA", "BC", None, "2025-01-01T10:00:00Z"),
    ("m-2", "2012-07-01", None, "US", "AL", "+1 205 555 0100", "2031-01-01"),
    ("m-3", None, "12", "FR", None, None, "2024-06-01"),
    ("m-4", "2011-13-01", None, "DE", None, None, None),
    ("m-5", "2014-03-03", None, "XX", "ZZ", "not a phone", "2024-01-01"),
    ("m-6", "1990-01-01", None, "CA", "QC", "+1 514 555 0199", None),
)


def _adbc(url: str) -> Any:
    import adbc_driver_postgresql.dbapi as adbc

    return adbc.connect(url)


def _load_examples(url: str) -> list[str]:
    """examples/accounts.csv (its readable rows, `id` = the CSV line) and the
    messy rows, in a table `accounts`; returns its columns."""
    stream = read_csv(EXAMPLES / "accounts.csv")
    columns = list(stream.columns)
    rows = [
        (item.line, *[item.values.get(c) for c in columns])
        for item in stream
        if isinstance(item, Row)
    ]
    first = len(rows) + 1000
    rows += [(first + n, *messy) for n, messy in enumerate(MESSY)]
    names = ", ".join(f'"{c}" text' for c in columns)
    places = ", ".join(f"${n + 1}" for n in range(len(columns) + 1))
    with _adbc(url) as db, db.cursor() as cur:
        cur.execute(f"CREATE TABLE accounts (id bigint PRIMARY KEY, {names})")
        cur.executemany(f"INSERT INTO accounts VALUES ({places})", rows)
        db.commit()
    return columns


def _as_csv(url: str, path: Path, columns: list[str]) -> None:
    """The table as the CSV export the same rows make (NULL: empty)."""
    import csv

    with _adbc(url) as db, db.cursor() as cur:
        cur.execute(f"SELECT id, {', '.join(columns)} FROM accounts ORDER BY id")
        rows = cur.fetchall()
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", *columns])
        writer.writerows(["" if v is None else v for v in row] for row in rows)


def _review(
    source: str, tmp_path: Path, *extra: str
) -> tuple[int, list[dict[str, Any]]]:
    out = tmp_path / f"flags-{len(list(tmp_path.iterdir()))}.jsonl"
    code = main(
        [
            "review",
            source,
            *MAPS,
            f"--today={TODAY}",
            f"--secret={SECRET}",
            f"--flags-out={out}",
            "--quiet",
            *extra,
        ]
    )
    flags = [json.loads(line) for line in out.read_text().splitlines()]
    return code, flags


def _essence(flag: dict[str, Any]) -> tuple[Any, ...]:
    return (
        *tuple(
            flag[k]
            for k in ("account_id", "codes", "action", "jurisdiction", "required_age")
        ),
        flag.get("fingerprint"),
    )


def test_a_table_gives_the_flags_of_its_csv_export(
    pg_database: str, tmp_path: Path
) -> None:
    columns = _load_examples(pg_database)
    export = tmp_path / "export.csv"
    _as_csv(pg_database, export, columns)
    code, from_csv = _review(str(export), tmp_path)
    assert code == 0
    code, from_pg = _review(pg_database, tmp_path, "--table=accounts")
    assert code == 0
    assert len(from_pg) > 20
    assert [_essence(f) for f in from_pg] == [_essence(f) for f in from_csv]
    # The primary key is each flag's rowid.
    with _adbc(pg_database) as db, db.cursor() as cur:
        cur.execute("SELECT id, user_id FROM accounts")
        owners = dict(cur.fetchall())
    assert all(f["rowid"] in owners for f in from_pg)
    named = [f for f in from_pg if not f["account_id"].startswith("anon-")]
    assert all(owners[f["rowid"]] == f["account_id"] for f in named)
    codes = {code for f in from_pg for code in f["codes"]}
    assert {"COLLECTED_AT_INVALID", "BIRTHDATE_INVALID"} <= codes


def test_typed_columns_read_as_their_csv_text(pg_database: str, tmp_path: Path) -> None:
    with _adbc(pg_database) as db, db.cursor() as cur:
        cur.execute(
            "CREATE TABLE people (user_id text PRIMARY KEY, dob date,"
            " country text, region text, created_at timestamptz)"
        )
        cur.execute(
            "INSERT INTO people VALUES ('t-1', '2012-05-04', 'CA', 'BC',"
            " '2025-01-01 23:30:00-05'), ('t-2', '1980-01-01', 'CA', 'BC', NULL)"
        )
        db.commit()
    export = tmp_path / "people.csv"
    export.write_text(
        "user_id,dob,country,region,created_at\n"
        "t-1,2012-05-04,CA,BC,2025-01-02T04:30:00Z\nt-2,1980-01-01,CA,BC,\n"
    )
    base = [f"--today={TODAY}", f"--secret={SECRET}", "--quiet"]
    outputs = []
    for source, extra in ((str(export), []), (pg_database, ["--table=people"])):
        out = tmp_path / f"{len(outputs)}.jsonl"
        argv = ["review", source, "--map=account_id=user_id", "--map=birthdate=dob"]
        argv += ["--map=subdivision=region", "--map=collected_at=created_at"]
        assert main([*argv, *base, *extra, f"--flags-out={out}"]) == 0
        outputs.append([_essence(json.loads(x)) for x in out.read_text().splitlines()])
    assert outputs[0] == outputs[1]
    assert [f[0] for f in outputs[1]] == ["t-1"]


def test_a_query_input(pg_database: str, tmp_path: Path) -> None:
    _load_examples(pg_database)
    code, everything = _review(pg_database, tmp_path, "--table=accounts")
    query = "SELECT * FROM accounts WHERE country = 'CA';"
    code, canadian = _review(pg_database, tmp_path, f"--query={query}", "--key=id")
    assert code == 0
    with _adbc(pg_database) as db, db.cursor() as cur:
        cur.execute("SELECT id FROM accounts WHERE country = 'CA'")
        chosen = {row[0] for row in cur.fetchall()}
    expected = [f for f in everything if f["rowid"] in chosen]
    assert [(*_essence(f), f["rowid"]) for f in canadian] == [
        (*_essence(f), f["rowid"]) for f in expected
    ]
    assert 0 < len(canadian) < len(everything)


def test_a_query_that_writes_is_refused(
    pg_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _load_examples(pg_database)
    with _adbc(pg_database) as db, db.cursor() as cur:
        cur.execute("CREATE SEQUENCE s")
        db.commit()
    query = "SELECT *, nextval('s') FROM accounts"
    assert main(["review", pg_database, f"--query={query}", *MAPS, "--quiet"]) == 2
    with _adbc(pg_database) as db, db.cursor() as cur:
        cur.execute("SELECT last_value, is_called FROM s")
        assert cur.fetchone() == (1, False)
    assert "read" in capsys.readouterr().err


def test_a_missing_column_is_exit_2_naming_it(
    pg_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _load_examples(pg_database)
    argv = ["review", pg_database, "--table=accounts", "--map=birthdate=born"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--map birthdate=born: no such column" in err
    assert "user_id" in err
    assert "created_at" in err


def test_an_unknown_table_lists_the_tables(
    pg_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _load_examples(pg_database)
    assert main(["review", pg_database, "--table=acounts", *MAPS]) == 2
    assert "no such table or view; tables: accounts" in capsys.readouterr().err


def test_a_wrong_password_is_exit_2_and_never_printed(
    pg_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "Wr0ng-Passw0rd-xyz"
    url = pg_server.url().replace(pg_server.password, wrong)
    assert main(["review", url, "--table=accounts", *MAPS]) == 2
    out, err = capsys.readouterr()
    assert "password authentication failed" in err
    assert wrong not in out + err
    assert ":***@" in err


def test_the_password_is_masked_in_the_summary(
    pg_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _load_examples(pg_database)
    summary = tmp_path / "summary.json"
    argv = ["review", pg_database, "--table=accounts", *MAPS, f"--today={TODAY}"]
    assert main([*argv, f"--summary={summary}"]) == 0
    about = json.loads(summary.read_text())
    assert about["format"] == "postgresql"
    assert ":***@" in about["input"]
    password = pg_database.split(":")[2].split("@")[0]
    assert password not in summary.read_text()
    assert password not in "".join(capsys.readouterr())


def test_credentials_from_pgpassword(
    pg_server: Any, pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load_examples(pg_database)
    database = pg_database.rsplit("/", 1)[1]
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    code, flags = _review(
        pg_server.url(database, password=False), tmp_path, "--table=accounts"
    )
    assert code == 0
    assert flags


# -- the flag store -------------------------------------------------------------


def _set_status(url: str, account: str, status: str) -> None:
    """A status another part of the lifecycle set (a hold, a removal plan)."""
    with _adbc(url) as db, db.cursor() as cur:
        cur.execute(
            "UPDATE flags SET status = $1 WHERE account_id = $2", (status, account)
        )
        db.commit()


def test_the_store_keeps_the_sqlite_lifecycle(pg_database: str) -> None:
    with open_store(pg_database) as store:
        flag = Flag(account_id="a-1", codes=("PROFILE_UNDERAGE",), action="remove")
        store.add(flag)
        store.add(flag)
        assert [s.status for s in store.list()] == ["open"]
        assert store.resolve("a-1", "dismissed", by="ops", why="adult") == 1
        # Raised again on the same data: the resolution stands.
        store.add(flag)
        assert [s.status for s in store.list()] == ["dismissed"]
        # A dismissal made on purpose stands, even on changed data.
        store.add(Flag(account_id="a-1", codes=("X",), action="remove"))
        assert [s.status for s in store.list()] == ["dismissed"]
        assert store.statuses(["a-1", "none"], source="review") == {"dismissed": 1}
        # A removed account raised again is still there: reappeared, whoever
        # resolved it kept, until it is resolved again.
        removed = Flag(account_id="a-2", codes=("PROFILE_UNDERAGE",), action="remove")
        store.add(removed)
        assert store.resolve("a-2", "removed", by="ops", why="deleted") == 1
        store.add(removed)
        [again] = store.list(account_id="a-2")
        assert (again.status, again.resolved_by) == ("reappeared", "ops")
        assert store.resolve("a-2", "removed", by="ops", why="deleted again") == 1
        for status in ("held", "planned", "approved", "failed"):
            _set_status(pg_database, "a-2", status)
            store.add(Flag(account_id="a-2", codes=("Y",), action="remove"))
            assert [s.status for s in store.list(account_id="a-2")] == [status]
        # Erased or verified by a removal, yet found again: a copy was missed.
        for status in ("erased", "verified"):
            _set_status(pg_database, "a-2", status)
            store.add(Flag(account_id="a-2", codes=("Y",), action="remove"))
            assert [s.status for s in store.list(account_id="a-2")] == ["reappeared"]
        _set_status(pg_database, "a-1", "open")
        from datetime import UTC, datetime

        assert store.clear(["a-1", "none"], at=datetime.now(UTC)) == 1
        [cleared] = store.list(account_id="a-1")
        assert cleared.status == "cleared"
        assert cleared.resolution_note == "condition no longer found"
        assert store.secret() == store.secret()
    with _adbc(pg_database) as db, db.cursor() as cur:
        cur.execute("SELECT version FROM schema_version")
        assert cur.fetchall() == [(1,)]


def test_review_store_and_flags_commands(
    pg_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _load_examples(pg_database)
    argv = ["review", pg_database, "--table=accounts", *MAPS, f"--today={TODAY}"]
    assert main([*argv, f"--store={pg_database}", "--quiet"]) == 0
    assert main([*argv, f"--store={pg_database}", "--quiet"]) == 0
    with open_store(pg_database, existing=True) as store:
        flags = list(store.list())
    assert flags
    assert all(s.status == "open" for s in flags)
    assert len({s.flag.account_id for s in flags}) == len(flags)
    capsys.readouterr()
    assert main(["flags", "list", f"--store={pg_database}"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(flags) + 1
    first = flags[0].flag.account_id
    resolve = ["flags", "resolve", first, "--status=removed", "--by=ops", "--why=x"]
    assert main([*resolve, f"--store={pg_database}"]) == 0
    assert main(["flags", "show", first, f"--store={pg_database}"]) == 0
    assert '"status": "removed"' in capsys.readouterr().out
    out = tmp_path / "export.csv"
    assert main(["flags", "export", f"--store={pg_database}", f"--out={out}"]) == 0
    assert len(out.read_text().splitlines()) == len(flags) + 1


def test_flags_commands_refuse_a_database_without_a_store(
    pg_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["flags", "list", f"--store={pg_database}"]) == 2
    assert "no flag store in this database" in capsys.readouterr().err


# -- concurrent writers ---------------------------------------------------------

GATE_APP = textwrap.dedent(
    """
    import os
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from agegate import AgeGateMiddleware, load_rules

    async def update(request):
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/accounts/{account_id}", update, methods=["PUT"])])
    app.add_middleware(
        AgeGateMiddleware,
        paths=[],
        profile_paths=["/accounts/{account_id}"],
        flag_sink=os.environ["FLAG_STORE"],
        secret="a gate key that is long enough 0123456789",
        rules=load_rules(),
        account_of=lambda scope: scope["path"].rsplit("/", 1)[1],
    )
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_gate(app_dir: Path, url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "FLAG_STORE": url, "PYTHONPATH": str(app_dir)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "gate_app:app",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(base + "/", timeout=1)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("the gate did not start")


def _hammer(base: str, ids: list[str], statuses: list[int]) -> None:
    body = {"birthdate": "2014-01-01", "country": "CA", "subdivision": "BC"}
    with httpx.Client(base_url=base, timeout=30) as client:
        for account in ids:
            statuses.append(client.put(f"/accounts/{account}", json=body).status_code)


def test_two_gates_and_a_review_share_one_store(
    pg_database: str, tmp_path: Path
) -> None:
    _load_examples(pg_database)
    (tmp_path / "gate_app.py").write_text(GATE_APP)
    # Each gate flags its own accounts and, twice over, the shared ones.
    shared = [f"shared-{n}" for n in range(40)]
    plans = [[f"g{g}-{n}" for n in range(60)] + shared + shared for g in (0, 1)]
    gates = [_start_gate(tmp_path, pg_database) for _ in plans]
    statuses: list[int] = []
    try:
        threads = [
            threading.Thread(target=_hammer, args=(base, plan, statuses))
            for (_, base), plan in zip(gates, plans, strict=True)
        ]
        for thread in threads:
            thread.start()
        argv = ["review", pg_database, "--table=accounts", *MAPS, f"--today={TODAY}"]
        for _ in range(3):
            assert (
                main(
                    [
                        *argv,
                        f"--store={pg_database}",
                        f"--secret={SECRET}",
                        "--batch-size=7",
                    ]
                )
                == 0
            )
        for thread in threads:
            thread.join()
    finally:
        for process, _ in gates:
            process.terminate()
            process.wait(timeout=10)
    assert len(statuses) == sum(len(plan) for plan in plans)
    assert set(statuses) == {403}
    with open_store(pg_database, existing=True) as store:
        stored = list(store.list())
    gate_flags = [
        s.flag.account_id for s in stored if s.flag.source == "profile_update"
    ]
    expected = {account for plan in plans for account in plan}
    assert sorted(gate_flags) == sorted(expected)
    review_flags = [s.flag.account_id for s in stored if s.flag.source == "review"]
    _code, alone = _review(pg_database, tmp_path, "--table=accounts")
    assert sorted(review_flags) == sorted(f["account_id"] for f in alone)


def test_the_gate_sink_reconnects_after_a_failure(pg_database: str) -> None:
    sink = open_sink(pg_database)
    assert isinstance(sink, PostgresFlagStore)
    flag = Flag(account_id="r-1", codes=("PROFILE_UNDERAGE",), action="remove")
    sink.add(flag)
    # Every connection of the database is cut: the next write opens a new one.
    with _adbc(pg_database) as db, db.cursor() as cur:
        name = pg_database.rsplit("/", 1)[1]
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            (name,),
        )
        cur.fetchall()
    with pytest.raises(Exception):  # noqa: B017, PT011 - the broken connection's error
        sink.add(Flag(account_id="r-2", codes=("X",), action="remove"))
    sink.add(Flag(account_id="r-2", codes=("X",), action="remove"))
    sink.close()
    with open_store(pg_database, existing=True) as store:
        assert [s.flag.account_id for s in store.list()] == ["r-1", "r-2"]


# -- the columnar engine and key ranges -----------------------------------------

# Rows to trip the columnar engine where the row engine is the oracle: blank
# and padded values, other date and time shapes, phones of every kind.
ADVERSARIAL = (
    ("x-1", " 2012-05-04 ", " 9 ", " ca ", " bc ", " +1 604 555 0100 ", " 2024-01-01 "),
    ("x-2", "", "", "", "", "", ""),
    ("x-3", "2012-5-4", "abc", "US", "CA", "(604) 555-0100", "2024-01-01T25:00:00Z"),
    ("x-4", "0001-01-01", "-1", "FR", "", "+33 1 23 45 67 89", "2024-02-30"),
    ("x-5", "9999-12-31", "200", "GB", "ENG", "+44 20 7946 0958", "2026-11-28T23:59:59+14:00"),
    ("x-6", "2015-02-28", None, "BR", "SP", "+55 11 91234 5678", "2025-12-31T23:00:00-11:00"),
    ("x-7", "2010-11-29", "15", "CA", "QC", "+1 999 555 0100", "2020-01-01T00:00:00Z"),
    (None, "2013-08-08", None, "DE", None, "+49 30 1234567", "2019-07-07"),
    ("x-9", "2008-11-28", "17", "ÉTATS", "Ω", "+٣٣ 1 23", "2024-01-01T12:00:00.5Z"),
)  # fmt: skip


def _load_adversarial(url: str) -> None:
    with _adbc(url) as db, db.cursor() as cur:
        cur.execute("SELECT max(id) FROM accounts")
        row = cur.fetchone()
        first = int(row[0]) + 7 if row is not None else 1
        rows = [(first + 3 * n, *values) for n, values in enumerate(ADVERSARIAL)]
        cur.executemany(
            "INSERT INTO accounts (id, user_id, dob, declared_age, country, region,"
            " phone, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            rows,
        )
        db.commit()


def _counted(
    source: str, tmp_path: Path, *extra: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The flags (but the time each was raised) and the summary's counts."""
    summary = tmp_path / f"summary-{len(list(tmp_path.iterdir()))}.json"
    code, flags = _review(source, tmp_path, f"--summary={summary}", *extra)
    assert code == 0
    for flag in flags:
        del flag["raised_at"]
    counts = json.loads(summary.read_text())
    kept = ("rows_read", "rows_screened", "rows_unreadable", "accounts_flagged")
    kept += ("by_code", "by_action", "by_jurisdiction", "unreadable")
    return flags, {k: counts[k] for k in kept}


def test_both_engines_read_a_table_as_its_csv_export(
    pg_database: str, tmp_path: Path
) -> None:
    columns = _load_examples(pg_database)
    _load_adversarial(pg_database)
    export = tmp_path / "export.csv"
    _as_csv(pg_database, export, columns)
    by_csv, csv_counts = _counted(str(export), tmp_path)
    table = (pg_database, tmp_path, "--table=accounts")
    columnar, columnar_counts = _counted(*table)
    rows, rows_counts = _counted(*table, "--engine=rows")
    assert columnar == rows
    assert columnar_counts == rows_counts
    assert [_essence(f) for f in columnar] == [_essence(f) for f in by_csv]
    for name in ("rows_read", "rows_screened", "accounts_flagged", "by_code"):
        assert columnar_counts[name] == csv_counts[name]
    # The integer key is the rowid; ids of the adversarial rows among them.
    flagged = {f["account_id"]: f["rowid"] for f in columnar}
    assert {"x-1", "x-3", "x-6"} <= set(flagged)
    with _adbc(pg_database) as db, db.cursor() as cur:
        cur.execute("SELECT user_id, id FROM accounts WHERE user_id LIKE 'x-%'")
        assert all(flagged[a] == i for a, i in cur.fetchall() if a in flagged)
    assert all(f["line"] is None for f in columnar)


@pytest.mark.parametrize("engine", ["columnar", "rows"])
def test_two_workers_give_the_flags_and_counts_of_one(
    pg_database: str, tmp_path: Path, engine: str
) -> None:
    _load_examples(pg_database)
    _load_adversarial(pg_database)
    table = (pg_database, tmp_path, "--table=accounts", f"--engine={engine}")
    one = _counted(*table, "--batch-size=17")
    two = _counted(*table, "--batch-size=17", "--workers=2")
    assert one == two
    assert [f["rowid"] for f in two[0]] == sorted(f["rowid"] for f in two[0])
    # A query is read by one reader, with the same flags.
    query = ("--query=SELECT * FROM accounts", "--key=id")
    assert _counted(pg_database, tmp_path, *query, "--workers=2") == one


def test_a_split_reads_one_snapshot_in_key_ranges(pg_database: str) -> None:
    from agegate.review.batches import WHOLE
    from agegate.review.postgres import open_source

    _load_examples(pg_database)
    source = open_source(pg_database, table="accounts")
    with _adbc(pg_database) as db, db.cursor() as cur:
        cur.execute("SELECT count(*), max(id) FROM accounts")
        total, top = cur.fetchone() or (0, 0)
    wanted = ("user_id",)
    source = source.stream(wanted, 50).source
    with source.split(3) as (split, cut):
        assert split.snapshot is not None
        assert 3 < len(cut) <= 12
        assert cut[0][2] == 1
        # A row committed now is not in the snapshot the workers read.
        with _adbc(pg_database) as db, db.cursor() as cur:
            cur.execute(
                f"INSERT INTO accounts (id, user_id) VALUES ({top + 1}, 'late')"
            )
            cur.execute(
                "DELETE FROM accounts WHERE id = (SELECT min(id) FROM accounts)"
            )
            db.commit()
        keys: list[int] = []
        for share in cut:
            batches = list(split.read_share(share, 50))
            lines = [line for batch in batches for line in batch.lines]
            assert lines == list(range(share[2], share[2] + len(lines)))
            keys += [key for batch in batches for key in batch.rowids or ()]
    assert len(keys) == total
    assert keys == sorted(set(keys))
    # One reader where no range can be cut.
    for other in (
        open_source(pg_database, query="SELECT * FROM accounts", key="id"),
        open_source(pg_database, table="accounts", key="user_id"),
        source,
    ):
        with other.split(1 if other is source else 2) as (same, whole):
            assert (same, whole) == (other, [WHOLE])
    with _adbc(pg_database) as db, db.cursor() as cur:
        cur.execute("ALTER TABLE accounts ADD COLUMN n bigint")
        cur.execute("UPDATE accounts SET n = id WHERE id % 2 = 0")
        db.commit()
    nulls = open_source(pg_database, table="accounts", key="n")
    with nulls.split(2) as (same, whole):
        assert whole == [WHOLE]
