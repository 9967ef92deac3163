"""Which columnar CSV reader the review engine stands on: pyarrow or polars.

Reads the same realistic accounts file, every column as text, with a bare
csv.reader pass as the baseline measured in the same run (interleaved
rounds, medians, each reader in a fresh process so that import costs count
as they do in `agegate review`). polars is not a dependency: the benchmark
skips it when it is not installed.

Run: python benchmarks/bench_csv_readers.py [--rows 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_review import write_accounts

READERS = {
    "csv.reader": (
        "import csv, sys\n"
        "with open(sys.argv[1], newline='', encoding='utf-8') as f:\n"
        "    for _ in csv.reader(f): pass\n"
    ),
    "pyarrow": (
        "import sys, pyarrow.csv as c\n"
        "h = open(sys.argv[1], encoding='utf-8').readline().rstrip('\\n').split(',')\n"
        "opts = c.ConvertOptions(column_types={n: 'string' for n in h})\n"
        "for _ in c.open_csv(sys.argv[1], convert_options=opts): pass\n"
    ),
    "polars": (
        "import sys, polars as pl\n"
        "pl.scan_csv(sys.argv[1], infer_schema=False).collect(engine='streaming')\n"
    ),
}


def _time(code: str, path: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    readers = {
        name: code
        for name, code in READERS.items()
        if name == "csv.reader" or importlib.util.find_spec(name) is not None
    }
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "accounts.csv"
        write_accounts(path, args.rows)
        times: dict[str, list[float]] = {name: [] for name in readers}
        for _ in range(args.rounds):
            for name, code in readers.items():
                times[name].append(_time(code, path))
    baseline = statistics.median(times["csv.reader"])
    for name, taken in times.items():
        median = statistics.median(taken)
        ratio = baseline / median
        print(f"{name:<11} median {median:6.2f} s  {ratio:5.2f}x csv.reader")


if __name__ == "__main__":
    main()
