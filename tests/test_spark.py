"""The Spark door on a real local[2] session: the flags of a DataFrame are
the local engine's, and the example job round-trips Parquet.

Without java or pyspark these tests skip, unless AGEGATE_REQUIRE_SERVERS=1
(CI), where a missing JVM fails them.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from agegate.flags.output import FLAG_COLUMNS
from agegate.policy import FieldMap
from agegate.review.batches import read_batches
from agegate.review.columnar import review_batches
from agegate.review.readers import Row, read
from agegate.review.reviewer import ReviewSettings
from agegate.rules import load_rules

ROOT = Path(__file__).resolve().parent.parent
ACCOUNTS = ROOT / "examples" / "accounts.csv"
TODAY = date(2026, 11, 28)
SECRET = b"spark test key, 32 bytes long..."
MAP = {
    "account_id": "user_id",
    "birthdate": "dob",
    "age": "declared_age",
    "subdivision": "region",
    "collected_at": "created_at",
}
FIELDS = FieldMap.from_mapping(MAP)


def _require(reason: str) -> None:
    """Skip for want of a JVM or a package; fail instead in CI."""
    if os.environ.get("AGEGATE_REQUIRE_SERVERS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _missing() -> str | None:
    if shutil.which("java") is None:
        return "no java on PATH: Spark needs a JVM (OpenJDK 17)"
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed: pip install -e '.[spark]'"
    return None


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        _require(reason)
    from pyspark.sql import SparkSession

    # The Python workers must run this interpreter, with agegate installed.
    patch = pytest.MonkeyPatch()
    patch.setenv("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("agegate tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    patch.undo()


def _local() -> tuple[list[tuple[Any, ...]], tuple[int, int, dict[str, int]]]:
    """The local engine's flags (with their lines) and counts."""
    settings = ReviewSettings(today=TODAY, secret=SECRET, fields=FIELDS)
    flags: list[tuple[Any, ...]] = []
    screened = unreadable = 0
    by_code: dict[str, int] = {}
    for batch in review_batches(read_batches(ACCOUNTS), settings):
        screened += batch.screened
        unreadable += len(batch.unreadable)
        for f in batch.flags:
            flags.append(
                (f.account_id, f.codes, f.action, f.jurisdiction, f.required_age,
                 f.source, f.line)
            )  # fmt: skip
            for code in f.codes:
                by_code[code] = by_code.get(code, 0) + 1
    return sorted(flags), (screened, unreadable, dict(sorted(by_code.items())))


def _essence(rows: list[dict[str, Any]], locator: str) -> list[tuple[Any, ...]]:
    return sorted(
        (r["account_id"], tuple(r["codes"]), r["action"], r["jurisdiction"],
         r["required_age"], r["source"], r[locator])
        for r in rows
    )  # fmt: skip


