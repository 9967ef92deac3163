"""Policy(readings=...) and Policy(threshold="contract"): through screen(), the
middleware under uvicorn, and the `agegate` command.

The cases are generated from the tables: every place with a contested rule or
a contract rule of its own, one day either side of its age, on dates before
and after each recorded change. The expected age is worked out here from the
table lines themselves, not through `Rules`, so a wrong fallback shows.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import httpx2
import pytest
from cli_support import agegate
from gate_support import Recorder, make_app, uvicorn_server, years_ago

from agegate import (
    Confidence,
    Kind,
    Outcome,
    Policy,
    Reason,
    Rule,
    decision_to_dict,
    load_rules,
    screen,
)
from agegate.age import age_on
from agegate.codes import country_of

RULES = load_rules()
EVERY_RULE = tuple(RULES.all())
KINDS = {"majority": Kind.MAJORITY, "contract": Kind.CONTRACT}
READINGS = ("strict", "prevailing")
# A date long before and one after every change recorded for these places.
EARLY = date(2000, 6, 15)
LATE = date(2026, 11, 28)
DAY = timedelta(days=1)

# Rules for one kind of service have tests of their own (test_service_kinds).
CONTESTED = sorted(
    {rule.code for rule in EVERY_RULE if rule.contested and rule.service is None}
)
CONTRACT = sorted({rule.code for rule in EVERY_RULE if rule.kind is Kind.CONTRACT})


def _line_in_force(code: str, kind: Kind, on: date) -> Rule | None:
    lines = [
        rule
        for rule in EVERY_RULE
        if rule.code == code
        and rule.kind is kind
        and (rule.effective_from or date.min) <= on
    ]
    return max(lines, key=lambda r: r.effective_from or date.min, default=None)


def expected_rule(code: str, threshold: str, on: date) -> Rule:
    """The line that answers: the place's own, then its country's; a contract
    question falls back to the majority line at each step."""
    kinds = [KINDS[threshold]]
    if threshold == "contract":
        kinds.append(Kind.MAJORITY)
    for place in dict.fromkeys((code, country_of(code))):
        for kind in kinds:
            if (found := _line_in_force(place, kind, on)) is not None:
                return found
    raise AssertionError(f"no rule answers {code}")


def expected_age(rule: Rule, readings: str) -> int:
    age = rule.prevailing if readings == "prevailing" and rule.contested else rule.age
    assert age is not None
    return max(18, age)


def change_dates(code: str) -> list[date]:
    """EARLY, LATE, and the day before and the day of every recorded change."""
    found = {EARLY, LATE}
    for rule in EVERY_RULE:
        changed = rule.effective_from
        if (
            changed
            and rule.code in (code, country_of(code))
            and rule.kind in KINDS.values()
        ):
            found |= {changed - DAY, changed}
    return sorted(found)


CASES = [
    pytest.param(
        code, on, threshold, readings, id=f"{code}-{on}-{threshold}-{readings}"
    )
    for code in sorted(set(CONTESTED) | set(CONTRACT))
    for on in change_dates(code)
    for threshold in KINDS
    for readings in READINGS
]


def place(code: str) -> dict[str, str]:
    if "-" in code:
        return {"country": country_of(code), "subdivision": code}
    return {"country": code}


def born_turning(years: int, birthday: date) -> date:
    """A birthdate whose `years`-th birthday falls on `birthday` (a 29 February
    birthday in a common year is kept on the day after, as agegate reads it)."""
    try:
        return birthday.replace(year=birthday.year - years)
    except ValueError:
        return date(birthday.year - years, 3, 1)


def test_the_tables_hold_the_places_these_tests_are_about() -> None:
    # Guards the generated cases against silently covering nothing.
    assert {"ID", "NG", "ZM"} <= set(CONTESTED)
    assert {"NZ", "SG", "US-AL", "US-MS"} <= set(CONTRACT)
    # The recorded changes are among the dates tried, with the day before each.
    for code, changed in (
        ("ZM", date(2016, 1, 5)),
        ("ZM", date(2025, 12, 18)),
        ("SG", date(2009, 3, 1)),
        ("US-AL", date(2019, 9, 1)),
    ):
        assert {changed - DAY, changed} <= set(change_dates(code))


@pytest.mark.parametrize(("code", "on", "threshold", "readings"), CASES)
def test_one_day_either_side_of_the_age(
    code: str, on: date, threshold: str, readings: str
) -> None:
    policy = Policy(threshold=threshold, readings=readings)  # type: ignore[arg-type]
    rule = expected_rule(code, threshold, on)
    age = expected_age(rule, readings)
    reading = readings if rule.contested else None
    for birthday, outcome in (
        (on + DAY, Outcome.BLOCK),
        (on, Outcome.ALLOW),
        (on - DAY, Outcome.ALLOW),
    ):
        born = born_turning(age, birthday)
        assert age_on(born, on) == (age - 1 if outcome is Outcome.BLOCK else age)
        record = {"birthdate": born.isoformat(), **place(code)}
        decision = screen(record, policy=policy, today=on, rules=RULES)
        assert decision.outcome is outcome, (birthday, decision)
        assert decision.required_age == age
        assert decision.reading == reading
        if outcome is Outcome.BLOCK:
            assert decision.reasons == (Reason.UNDERAGE,)


# Written out by hand, so that a table edit that changes them is a choice.
@pytest.mark.parametrize(
    ("code", "on", "threshold", "readings", "age"),
    [
        ("NG", LATE, "majority", "strict", 21),
        ("NG", LATE, "majority", "prevailing", 18),
        ("NG", LATE, "contract", "prevailing", 18),
        ("ID", LATE, "majority", "strict", 21),
        ("ID", LATE, "majority", "prevailing", 18),
        ("ZM", date(2016, 1, 4), "majority", "prevailing", 21),
        ("ZM", date(2016, 1, 5), "majority", "prevailing", 19),
        ("ZM", date(2025, 12, 17), "majority", "prevailing", 19),
        ("ZM", date(2025, 12, 18), "majority", "prevailing", 18),
        ("ZM", date(2025, 12, 18), "majority", "strict", 21),
        ("ZM", date(2025, 12, 18), "contract", "prevailing", 18),
        ("SG", date(2009, 2, 28), "contract", "strict", 21),
        ("SG", date(2009, 3, 1), "contract", "strict", 18),
        ("SG", date(2009, 3, 1), "majority", "strict", 21),
        ("US-AL", date(2019, 8, 31), "contract", "strict", 19),
        ("US-AL", date(2019, 9, 1), "contract", "strict", 18),
        ("US-AL", date(2019, 9, 1), "majority", "prevailing", 19),
        # Personal-property contracts at 18 (s. 93-19-13) are the prevailing
        # reading; a service's terms keep the general 21 under the strict one.
        ("US-MS", LATE, "contract", "strict", 21),
        ("US-MS", LATE, "contract", "prevailing", 18),
        ("US-MS", LATE, "majority", "strict", 21),
        ("NZ", LATE, "contract", "strict", 18),
        ("NZ", LATE, "majority", "prevailing", 20),
        ("GB", LATE, "contract", "prevailing", 18),
    ],
)
def test_known_ages(
    code: str, on: date, threshold: str, readings: str, age: int
) -> None:
    policy = Policy(threshold=threshold, readings=readings)  # type: ignore[arg-type]
    younger = born_turning(age, on + DAY).isoformat()
    decision = screen({"birthdate": younger, **place(code)}, policy=policy, today=on)
    assert (decision.outcome, decision.required_age) == (Outcome.BLOCK, age)


def test_every_contested_and_contract_place_differs_somewhere() -> None:
    """Each place the cases cover has a date where the choice changes the age."""
    for code in CONTESTED:
        assert any(
            expected_age(r := expected_rule(code, threshold, on), "strict")
            != expected_age(r, "prevailing")
            for on in change_dates(code)
            for threshold in KINDS
        ), code
    for code in CONTRACT:
        assert any(
            expected_age(expected_rule(code, "contract", on), reading)
            != expected_age(expected_rule(code, "majority", on), "strict")
            for on in change_dates(code)
            for reading in READINGS
        ), code


# -- the Policy and the Decision --------------------------------------------


def test_policy_defaults_and_validation() -> None:
    assert (Policy().threshold, Policy().readings) == ("majority", "strict")
    assert Policy(threshold="contract", readings="prevailing").readings == "prevailing"
    for bad in ("lenient", "Strict", "", None, 1):
        with pytest.raises(ValueError, match="readings"):
            Policy(readings=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold"):
        Policy(threshold="contracts")  # type: ignore[arg-type]


def test_the_decision_says_which_reading_applied() -> None:
    adult = {"birthdate": "1980-01-01"}
    strict = screen({**adult, "country": "NG"}, today=LATE)
    assert strict.reading == "strict"
    prevailing = screen(
        {**adult, "country": "NG"}, policy=Policy(readings="prevailing"), today=LATE
    )
    assert prevailing.reading == "prevailing"
    # No contested rule involved: no reading to report.
    plain = screen({**adult, "country": "GB"}, policy=Policy(readings="prevailing"))
    assert plain.reading is None
    # An operator's override replaces the table's age, and with it the reading.
    overridden = Policy(readings="prevailing", overrides={"NG": 21})
    assert screen({**adult, "country": "NG"}, policy=overridden).reading is None
    # A contested place among several signals still reports the reading.
    both = screen(
        {**adult, "country": "GB", "phone": "+234 803 123 4567"},
        policy=Policy(readings="prevailing"),
        today=LATE,
    )
    assert "NG" in both.jurisdictions
    assert both.reading == "prevailing"


def test_decision_to_dict_carries_the_reading_and_nothing_personal() -> None:
    record = {"birthdate": "2007-11-01", "country": "NG"}
    decision = screen(record, policy=Policy(readings="prevailing"), today=LATE)
    as_dict = decision_to_dict(decision)
    assert as_dict["reading"] == "prevailing"
    assert as_dict["outcome"] == "ALLOW"
    assert "2007" not in json.dumps(as_dict)
    assert decision_to_dict(screen(record, today=LATE))["reading"] == "strict"


def test_confidence_is_exported() -> None:
    assert {c.value for c in Confidence} == {"high", "medium", "low"}
    assert all(isinstance(rule.confidence, Confidence) for rule in EVERY_RULE)


# -- door 1: the middleware under a real server -----------------------------


@pytest.mark.parametrize(
    ("readings", "status", "reading"),
    [("strict", 403, None), ("prevailing", 200, "prevailing")],
)
def test_middleware_takes_the_reading(
    readings: str, status: int, reading: str | None
) -> None:
    recorder = Recorder()
    app = make_app(recorder, policy=Policy(readings=readings))  # type: ignore[arg-type]
    with (
        uvicorn_server(app) as url,
        httpx2.Client(base_url=url, timeout=10) as http,
    ):
        response = http.post(
            "/signup", json={"birthdate": years_ago(18), "country": "NG"}
        )
    assert response.status_code == status
    if status == 403:
        assert recorder.requests == []
        # The notice reveals no threshold, so nothing of the reading either.
        assert "prevailing" not in response.text
        assert "strict" not in response.text
    else:
        (seen,) = recorder.requests
        assert seen["decision"].reading == reading
        assert seen["decision"].required_age == 18


# -- door 2 and the command line ---------------------------------------------


CHECK_NG = ("check", "--birthdate", "2007-11-01", "--country", "NG")


def test_check_takes_readings() -> None:
    strict = agegate(*CHECK_NG, "--today", str(LATE), "--json")
    assert strict.returncode == 0, strict.stderr
    assert json.loads(strict.stdout)["outcome"] == "BLOCK"
    assert json.loads(strict.stdout)["reading"] == "strict"
    prevailing = agegate(*CHECK_NG, "--today", str(LATE), "--readings", "prevailing")
    assert prevailing.returncode == 0, prevailing.stderr
    assert "outcome:      ALLOW" in prevailing.stdout
    assert "reading:      prevailing" in prevailing.stdout


def test_check_takes_the_contract_threshold() -> None:
    args = ("check", "--birthdate", "2007-11-01", "--country", "SG", "--today")
    majority = agegate(*args, str(LATE), "--json", "--strict")
    assert majority.returncode == 1
    assert json.loads(majority.stdout)["required_age"] == 21
    contract = agegate(*args, str(LATE), "--json", "--threshold", "contract")
    assert json.loads(contract.stdout)["outcome"] == "ALLOW"
    assert json.loads(contract.stdout)["reading"] is None


@pytest.mark.parametrize(
    "option", [("--readings", "lenient"), ("--threshold", "contracts")]
)
def test_bad_choices_exit_2(option: tuple[str, str]) -> None:
    result = agegate(*CHECK_NG, *option)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_review_takes_readings_and_the_contract_threshold(tmp_path: Path) -> None:
    source = tmp_path / "accounts.csv"
    source.write_text(
        "account_id,birthdate,country,subdivision\n"
        "ng-18,2008-06-01,NG,\n"  # strict 21, prevailing 18
        "sg-19,2007-06-01,SG,\n"  # majority 21, contract 18
        "al-18,2008-06-01,US,AL\n"  # majority 19, contract 18
        "gb-17,2009-06-01,GB,\n"  # under 18 on every reading
        "de-46,1980-01-01,DE,\n"
    )

    def flagged(*extra: str) -> tuple[list[str], dict[str, object]]:
        flags, summary = tmp_path / "flags.jsonl", tmp_path / "summary.json"
        result = agegate(
            "review",
            str(source),
            "--today=2026-11-28",
            f"--flags-out={flags}",
            f"--summary={summary}",
            "--quiet",
            *extra,
        )
        assert result.returncode == 0, result.stderr
        lines = flags.read_text().splitlines()
        policy = json.loads(summary.read_text())["policy"]
        return sorted(json.loads(line)["account_id"] for line in lines), policy

    ids, policy = flagged()
    assert ids == ["al-18", "gb-17", "ng-18", "sg-19"]
    assert (policy["readings"], policy["threshold"]) == ("strict", "majority")
    ids, policy = flagged("--readings", "prevailing", "--threshold", "contract")
    assert ids == ["gb-17"]
    assert (policy["readings"], policy["threshold"]) == ("prevailing", "contract")
    ids, _ = flagged("--readings", "prevailing")
    assert ids == ["al-18", "gb-17", "sg-19"]
