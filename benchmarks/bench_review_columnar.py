"""The columnar review against the row engine and a bare csv.reader pass, whole process.

    python benchmarks/bench_review_columnar.py                 # 1,000,000 rows
    python benchmarks/bench_review_columnar.py --rows 300000 --rounds 3

Writes the realistic accounts of bench_review.py (phones, two screening
dates, many minors), then runs, in interleaved rounds, each in a fresh
Python process: a csv.reader pass that only iterates the rows, the row
engine (`readers.read` into `run.screen_batches`) and the columnar engine
(`batches.read_batches` into `columnar.review_batches`). Prints the median
seconds of each and its ratio to the csv.reader pass (1.0: as fast as reading
the file), and checks that both engines raised the same flags.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_review import MAP, TODAY, write_accounts

_SETUP = f"""
import hashlib, sys
from datetime import date
from agegate.policy import FieldMap
from agegate.review.reviewer import ReviewSettings
settings = ReviewSettings(
    today=date.fromisoformat({TODAY.isoformat()!r}),
    secret=b"benchmark key, 32 bytes long....",
    fields=FieldMap.from_mapping({MAP!r}),
)
digest = hashlib.sha256()
counts = [0, 0]
def add(batches):
    for batch in batches:
        for f in batch.flags:
            digest.update(repr((f.account_id, f.codes, f.action, f.jurisdiction,
                f.required_age, f.fingerprint, f.line)).encode())
        counts[0] += batch.screened
        counts[1] += len(batch.unreadable)
    digest.update(repr(counts).encode())
"""

PROGRAMS = {
    "csv.reader": """
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as handle:
    for _ in csv.reader(handle):
        pass
print("-")
""",
    "row engine": _SETUP
    + """
from agegate.review.readers import read
from agegate.review.run import screen_batches
with read(sys.argv[1]) as items:
    add(screen_batches(items, settings))
print(digest.hexdigest())
""",
    "columnar": _SETUP
    + """
from agegate.review.batches import read_batches
from agegate.review.columnar import review_batches
columns = tuple(MAP.values()) + ("country", "phone")
add(review_batches(read_batches(sys.argv[1], columns=columns), settings))
print(digest.hexdigest())
""".replace("MAP.values()", f"{tuple(MAP.values())!r}"),
}


def _time(program: str, path: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", program, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "accounts.csv"
        write_accounts(path, args.rows)
        size = path.stat().st_size / 1e6
        print(f"{args.rows} rows, {size:.1f} MB, {args.rounds} interleaved rounds")
        times: dict[str, list[float]] = {name: [] for name in PROGRAMS}
        digests: dict[str, set[str]] = {name: set() for name in PROGRAMS}
        for _ in range(args.rounds):
            for name, program in PROGRAMS.items():
                elapsed, digest = _time(program, path)
                times[name].append(elapsed)
                digests[name].add(digest)
        baseline = statistics.median(times["csv.reader"])
        for name, found in times.items():
            median = statistics.median(found)
            print(
                f"{name:<11} median {median:8.2f} s  {args.rows / median:>10.0f} rows/s"
                f"  ratio {baseline / median:.3f}"
            )
        same = digests["row engine"] == digests["columnar"]
        shown = hashlib.sha256(repr(sorted(digests["columnar"])).encode()).hexdigest()
        print(f"identical flags and counts: {same} ({shown[:12]})")
        if not same:
            raise SystemExit("the engines disagree")


if __name__ == "__main__":
    main()
