"""Peak memory of `agegate review` on a small and a ten times larger input.

    python benchmarks/bench_review_memory.py                # 300,000 and 3,000,000 rows
    python benchmarks/bench_review_memory.py --rows 20000   # 20,000 and 200,000
    python benchmarks/bench_review_memory.py --engine rows  # the row engine
    python benchmarks/bench_review_memory.py --rows 1000000 --workers 2

The review streams, so the peak resident size of the review process should
not grow with the input: the printed ratio (large / small) stays near 1.0
(goal: within 1.2). With `--workers N`, the figure is the largest of the
run's processes (the main one or a worker).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_review import MAP, write_accounts


def peak_rss_mib(path: Path, out: Path, engine: str, workers: int) -> float:
    """Runs the review in a fresh process; the peak RSS of that process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    maps = [
        arg for field, column in MAP.items() for arg in ("--map", f"{field}={column}")
    ]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "agegate.cli",
            "review",
            str(path),
            *maps,
            "--flags-out",
            str(out),
            "--quiet",
            "--today",
            "2026-11-28",
            "--engine",
            engine,
            "--workers",
            str(workers),
        ],
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of any child so far, in KiB.
    return max(after, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000, help="the small input")
    parser.add_argument("--engine", choices=("columnar", "rows"), default="columnar")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        small, large = Path(folder, "small.csv"), Path(folder, "large.csv")
        write_accounts(small, args.rows)
        write_accounts(large, args.rows * 10)
        # The smaller run goes first: children's peak can only grow.
        runs = (args.engine, args.workers)
        small_mib = peak_rss_mib(small, Path(folder, "small.jsonl"), *runs)
        large_mib = peak_rss_mib(large, Path(folder, "large.jsonl"), *runs)
    print(f"{args.rows:>9} rows   peak RSS {small_mib:7.1f} MiB")
    print(f"{args.rows * 10:>9} rows   peak RSS {large_mib:7.1f} MiB")
    print(
        f"ratio (large / small): {large_mib / small_mib:.2f}"
        f" ({args.engine} engine, {args.workers} worker(s))"
    )


if __name__ == "__main__":
    main()
