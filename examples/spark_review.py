"""Review accounts stored as Parquet on Spark; write the flags back as Parquet.

    python examples/spark_review.py accounts.parquet flags.parquet --today 2026-11-28 \\
        --map account_id=user_id --map birthdate=dob --map subdivision=region

`--master` defaults to local[*]; under `spark-submit` the cluster's master
is used. Give the flag store's key as --secret (or $AGEGATE_SECRET) so that
accounts without an id get the ids the store knows them by.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

from pyspark.sql import SparkSession

from agegate.policy import FieldMap
from agegate.spark import review, tally

SECRET_ENV = "AGEGATE_SECRET"  # noqa: S105 - the name of a variable


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", help="Parquet file or directory of accounts")
    parser.add_argument("output", help="directory the flags are written to")
    parser.add_argument(
        "--today", type=date.fromisoformat, required=True, help="YYYY-MM-DD"
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="column holding FIELD (default: the field's own name)",
    )
    parser.add_argument("--key", help="integer column that becomes each rowid")
    parser.add_argument("--secret", help=f"key of the id hashes (${SECRET_ENV})")
    parser.add_argument("--master", help="Spark master (default: local[*])")
    parser.add_argument(
        "--summary", metavar="PATH", help="count the rows as JSON (screens again)"
    )
    return parser.parse_args(argv)


def _fields(pairs: list[str]) -> FieldMap:
    """The field map, or ValueError naming the bad --map."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        field, equals, column = pair.partition("=")
        if not equals or not field.strip() or not column.strip():
            raise ValueError(f"--map {field.strip() or '?'}: give FIELD=COLUMN")
        mapping[field.strip()] = column.strip()
    return FieldMap.from_mapping(mapping)


def _refuse(error: ValueError) -> int:
    # Bad input is exit 2, as for `agegate review`; messages name fields and
    # columns, never a value.
    print(f"spark_review: {error}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = _options(argv)
    try:
        fields = _fields(args.map)
    except ValueError as error:
        return _refuse(error)
    secret = args.secret or os.environ.get(SECRET_ENV)
    # The Python workers run the interpreter that runs this script.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("agegate review")
    if args.master or not os.environ.get("SPARK_HOME"):
        builder = builder.master(args.master or "local[*]")
    spark = builder.getOrCreate()
    try:
        accounts = spark.read.parquet(args.input)
        given = {"today": args.today, "fields": fields, "secret": secret}
        try:
            flags = review(accounts, key=args.key, **given)
        except ValueError as error:
            return _refuse(error)
        flags.write.parquet(args.output)
        if args.summary:
            counts = tally(accounts, **given)
            summary = {
                "rows_read": counts.rows_read,
                "rows_screened": counts.rows_screened,
                "rows_unreadable": counts.rows_unreadable,
                "by_code": counts.by_code,
            }
            Path(args.summary).write_text(json.dumps(summary, indent=2) + "\n")
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
