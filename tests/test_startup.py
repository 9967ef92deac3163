"""What a short command loads: `agegate check` and a review of a small file
load no pyarrow, numpy, pycountry, tqdm or importlib.metadata once the
start-up cache holds the tables and the places are given as codes (a place
name is looked up in pycountry's names), and the small review's flags are
the columnar engine's. Such a review loads no flag store, SQLite driver,
assurance model or logging either (`REVIEW_UNUSED`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "a test key of enough bytes"
HEAVY = ("pyarrow", "numpy", "pycountry", "tqdm", "importlib.metadata", "starlette")
_MAIN = (
    "import json, sys\n"
    "from agegate.cli.main import main\n"
    "status = main(sys.argv[1:])\n"
    "loaded = sorted({m for m in sys.modules})\n"
    "print(json.dumps([status, loaded]), file=sys.stderr)\n"
)


def _warm() -> None:
    """Fill the start-up cache (the session's) as a first run would."""
    code = "import agegate.rules as r; r.load_rules()"
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ)


def _loaded(*argv: str) -> tuple[int, set[str], str]:
    _warm()
    done = subprocess.run(
        [sys.executable, "-c", _MAIN, *argv], capture_output=True, text=True,
        check=False, env=os.environ,
    )  # fmt: skip
    status, loaded = json.loads(done.stderr.strip().splitlines()[-1])
    return status, set(loaded), done.stdout


def _heavy(loaded: set[str]) -> list[str]:
    return sorted(
        name for name in loaded
        if any(name == top or name.startswith(f"{top}.") for top in HEAVY)
    )  # fmt: skip


def test_check_loads_nothing_it_does_not_need() -> None:
    argv = ("check", "--birthdate=2010-01-01", "--country=US", "--today=2026-01-01")
    status, loaded, out = _loaded(*argv)
    assert status == 0
    assert "outcome:      BLOCK" in out
    assert _heavy(loaded) == []


def _accounts(path: Path) -> None:
    path.write_text(
        "user_id,dob,country,phone,collected_at\n"
        "u1,2012-05-01,US,,2024-01-01\n"
        "u2,1980-06-15,FR,+33 6 12 34 56 78,2024-01-01\n"
        "u3,2011-02-03,,+44 7400 123456,\n"
        ",2013-03-03,DE,,2025-05-05\n"
        "u5,not a date,US,,2024-01-01\n",
        encoding="utf-8",
    )


def test_a_small_review_loads_no_arrow_and_flags_as_the_columnar_engine(
    tmp_path: Path,
) -> None:
    path = tmp_path / "accounts.csv"
    _accounts(path)
    found = {}
    for engine in ((), ("--engine=columnar",)):
        out, summary = tmp_path / f"flags{len(engine)}.jsonl", tmp_path / "s.json"
        status, loaded, _ = _loaded(
            "review", str(path), "--today=2026-11-28", f"--secret={SECRET}",
            "--map=account_id=user_id", "--map=birthdate=dob", "--quiet",
            f"--flags-out={out}", f"--summary={summary}", *engine,
        )  # fmt: skip
        assert status == 0
        flags = [json.loads(line) for line in out.read_text().splitlines()]
        for flag in flags:
            flag.pop("raised_at")
        counts = json.loads(summary.read_text())
        for moving in ("started_at", "finished_at"):
            counts.pop(moving)
        found[engine] = (flags, counts)
        if not engine:
            # importlib.metadata gives the summary its version.
            assert {n.split(".")[0] for n in _heavy(loaded)} == {"importlib"}
    assert found[()] == found[("--engine=columnar",)]
    assert len(found[()][0]) == 4


# What a review writing a flag file, without --store or --assurance, does not
# need: the flag stores, the SQLite driver, the assurance model, logging,
# shutil (argparse asks it the terminal width; `main.terminal_columns`).
REVIEW_UNUSED = (
    "sqlite3",
    "agegate.flags.store",
    "agegate.flags.postgres",
    "agegate.flags.lifecycle",
    "agegate.assurance",
    "logging",
    "shutil",
)


def _unused(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(
        name for name in loaded
        if any(name == top or name.startswith(f"{top}.") for top in names)
    )  # fmt: skip


def test_a_small_review_without_a_summary_loads_no_metadata(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    _accounts(path)
    status, loaded, _ = _loaded(
        "review", str(path), "--today=2026-11-28", f"--secret={SECRET}",
        "--map=account_id=user_id", "--map=birthdate=dob", "--quiet",
        f"--flags-out={tmp_path / 'flags.jsonl'}",
    )  # fmt: skip
    assert status == 0
    assert _heavy(loaded) == []
    assert _unused(loaded, REVIEW_UNUSED) == []


def test_the_help_is_as_wide_as_argparse_makes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil

    from agegate.cli.main import terminal_columns

    for columns in ("", "0", "wide", "61", "200"):
        monkeypatch.setenv("COLUMNS", columns)
        assert terminal_columns() == shutil.get_terminal_size().columns
    monkeypatch.delenv("COLUMNS")
    assert terminal_columns() == shutil.get_terminal_size().columns
