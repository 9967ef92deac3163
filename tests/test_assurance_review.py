"""`agegate review --assurance`: accounts whose proof of age has lapsed where
the policy needs one are flagged ASSURANCE_LAPSED (verify, never remove on
that alone), through the real command."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from tests.cli_support import agegate

TODAY = date(2026, 6, 1)


def _store(tmp_path: Path) -> Path:
    rows = [
        "account_id,birthdate,country,assurance_valid_until",
        f"gb-fresh,1980-01-01,GB,{TODAY + timedelta(days=30)}",
        f"gb-lapsed,1980-01-01,GB,{TODAY - timedelta(days=1)}",
        "gb-never,1980-01-01,GB,",
        "gb-garbled,1980-01-01,GB,not a date",
        f"gb-minor,2015-01-01,GB,{TODAY + timedelta(days=30)}",
        "ca-none,1980-01-01,CA,",
        f"gb-today,1980-01-01,GB,{TODAY}",
    ]
    path = tmp_path / "accounts.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _flags(path: Path) -> dict[str, dict[str, object]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {f["account_id"]: f for f in map(json.loads, lines)}


def test_lapsed_assurance_is_flagged_for_verification(tmp_path: Path) -> None:
    out = tmp_path / "flags.jsonl"
    done = agegate(
        "review",
        str(_store(tmp_path)),
        "--today",
        TODAY.isoformat(),
        "--map",
        "assurance_valid_until=assurance_valid_until",
        "--assurance",
        "GB=HIGHLY_EFFECTIVE",
        "--flags-out",
        str(out),
        "--secret",
        "review-secret-for-assurance-tests",
    )
    assert done.returncode == 0, done.stderr
    flags = _flags(out)
    assert set(flags) == {"gb-lapsed", "gb-never", "gb-garbled", "gb-minor"}
    for account in ("gb-lapsed", "gb-never", "gb-garbled"):
        assert flags[account]["codes"] == ["ASSURANCE_LAPSED"]
        assert flags[account]["action"] == "verify"
    # A minor is removed for being a minor, whatever their proof says.
    assert flags["gb-minor"]["codes"] == ["MINOR_NOW"]
    assert flags["gb-minor"]["action"] == "remove"


def test_assurance_needs_its_column_and_a_known_level(tmp_path: Path) -> None:
    store = str(_store(tmp_path))
    unmapped = agegate("review", store, "--assurance", "GB=HIGHLY_EFFECTIVE")
    assert unmapped.returncode == 2
    assert "assurance_valid_until" in unmapped.stderr
    mapped = ("--map", "assurance_valid_until=assurance_valid_until")
    bad = agegate("review", store, *mapped, "--assurance", "GB=VERY_SURE")
    assert bad.returncode == 2
    assert "HIGHLY_EFFECTIVE" in bad.stderr
    missing = agegate(
        "review",
        store,
        "--map",
        "assurance_valid_until=nope",
        "--assurance",
        "GB=BASIC",
    )
    assert missing.returncode == 2
    assert "nope" in missing.stderr


def test_without_assurance_the_column_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "flags.jsonl"
    done = agegate(
        "review",
        str(_store(tmp_path)),
        "--today",
        TODAY.isoformat(),
        "--map",
        "assurance_valid_until=assurance_valid_until",
        "--flags-out",
        str(out),
        "--secret",
        "review-secret-for-assurance-tests",
    )
    assert done.returncode == 0, done.stderr
    assert set(_flags(out)) == {"gb-minor"}


def test_the_columnar_engine_refuses_an_assurance_review() -> None:
    import pytest

    from agegate.assurance import Level
    from agegate.review.columnar import ColumnarReviewer
    from agegate.review.reviewer import ReviewSettings

    settings = ReviewSettings(
        today=TODAY,
        secret="review-secret-for-assurance-tests",
        assurance={"GB": Level.EFFECTIVE},
    )
    with pytest.raises(ValueError, match="row engine"):
        ColumnarReviewer(settings)
