"""Reading accounts from PostgreSQL: agegate's reader against a bare COPY.

    python benchmarks/bench_postgres.py postgresql://USER:PASSWORD@HOST:PORT/DB
    python benchmarks/bench_postgres.py URL --rows 300000 --rounds 3

Makes a table `bench_accounts` of `--rows` accounts (id, user_id, dob,
declared_age, country, region, phone, created_at; text columns as a CSV
export has them) unless it already holds that many, then times, in
interleaved rounds:

* copy: psql's `\\copy (SELECT <the same columns>) TO STDOUT`, its output
  counted by lines: the server's plainest way out, with no conversion;
* agegate: `PostgresSource.batches` (ADBC, Arrow record batches, a
  READ ONLY transaction, rows in key order), counting rows.

Prints rows/s of each and agegate's ratio to the bare COPY (goal: >= 0.5).
With `--review`, also times whole `agegate review URL --table bench_accounts`
processes (the columnar engine, flags written to a file) with one and two
workers, and checks that both write the same flags.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from agegate.review.postgres import open_source

COLUMNS = (
    "user_id",
    "dob",
    "declared_age",
    "country",
    "region",
    "phone",
    "created_at",
)
_MAKE = """
CREATE TABLE bench_accounts AS
SELECT g AS id, 'acct-' || g AS user_id,
       to_char(date '1950-01-01' + (g % 25000), 'YYYY-MM-DD') AS dob,
       ''::text AS declared_age,
       (ARRAY['CA','US','DE','FR','GB'])[1 + g % 5] AS country,
       (ARRAY['ON','AL','','','ENG'])[1 + g % 5] AS region,
       '+1 416 555 ' || lpad((g % 10000)::text, 4, '0') AS phone,
       '2024-01-04T12:00:00Z'::text AS created_at
FROM generate_series(1, {rows}) g
"""


def _make(url: str, rows: int) -> None:
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(url) as db, db.cursor() as cur:
        cur.execute("SELECT to_regclass('bench_accounts') IS NOT NULL")
        row = cur.fetchone()
        if row is not None and row[0]:
            cur.execute("SELECT count(*) FROM bench_accounts")
            counted = cur.fetchone()
            if counted is not None and counted[0] == rows:
                return
            cur.execute("DROP TABLE bench_accounts")
        cur.execute(_MAKE.format(rows=int(rows)))
        cur.execute("ALTER TABLE bench_accounts ADD PRIMARY KEY (id)")
        db.commit()
    with adbc.connect(url, autocommit=True) as db, db.cursor() as cur:
        cur.execute("VACUUM ANALYZE bench_accounts")


def bare_copy(url: str) -> int:
    """`COPY ... TO STDOUT` of the same columns, read by psql, lines counted."""
    listed = ", ".join(("id", *COLUMNS))
    command = f"\\copy (SELECT {listed} FROM bench_accounts) TO STDOUT"
    parts = urlsplit(url)
    env = {**os.environ}
    if parts.password:
        env["PGPASSWORD"] = parts.password
    plain = url.replace(f":{parts.password}@", "@") if parts.password else url
    done = subprocess.run(
        ["psql", "-X", "-q", "-d", plain, "-c", command],
        env=env,
        stdout=subprocess.PIPE,
        check=True,
    )
    return done.stdout.count(b"\n")


def agegate_read(url: str) -> int:
    source = open_source(url, table="bench_accounts")
    return sum(batch.records.num_rows for batch in source.batches(COLUMNS))


def agegate_review(url: str, workers: int, out: Path) -> int:
    """A whole `agegate review` process; the rows it read."""
    summary = out.with_suffix(".json")
    maps = ("account_id=user_id", "birthdate=dob", "age=declared_age")
    maps += ("subdivision=region", "collected_at=created_at")
    subprocess.run(
        [sys.executable, "-m", "agegate.cli", "review", url, "--table=bench_accounts"]
        + [f"--map={pair}" for pair in maps]
        + ["--today=2026-11-28", "--secret=a benchmark key, long enough to use"]
        + [f"--workers={workers}", f"--flags-out={out}", f"--summary={summary}"]
        + ["--quiet"],
        check=True,
    )
    return int(json.loads(summary.read_text())["rows_read"])


def _review_rounds(url: str, rows: int, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"review 1": [], "review 2": []}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(rounds):
            for workers in (1, 2):
                out = Path(scratch) / f"flags-{workers}.jsonl"
                started = time.perf_counter()
                count = agegate_review(url, workers, out)
                times[f"review {workers}"].append(time.perf_counter() - started)
                if count != rows:
                    raise SystemExit(f"review read {count} rows, not {rows}")
            one, two = (Path(scratch) / f"flags-{n}.jsonl" for n in (1, 2))
            if _flags(one) != _flags(two):
                raise SystemExit("one and two workers wrote different flags")
    return times


def _flags(path: Path) -> list[str]:
    """The flags without the time each was raised."""
    found = []
    for line in path.read_text().splitlines():
        flag = json.loads(line)
        del flag["raised_at"]
        found.append(json.dumps(flag, sort_keys=True))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--review", action="store_true", help="time agegate review")
    args = parser.parse_args()
    if shutil.which("psql") is None:
        raise SystemExit("psql is needed for the bare COPY")
    _make(args.url, args.rows)
    times: dict[str, list[float]] = {"copy": [], "agegate": []}
    for _ in range(args.rounds):
        for name, read in (("copy", bare_copy), ("agegate", agegate_read)):
            started = time.perf_counter()
            count = read(args.url)
            times[name].append(time.perf_counter() - started)
            if count != args.rows:
                raise SystemExit(f"{name} read {count} rows, not {args.rows}")
    if args.review:
        times.update(_review_rounds(args.url, args.rows, args.rounds))
    medians = {name: statistics.median(found) for name, found in times.items()}
    for name, seconds in medians.items():
        print(f"{name:8} {seconds:6.2f} s  {args.rows / seconds:12,.0f} rows/s")
    if args.review:
        ratio = medians["review 1"] / medians["review 2"]
        print(f"review, 2 workers / 1: {ratio:.2f}x")
    print(f"agegate / copy: {medians['copy'] / medians['agegate']:.2f}x (goal >= 0.5)")


if __name__ == "__main__":
    main()
