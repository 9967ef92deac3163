"""The review's column-wide dates against one bare pass over the same columns.

    python benchmarks/bench_review_dates.py                      # 1,000,000 rows
    python benchmarks/bench_review_dates.py --batch 50000 --rounds 9

Writes the realistic accounts of bench_review.py, reads the birthdate and
collected_at columns once with pyarrow, cuts them into batches of --batch
rows (the engine's unit of work), then times, in interleaved rounds:
`pc.utf8_length` over both columns (the baseline: one plain pass over the
text), `birth_array` over the birthdates and `collection_array` over the
collection timestamps. Prints the median µs per row of each and its ratio
to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_review import MAP, TODAY, write_accounts

from agegate.review import dates

TODAY_INT = TODAY.year * 10000 + TODAY.month * 100 + TODAY.day


def _columns(rows: int) -> tuple[pa.Array, pa.Array]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "accounts.csv"
        write_accounts(path, rows)
        names = [MAP["birthdate"], MAP["collected_at"]]
        table = csv.read_csv(
            path,
            convert_options=csv.ConvertOptions(
                include_columns=names,
                column_types=dict.fromkeys(names, pa.string()),
            ),
        )
    return (
        table.column(names[0]).combine_chunks(),
        table.column(names[1]).combine_chunks(),
    )


def _batches(column: pa.Array, size: int) -> list[pa.Array]:
    return [column.slice(start, size) for start in range(0, len(column), size)]


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    born, collected = _columns(args.rows)
    births = _batches(born, args.batch)
    stamps = _batches(collected, args.batch)
    runs: dict[str, Callable[[], object]] = {
        "utf8_length (baseline)": lambda: [
            (pc.utf8_length(b), pc.utf8_length(s))
            for b, s in zip(births, stamps, strict=True)
        ],
        "birth_array": lambda: [dates.birth_array(b) for b in births],
        "collection_array": lambda: [
            dates.collection_array(s, TODAY_INT) for s in stamps
        ],
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            times[name].append(_timed(run))
    base = statistics.median(times["utf8_length (baseline)"])
    print(f"{args.rows} rows in batches of {args.batch}, {args.rounds} rounds")
    for name, measured in times.items():
        median = statistics.median(measured)
        print(
            f"{name:24} {median * 1e6 / args.rows:7.3f} µs/row"
            f"  {median / base:6.2f}x the baseline"
        )


if __name__ == "__main__":
    main()
