"""`agegate flags list|show|resolve|export` over a real store."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agegate.cli.main import main
from agegate.flags import Flag, SqliteFlagStore


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "flags.sqlite"
    when = datetime(2026, 11, 1, tzinfo=UTC)
    with SqliteFlagStore(path) as flags:
        flags.add_many(
            [
                Flag("a1", ("MINOR_NOW",), "remove", "CA-BC", 19, raised_at=when),
                Flag("a2", ("BIRTHDATE_MISSING",), "verify", "US", 18, raised_at=when),
                Flag("a3", ("MINOR_AT_COLLECTION",), "remove", "JP", 20, raised_at=when),
            ]
        )  # fmt: skip
    return path


def test_list_open_flags(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flags", "list", "--store", str(store)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:4] for line in lines] == [
        ["account_id", "status", "action", "codes"],
        ["a1", "open", "remove", "MINOR_NOW"],
        ["a2", "open", "verify", "BIRTHDATE_MISSING"],
        ["a3", "open", "remove", "MINOR_AT_COLLECTION"],
    ]


def test_resolve_then_list_and_show(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--store", str(store), "--by", "dana", "--why", "account deleted"]
    assert main(["flags", "resolve", "a1", "--status", "removed", *args]) == 0
    assert main(["flags", "resolve", "a2", "--status", "dismissed", *args]) == 0
    # Nothing open is left for a1: resolving it again is an input error.
    assert main(["flags", "resolve", "a1", "--status", "removed", *args]) == 2
    capsys.readouterr()

    assert main(["flags", "list", "--store", str(store)]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == [
        "account_id",
        "a3",
    ]
    assert main(["flags", "list", "--store", str(store), "--status=all", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(f["account_id"], f["status"]) for f in listed] == [
        ("a1", "removed"),
        ("a2", "dismissed"),
        ("a3", "open"),
    ]

    assert main(["flags", "show", "a1", "--store", str(store)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "removed"
    assert shown["resolved_by"] == "dana"
    assert shown["resolution_note"] == "account deleted"
    assert shown["resolved_at"] is not None
    assert main(["flags", "show", "zz", "--store", str(store)]) == 2


def test_export(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export.csv"
    assert main(["flags", "export", "--store", str(store), "--out", str(out)]) == 0
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["account_id"], r["codes"], r["status"]) for r in rows] == [
        ("a1", "MINOR_NOW", "open"),
        ("a2", "BIRTHDATE_MISSING", "open"),
        ("a3", "MINOR_AT_COLLECTION", "open"),
    ]
    assert main(["flags", "export", "--store", str(store)]) == 0
    exported = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [f["required_age"] for f in exported] == [19, 18, 20]
    bad = ["flags", "export", "--store", str(store), "--out", str(tmp_path / "x.txt")]
    assert main(bad) == 2


def test_a_missing_store_is_an_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"
    assert main(["flags", "list", "--store", str(missing)]) == 2
    assert not missing.exists()


def test_every_command_is_documented_in_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in (["review"], ["flags"], ["flags", "resolve"]):
        with pytest.raises(SystemExit) as done:
            main([*command, "--help"])
        assert done.value.code == 0
        assert "usage: agegate" in capsys.readouterr().out


def test_every_flag_writer_neutralises_formula_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "formula.sqlite"
    with SqliteFlagStore(path) as flags:
        flags.add(Flag("=HYPERLINK(1)", ("MINOR_NOW",), "remove", "US", 18))
    out = tmp_path / "export.csv"
    assert main(["flags", "export", "--store", str(path), "--out", str(out)]) == 0
    with out.open(newline="") as f:
        exported = list(csv.DictReader(f))
    capsys.readouterr()
    assert main(["flags", "list", "--store", str(path), "--format", "csv"]) == 0
    listed = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert exported[0]["account_id"] == listed[0]["account_id"] == "'=HYPERLINK(1)"
    assert list(exported[0]) == list(listed[0])


def test_export_takes_ndjson_and_refuses_other_suffixes_before_writing(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export.ndjson"
    assert main(["flags", "export", "--store", str(store), "--out", str(out)]) == 0
    assert [json.loads(x)["account_id"] for x in out.read_text().splitlines()] == [
        "a1",
        "a2",
        "a3",
    ]
    bad = tmp_path / "export.xlsx"
    assert main(["flags", "export", "--store", str(store), "--out", str(bad)]) == 2
    assert "--out must end in .jsonl or .csv" in capsys.readouterr().err
    assert not bad.exists()


def test_a_file_that_is_no_store_is_an_input_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 100)
    assert main(["flags", "list", "--store", str(junk)]) == 2
