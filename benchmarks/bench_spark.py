"""The Spark door on local[2] against `agegate review --workers 2`, same Parquet file.

    python benchmarks/bench_spark.py                  # 1,000,000 rows
    python benchmarks/bench_spark.py --rows 200000

Writes the realistic accounts of bench_review.py as CSV and as Parquet
(every column a string), then times:

* `agegate review accounts.csv --workers 2` as a whole process (the local
  engine; the command reads no Parquet);
* the columnar engine in this process, one core, on the Parquet file;
* the Spark session's fixed cost: starting a local[2] session (the JVM), and
  a first review of ten rows (Python workers started, the tables loaded);
* `agegate.spark.review` over the whole file, the flags written to Spark's
  `noop` sink so that every partition is screened and nothing is stored;
* `agegate.spark.tally` over the file, checked against the local summary.

Prints rows/s of each and the ratio of Spark's review to the local engine's
(above 1.0: Spark is faster), the session's cost excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_review import HEADER, MAP, TODAY, write_accounts

from agegate.policy import FieldMap
from agegate.review.batches import read_batches
from agegate.review.columnar import review_batches
from agegate.review.reviewer import ReviewSettings

SECRET = "benchmark key, 32 bytes long...."
FIELDS = FieldMap.from_mapping(MAP)


def write_inputs(directory: Path, rows: int) -> tuple[Path, Path]:
    text = directory / "accounts.csv"
    write_accounts(text, rows)
    options = pacsv.ConvertOptions(
        column_types=dict.fromkeys(HEADER, "string"), strings_can_be_null=False
    )
    table = pacsv.read_csv(text, convert_options=options)
    path = directory / "accounts.parquet"
    pq.write_table(table, path, row_group_size=100_000)
    return text, path


def time_local(path: Path, workers: int) -> tuple[float, dict[str, Any]]:
    summary = path.with_name("summary.json")
    maps = [f"--map={field}={column}" for field, column in MAP.items()]
    start = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).with_name("agegate")), "review", str(path), *maps,
            "--today", TODAY.isoformat(), "--secret", SECRET,
            "--workers", str(workers), "--summary", str(summary),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    found: dict[str, Any] = json.loads(summary.read_text())
    return elapsed, found


def time_columnar(path: Path, summary: dict[str, Any]) -> float:
    settings = ReviewSettings(today=TODAY, secret=SECRET, fields=FIELDS)
    start = time.perf_counter()
    screened = sum(b.screened for b in review_batches(read_batches(path), settings))
    elapsed = time.perf_counter() - start
    if screened != summary["rows_screened"]:
        raise SystemExit("the engines disagree")
    return elapsed


def timed(what: str, rows: int, elapsed: float, extra: str = "") -> None:
    rate = f"{rows / elapsed:>10.0f} rows/s" if rows else " " * 17
    print(f"{what:<30} {elapsed:8.2f} s  {rate}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        text, path = write_inputs(Path(directory), args.rows)
        size = path.stat().st_size / 1e6
        print(f"{args.rows} rows, Parquet {size:.1f} MB")
        local, summary = time_local(text, args.workers)
        timed(f"agegate review --workers {args.workers}", args.rows, local)
        timed("columnar engine, Parquet", args.rows, time_columnar(path, summary))
        spark_seconds = run_spark(path, args, summary)
        print(f"ratio spark / local engine: {local / spark_seconds:.3f}")


def run_spark(path: Path, args: argparse.Namespace, summary: dict[str, Any]) -> float:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    start = time.perf_counter()
    from pyspark.sql import SparkSession

    from agegate.spark import review, tally

    spark = (
        SparkSession.builder.master(f"local[{args.workers}]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    timed("spark session start", 0, time.perf_counter() - start)
    try:
        given: dict[str, Any] = {"today": TODAY, "fields": FIELDS, "secret": SECRET}
        accounts = spark.read.parquet(str(path))
        start = time.perf_counter()
        review(accounts.limit(10), **given).collect()
        timed("spark first review, 10 rows", 0, time.perf_counter() - start)
        start = time.perf_counter()
        flags = review(accounts, **given)
        flags.write.format("noop").mode("overwrite").save()
        elapsed = time.perf_counter() - start
        timed("agegate.spark.review", args.rows, elapsed)
        start = time.perf_counter()
        counts = tally(accounts, **given)
        timed("agegate.spark.tally", args.rows, time.perf_counter() - start)
    finally:
        spark.stop()
    same = (counts.rows_screened, counts.by_code) == (
        summary["rows_screened"],
        summary["by_code"],
    )
    print(f"same counts as the local engine: {same}")
    if not same:
        raise SystemExit("the engines disagree")
    return elapsed


if __name__ == "__main__":
    main()
