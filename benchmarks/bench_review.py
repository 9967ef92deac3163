"""Throughput of `agegate review` against a plain csv.reader pass, same file, same run.

    python benchmarks/bench_review.py                  # 200,000 rows
    python benchmarks/bench_review.py --rows 1000000   # the reference figure
    python benchmarks/bench_review.py --profile        # where one core's time goes

Writes a CSV of realistic accounts (ids, birthdates from 10 to 80 years old,
countries and subdivisions, valid phone numbers of those places, collection
timestamps with offsets), then times, on that file: a csv.reader pass that
only iterates the rows, the review on one worker, and the review on
--workers (default 2). Prints rows/s and the ratio of each review to the
csv.reader pass (1.0 would be as fast as reading the file).
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import pstats
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from agegate.policy import FieldMap
from agegate.review.readers import read
from agegate.review.reviewer import ReviewSettings
from agegate.review.run import run

TODAY = date(2026, 11, 28)
# (country, subdivision, phone format): valid numbers of each place.
PLACES = [
    ("US", "NY", "+1 212 {a}{b}{c} {d}"),
    ("US", "CA", "+1 415 {a}{b}{c} {d}"),
    ("US", "AL", "+1 205 {a}{b}{c} {d}"),
    ("US", "MS", "+1 601 {a}{b}{c} {d}"),
    ("US", "IL", "+1 312 {a}{b}{c} {d}"),
    ("CA", "BC", "+1 604 {a}{b}{c} {d}"),
    ("CA", "ON", "+1 416 {a}{b}{c} {d}"),
    ("GB", "", "+44 20 7{a}{b}{c} {d}"),
    ("DE", "", "+49 30 {a}{b}{c}{d}"),
    ("FR", "", "+33 6 1{a} {b}{c} {d}"),
    ("JP", "", "+81 90 1{a}{b}{c} {d}"),
    ("BR", "", "+55 11 9{a}{b}{c}1 {d}"),
    ("IN", "", "+91 98{a}{b}{c}1 {d}"),
]
HEADER = ("user_id", "email_hash", "dob", "country", "region", "phone", "created_at")
MAP = {
    "account_id": "user_id",
    "birthdate": "dob",
    "subdivision": "region",
    "collected_at": "created_at",
}


def write_accounts(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(rows):
            country, region, phone = rng.choice(PLACES)
            born = TODAY - timedelta(days=rng.randrange(10 * 365, 80 * 365))
            collected = TODAY - timedelta(days=rng.randrange(1, 2000))
            hour = rng.randrange(24)
            digits = {
                "a": rng.randrange(2, 10),
                "b": rng.randrange(10),
                "c": rng.randrange(10),
                "d": f"{rng.randrange(10000):04d}",
            }
            writer.writerow(
                (
                    f"u{n:08d}",
                    f"{rng.getrandbits(64):016x}",
                    born.isoformat(),
                    country,
                    region,
                    phone.format(**digits),
                    f"{collected.isoformat()}T{hour:02d}:15:00+02:00",
                )
            )


def time_csv(path: Path) -> float:
    start = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as handle:
        for _ in csv.reader(handle):
            pass
    return time.perf_counter() - start


def time_review(path: Path, workers: int) -> tuple[float, int]:
    settings = ReviewSettings(
        today=TODAY,
        secret=b"benchmark key, 32 bytes long....",
        fields=FieldMap.from_mapping(MAP),
    )
    start = time.perf_counter()
    with read(path) as items:
        tally = run(items, settings, workers=workers, progress=False)
    elapsed = time.perf_counter() - start
    if tally.rows_read != tally.rows_screened + tally.rows_unreadable:
        raise SystemExit("rows were lost")
    return elapsed, tally.accounts_flagged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "accounts.csv"
        write_accounts(path, args.rows)
        size = path.stat().st_size / 1e6
        print(f"{args.rows} rows, {size:.1f} MB")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            time_review(path, 1)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            return
        baseline = time_csv(path)
        print(
            f"csv.reader        {baseline:8.2f} s  {args.rows / baseline:>10.0f} rows/s"
        )
        for workers in sorted({1, args.workers}):
            elapsed, flagged = time_review(path, workers)
            print(
                f"review workers={workers} {elapsed:8.2f} s"
                f"  {args.rows / elapsed:>10.0f} rows/s"
                f"  ratio {baseline / elapsed:.3f}  ({flagged} flagged)"
            )


if __name__ == "__main__":
    main()