def _without_locator(flags: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(f[:-1] for f in flags)


def test_importing_agegate_and_its_review_loads_no_pyspark() -> None:
    code = (
        "import sys, agegate, agegate.review, agegate.review.columnar, agegate.cli\n"
        "assert 'pyspark' not in sys.modules, 'pyspark loaded'\n"
        "assert 'py4j' not in sys.modules, 'py4j loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_dataframe_gives_the_flags_of_the_local_engine(spark: Any) -> None:
    from agegate.spark import FLAG_SCHEMA, review, tally

    assert tuple(FLAG_SCHEMA.names) == FLAG_COLUMNS
    expected, counts = _local()
    assert len(expected) > 50, "the examples raise flags"

    # The accounts the reader reads (its unreadable rows are no accounts of
    # a DataFrame), every column a string, each row's line as its key.
    with read(ACCOUNTS) as stream:
        values = [
            {**item.values, "line": item.line}
            for item in stream
            if isinstance(item, Row)
        ]
    keyed = spark.createDataFrame(values).repartition(3)
    flags = review(keyed, today=TODAY, fields=FIELDS, secret=SECRET, key="line")
    assert tuple(flags.columns) == FLAG_COLUMNS
    rows = [row.asDict() for row in flags.collect()]
    assert _essence(rows, "rowid") == expected
    assert {r["line"] for r in rows} == {r["report_id"] for r in rows} == {None}
    assert len({r["raised_at"] for r in rows}) == 1

    # An empty field as a null, as Spark's CSV reader gives it; no key.
    nulls = [{k: v if v != "" else None for k, v in row.items()} for row in values]
    schema = ", ".join(f"{name} string" for name in values[0] if name != "line")
    loose = spark.createDataFrame(
        [tuple(row[n] for n in row if n != "line") for row in nulls], schema
    )
    # The caller's own tables go out as a broadcast.
    rules = load_rules()
    flags = review(loose, today=TODAY, fields=FIELDS, secret=SECRET, rules=rules)
    rows = [row.asDict() for row in flags.collect()]
    assert _essence(rows, "rowid") == sorted((*f[:-1], None) for f in expected)
    found = tally(loose, today=TODAY, fields=FIELDS, secret=SECRET)
    screened, _, by_code = counts
    assert (found.rows_read, found.rows_screened, found.rows_unreadable) == (
        len(values),
        screened,
        0,
    )
    assert found.by_code == by_code


def test_the_field_map_is_checked_before_any_job(spark: Any) -> None:
    from agegate.spark import review

    accounts = spark.createDataFrame(
        [("u1", "2010-01-01")], "user_id string, dob string"
    )
    with pytest.raises(
        ValueError, match=r"^country=land: no such column; columns: user_id, dob$"
    ):
        review(accounts, today=TODAY, fields=FieldMap(country="land"))
    with pytest.raises(ValueError, match="no column of the field map"):
        review(accounts, today=TODAY)
    fields = FieldMap(account_id="user_id", birthdate="dob")
    with pytest.raises(ValueError, match=r"^key user_id: not an integer column$"):
        review(accounts, today=TODAY, fields=fields, key="user_id")


def test_the_example_job_round_trips_parquet(spark: Any, tmp_path: Path) -> None:
    with read(ACCOUNTS) as stream:
        values = [item.values for item in stream if isinstance(item, Row)]
    source = tmp_path / "accounts.parquet"
    pq.write_table(pa.Table.from_pylist(values), source, row_group_size=100)
    out = tmp_path / "flags.parquet"
    summary = tmp_path / "summary.json"
    maps = [f"--map={field}={column}" for field, column in MAP.items()]
    done = subprocess.run(
        [
            sys.executable, str(ROOT / "examples" / "spark_review.py"),
            str(source), str(out), "--today", TODAY.isoformat(), *maps,
            "--master", "local[2]", "--summary", str(summary),
        ],
        env={**os.environ, "AGEGATE_SECRET": SECRET.decode()},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    written = pq.read_table(out)
    assert tuple(written.column_names) == FLAG_COLUMNS
    expected, counts = _local()
    assert _essence(written.to_pylist(), "line") == sorted(
        (*f[:-1], None) for f in expected
    )
    told = json.loads(summary.read_text())
    screened, _, by_code = counts  # the Parquet holds the readable rows only
    assert (told["rows_read"], told["rows_unreadable"]) == (len(values), 0)
    assert (told["rows_screened"], told["by_code"]) == (screened, by_code)
    # Nothing personal in what the job printed.
    printed = done.stdout + done.stderr
    assert not [v["dob"] for v in values if v["dob"] and v["dob"] in printed]
    assert not [v["phone"] for v in values if v["phone"] and v["phone"] in printed]


def _readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### On Apache Spark") :]
    return re.findall(r"```py\n(.*?)```", section[: section.index("\n## ")], re.S)


def _readable_values() -> list[dict[str, Any]]:
    with read(ACCOUNTS) as stream:
        return [item.values for item in stream if isinstance(item, Row)]


def test_the_readme_spark_example_reviews_a_parquet_file(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = _readme_blocks()[0]
    values = _readable_values()
    source, out = tmp_path / "accounts.parquet", tmp_path / "flags.parquet"
    pq.write_table(pa.Table.from_pylist(values), source)
    # Spark resolves relative paths itself: the example's names made absolute.
    block = block.replace('"accounts.parquet"', repr(str(source)))
    block = block.replace('"flags.parquet"', repr(str(out)))
    monkeypatch.setenv("AGEGATE_SECRET", SECRET.decode())
    namespace: dict[str, Any] = {"spark": spark}
    exec(compile(block, "README.md", "exec"), namespace)
    expected, (screened, _, by_code) = _local()
    written = pq.read_table(out).to_pylist()
    assert _essence(written, "line") == sorted((*f[:-1], None) for f in expected)
    counts = namespace["counts"]
    assert (counts.rows_read, counts.rows_screened, counts.by_code) == (
        len(values),
        screened,
        by_code,
    )


def test_the_readme_dask_function_gives_the_local_flags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Dask is no dependency: the function it maps runs on pandas partitions.
    if importlib.util.find_spec("pandas") is None:
        _require("pandas is not installed: pip install -e '.[spark]'")
    pandas = importlib.import_module("pandas")

    block = _readme_blocks()[1]
    body, mapped = block.rstrip().rsplit("\n", 1)
    assert mapped.startswith("flags = accounts.map_partitions(flags_of")
    monkeypatch.setenv("AGEGATE_SECRET", SECRET.decode())
    namespace: dict[str, Any] = {}
    exec(compile(body, "README.md", "exec"), namespace)
    flags_of = namespace["flags_of"]
    values = _readable_values()
    expected, _ = _local()
    parts = [pandas.DataFrame(values[:150]), pandas.DataFrame(values[150:])]
    rows = [row for part in parts for row in flags_of(part).to_dict("records")]
    found = sorted(
        (r["account_id"], tuple(r["codes"]), r["action"], r["jurisdiction"],
         None if pandas.isna(r["required_age"]) else r["required_age"], r["source"])
        for r in rows
    )  # fmt: skip
    assert found == sorted(f[:-1] for f in expected)
    # Dask's meta: an empty partition gives the columns, and no flag.
    meta = flags_of(pandas.DataFrame(columns=list(values[0])))
    assert meta.empty
    assert "line" not in meta.columns
    assert "account_id" in meta.columns


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("--map=dob", "--map dob: give FIELD=COLUMN"),
        ("--map=shoe_size=size", "unknown field(s) shoe_size"),
    ],
)
def test_the_example_job_refuses_a_bad_map_with_exit_2(
    tmp_path: Path, given: str, said: str
) -> None:
    if importlib.util.find_spec("pyspark") is None:
        _require("pyspark is not installed: pip install -e '.[spark]'")
    done = subprocess.run(
        [
            sys.executable, str(ROOT / "examples" / "spark_review.py"),
            str(tmp_path / "in.parquet"), str(tmp_path / "out"),
            "--today", TODAY.isoformat(), given,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert said in done.stderr
    assert not (tmp_path / "out").exists()


def test_collection_times_as_exports_write_them_on_spark(spark: Any) -> None:
    """Firebase's epoch milliseconds (read by their length), a local format
    given as `collected_formats`, and a spreadsheet's apostrophe before a
    phone: the flags of the local engine."""
    from agegate.spark import review

    fields = FieldMap(
        account_id="id", birthdate="dob", phone="phone", collected_at="at"
    )
    # 16 on 2023-01-15, an adult today; a Vancouver number.
    rows = [
        {
            "id": "ms",
            "dob": "2006-06-01",
            "phone": "'+16045550123",
            "at": "1673806920000",
        },
        {
            "id": "local",
            "dob": "2006-06-01",
            "phone": "+16045550123",
            "at": "15.01.2023 18:22",
        },
    ]
    frame = spark.createDataFrame(rows)
    found = {
        row["account_id"]: row.asDict()
        for row in review(
            frame, today=TODAY, fields=fields, secret=SECRET,
            collected_formats=["%d.%m.%Y %H:%M"],
        ).collect()
    }  # fmt: skip
    assert {k: (f["codes"], f["jurisdiction"]) for k, f in found.items()} == {
        "ms": (["MINOR_AT_COLLECTION"], "CA-BC"),
        "local": (["MINOR_AT_COLLECTION"], "CA-BC"),
    }
