"""`agegate review` beside what else reads the same file, whole processes.

    python benchmarks/bench_review_columnar.py                  # 1,000,000 rows
    python benchmarks/bench_review_columnar.py --rows 300000 --rounds 3
    python benchmarks/bench_review_columnar.py --workers 2 --rows 10000000

Writes the realistic accounts of bench_review.py (phones, two screening
dates, many minors), then runs, in interleaved rounds, each in a fresh
Python process:

* `csv.reader`: a pass that only iterates the rows (the goal's baseline);
* `pyarrow read`: `pyarrow.csv.read_csv` of every column as text, the floor
  for any reader built on Arrow;
* `duckdb`, when the `bench` extra is installed: the query a data engineer
  would write instead, accounts whose birthdate is within the age of
  majority of their country today, ignoring subdivisions, phones and the
  date of collection (so it finds fewer minors; the count is printed);
* `agegate`: `agegate review` (columnar engine, flags written to a file)
  with one worker, and with `--workers N` where asked.

Prints each one's median seconds and its ratio to the csv.reader pass (1.0:
as fast as reading the file); the row engine (`--engine rows`) runs once as
the reference, and every agegate run's flags are checked against it (with
`--no-reference`, against each other).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_review import HEADER, MAP, PLACES, TODAY, write_accounts

from agegate.rules import Kind, load_rules

CSV_READER = """
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as handle:
    for _ in csv.reader(handle):
        pass
"""
PYARROW_READ = """
import sys
import pyarrow as pa, pyarrow.csv as pv
columns = sys.argv[2].split(",")
options = pv.ConvertOptions(column_types={c: pa.string() for c in columns})
pv.read_csv(sys.argv[1], convert_options=options)
"""
DUCKDB_QUERY = """
import sys, duckdb
path, ages, today, out = sys.argv[1:5]
found = duckdb.sql(f'''
    SELECT count(*) FROM read_csv('{path}', header = true, all_varchar = true) a
    JOIN (SELECT * FROM (VALUES {ages}) t(country, age)) USING (country)
    WHERE try_cast(a.dob AS DATE) > DATE '{today}' - to_years(age)
''').fetchall()[0][0]
open(out, "w").write(str(found))
"""
SECRET = "benchmark key, 32 bytes long...."


def _review(path: Path, out: Path, *options: str) -> list[str]:
    maps = [f"--map={field}={column}" for field, column in MAP.items()]
    return [
        sys.executable, "-m", "agegate.cli", "review", str(path), *maps,
        f"--today={TODAY.isoformat()}", f"--flags-out={out}", f"--secret={SECRET}",
        "--quiet", *options,
    ]  # fmt: skip


def _duckdb(path: Path, out: Path) -> list[str]:
    rules = load_rules()
    countries = sorted({country for country, _, _ in PLACES})
    ages = ", ".join(
        f"('{code}', {rules.rule(code, Kind.MAJORITY, TODAY).age})"  # type: ignore[union-attr]
        for code in countries
    )
    return [
        sys.executable, "-c", DUCKDB_QUERY, str(path), ages, TODAY.isoformat(),
        str(out),
    ]  # fmt: skip


def _time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def _digest(out: Path) -> tuple[str, int]:
    """The flags a run wrote, in order, less the time each was raised; and
    how many say remove."""
    digest = hashlib.sha256()
    removals = 0
    with out.open(encoding="utf-8") as lines:
        for line in lines:
            flag = json.loads(line)
            flag.pop("raised_at", None)
            removals += flag["action"] == "remove"
            digest.update(json.dumps(flag, sort_keys=True).encode())
    return digest.hexdigest(), removals


def _commands(
    path: Path, directory: Path, workers: int
) -> tuple[dict[str, list[str]], dict[str, Path]]:
    out = {"1": directory / "flags-1.jsonl"}
    columns = ",".join(HEADER)
    commands = {
        "csv.reader": [sys.executable, "-c", CSV_READER, str(path)],
        "pyarrow read": [sys.executable, "-c", PYARROW_READ, str(path), columns],
    }
    if importlib.util.find_spec("duckdb") is not None:
        commands["duckdb"] = _duckdb(path, directory / "duckdb.txt")
    commands["agegate"] = _review(path, out["1"], "--workers=1")
    if workers > 1:
        out[str(workers)] = directory / f"flags-{workers}.jsonl"
        commands[f"agegate x{workers}"] = _review(
            path, out[str(workers)], f"--workers={workers}"
        )
    return commands, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1, help="also run N workers")
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the row engine's run"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        path = directory / "accounts.csv"
        write_accounts(path, args.rows)
        size = path.stat().st_size / 1e6
        print(f"{args.rows} rows, {size:.1f} MB, {args.rounds} interleaved rounds")
        reference = None
        if not args.no_reference:
            rows_out = directory / "flags-rows.jsonl"
            rows = _time(_review(path, rows_out, "--engine=rows"))
            reference = _digest(rows_out)
            print(f"reference (row engine) {rows:.2f} s, {reference[1]} removals")
        commands, out = _commands(path, directory, args.workers)
        times: dict[str, list[float]] = {name: [] for name in commands}
        found: set[tuple[str, int]] = set() if reference is None else {reference}
        for _ in range(args.rounds):
            for label, command in commands.items():
                times[label].append(_time(command))
            for flags in out.values():
                found.add(_digest(flags))
                if len(found) != 1:
                    raise SystemExit(f"{flags.name}: flags differ from the reference")
        _report(times, args.rows)
        removals = next(iter(found))[1]
        if "duckdb" in commands:
            minors = int((directory / "duckdb.txt").read_text())
            print(f"duckdb finds {minors} minors today; agegate removes {removals}")
        print("identical flags in every run:", len(found) == 1)


def _report(times: dict[str, list[float]], rows: int) -> None:
    baseline = statistics.median(times["csv.reader"])
    duck = statistics.median(times["duckdb"]) if "duckdb" in times else None
    for label, found in times.items():
        median = statistics.median(found)
        against = f"  vs duckdb {duck / median:.3f}" if duck else ""
        print(
            f"{label:<13} median {median:7.2f} s  {rows / median:>10.0f} rows/s"
            f"  ratio {baseline / median:.3f}{against}  (runs: "
            + ", ".join(f"{t:.2f}" for t in found)
            + ")"
        )


if __name__ == "__main__":
    main()
