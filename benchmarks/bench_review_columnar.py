"""`agegate review` against a bare csv.reader pass over the same file, whole process.

    python benchmarks/bench_review_columnar.py                  # 1,000,000 rows
    python benchmarks/bench_review_columnar.py --rows 300000 --rounds 3

Writes the realistic accounts of bench_review.py (phones, two screening
dates, many minors), then runs, in interleaved rounds, each in a fresh
Python process: a csv.reader pass that only iterates the rows, and
`agegate review` (columnar engine, flags written to a file) with one worker
and with two. Prints the median seconds of each and its ratio to the
csv.reader pass (1.0: as fast as reading the file). Then runs the row engine
(`--engine rows`) once and checks that every run wrote the same flags.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_review import MAP, TODAY, write_accounts

CSV_READER = """
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as handle:
    for _ in csv.reader(handle):
        pass
"""
SECRET = "benchmark key, 32 bytes long...."


def _review(path: Path, out: Path, *options: str) -> list[str]:
    maps = [f"--map={field}={column}" for field, column in MAP.items()]
    return [
        sys.executable, "-m", "agegate.cli", "review", str(path), *maps,
        f"--today={TODAY.isoformat()}", f"--flags-out={out}", f"--secret={SECRET}",
        "--quiet", *options,
    ]  # fmt: skip


def _time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def _digest(out: Path) -> str:
    """The flags a run wrote, in order, less the time each was raised."""
    digest = hashlib.sha256()
    with out.open(encoding="utf-8") as lines:
        for line in lines:
            flag = json.loads(line)
            flag.pop("raised_at", None)
            digest.update(json.dumps(flag, sort_keys=True).encode())
    return digest.hexdigest()


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
        out = {n: Path(directory) / f"flags-{n}.jsonl" for n in ("1", "2", "rows")}
        commands = {
            "csv.reader": [sys.executable, "-c", CSV_READER, str(path)],
            "1 worker": _review(path, out["1"], "--workers=1"),
            "2 workers": _review(path, out["2"], "--workers=2"),
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        digests: set[str] = set()
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(_time(command))
            digests |= {_digest(out["1"]), _digest(out["2"])}
        baseline = statistics.median(times["csv.reader"])
        for name, found in times.items():
            median = statistics.median(found)
            print(
                f"{name:<11} median {median:7.2f} s  {args.rows / median:>9.0f} rows/s"
                f"  ratio {baseline / median:.3f}  (runs: "
                + ", ".join(f"{t:.2f}" for t in found)
                + ")"
            )
        rows = _time(_review(path, out["rows"], "--engine=rows"))
        print(f"row engine  once   {rows:7.2f} s  ratio {baseline / rows:.3f}")
        digests.add(_digest(out["rows"]))
        print(f"identical flags in every run: {len(digests) == 1}")
        if len(digests) != 1:
            raise SystemExit("the runs disagree")


if __name__ == "__main__":
    main()
