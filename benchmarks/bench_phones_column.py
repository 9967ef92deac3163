"""Speed of the phone column: `phones.outcome_ids` over the phones of a
realistic accounts file, batch by batch, against a pass of
`pyarrow.compute.utf8_length` over the same batches, in the same run.

    python benchmarks/bench_phones_column.py                   # 1,000,000 rows
    python benchmarks/bench_phones_column.py --batch 50000 --rounds 7
    python benchmarks/bench_phones_column.py --csv accounts.csv  # an existing file

The file is `bench_review.write_accounts`'s (unless --csv names one, whose
phones are in the `phone` column). Rounds alternate the two passes; the
figures are medians, in microseconds per row, of the wall-clock time and of
the process's CPU time (steadier on a shared machine). A sample of the numbers
decided is checked against `phone.jurisdictions` first: the script exits
non-zero if one differs.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from bench_review import write_accounts

from agegate import phone
from agegate.errors import InputProblem
from agegate.review import phones
from agegate.rules import load_rules

RULES = load_rules()


@functools.cache
def _canonical(found: tuple[str, ...]) -> tuple[str, ...] | None:
    try:
        return tuple(RULES.canonical(code) for code in found)
    except LookupError:
        return None


def _column(path: Path) -> pa.Array:
    table = pa_csv.read_csv(
        path,
        convert_options=pa_csv.ConvertOptions(
            include_columns=["phone"], column_types={"phone": pa.string()}
        ),
    )
    return table.column("phone").combine_chunks()


def _check(column: pa.Array, rows: int) -> int:
    """Rows of a sample where outcomes differs from phone.jurisdictions."""
    sample = column.slice(0, rows)
    decided = phones.outcomes(sample, _canonical)
    if decided is None:
        return 0
    wrong = 0
    for text, found in zip(sample.to_pylist(), decided, strict=True):
        if found is None:
            continue
        try:
            expected: object = _canonical(phone.jurisdictions(text.strip(), None))
        except InputProblem as problem:
            expected = problem.reason
        wrong += found != expected
    return wrong


def _timed(
    batches: list[pa.Array], work: Callable[[pa.Array], object]
) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one pass."""
    started, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        work(batch)
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=16_384)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--csv", type=Path, help="an accounts file to read")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.csv
        if path is None:
            path = Path(tmp) / "accounts.csv"
            write_accounts(path, args.rows)
        column = _column(path)
    wrong = _check(column, 20_000)
    if wrong:
        print(f"{wrong} numbers decided differently from phone.jurisdictions")
        return 1
    batches = [
        column.slice(start, args.batch) for start in range(0, len(column), args.batch)
    ]
    decide = functools.partial(phones.outcome_ids, canonical=_canonical)
    decide(batches[0])  # the automata of the codes met are built once
    times: dict[str, list[tuple[float, float]]] = {"utf8_length": [], "outcome_ids": []}
    for _ in range(args.rounds):
        times["utf8_length"].append(_timed(batches, pc.utf8_length))
        times["outcome_ids"].append(_timed(batches, decide))
    rows = len(column)
    print(f"{rows:,} phones in batches of {args.batch:,}, {args.rounds} rounds")
    for name, spent in times.items():
        wall = statistics.median(t[0] for t in spent)
        cpu = statistics.median(t[1] for t in spent)
        print(
            f"  {name:<12} wall {wall:7.3f} s  {wall / rows * 1e6:6.3f} µs/row"
            f"   cpu {cpu:7.3f} s  {cpu / rows * 1e6:6.3f} µs/row"
        )
    ratios = [
        mine[0] / base[0]
        for mine, base in zip(times["outcome_ids"], times["utf8_length"], strict=True)
    ]
    ratio = statistics.median(ratios)
    print(f"  outcome_ids / utf8_length, median of rounds (wall): {ratio:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
