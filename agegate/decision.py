"""What screening decides, in a form that is safe to log and to store.

A Decision carries outcomes, ages, jurisdiction codes, reason codes and field
names: never a birthdate, name, phone number, e-mail or any submitted value.
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Any

import attrs

from .reasons import Reason
from .rules import ReadingChoice

# Reason lives in `reasons`; it is re-exported here, where it has always been.
__all__ = [
    "BIRTH_REASONS",
    "Decision",
    "Outcome",
    "Problem",
    "Reason",
    "decision_to_dict",
]


class Outcome(enum.Enum):
    ALLOW = "ALLOW"
    BLOCK = "BLOCK"
    NEEDS_INFO = "NEEDS_INFO"
    INVALID = "INVALID"


# Reasons that say the birthdate (or declared age) is unusable.
BIRTH_REASONS = frozenset(
    {
        Reason.BIRTHDATE_MALFORMED,
        Reason.BIRTHDATE_AMBIGUOUS,
        Reason.BIRTHDATE_IN_FUTURE,
        Reason.BIRTHDATE_IMPLAUSIBLE,
        Reason.BIRTHDATE_INCOMPLETE,
        Reason.AGE_MALFORMED,
        Reason.AGE_IMPLAUSIBLE,
    }
)


@attrs.frozen
class Problem:
    """One input that is missing or unusable: which field, and why."""

    field: str
    reason: str


@attrs.frozen
class Decision:
    """The outcome of screening one record.

    `reading` says which reading applied where a contested rule (one with a
    prevailing age recorded) gave a jurisdiction's threshold: "strict" or
    "prevailing", the policy's choice; None when no contested rule's age was
    used (none was in force, or an override replaced it).
    """

    outcome: Outcome
    required_age: int | None
    jurisdiction: str | None
    reasons: tuple[str, ...]
    jurisdictions: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    on: date | None = None
    reading: ReadingChoice | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    @property
    def signals_conflict(self) -> bool:
        return Reason.SIGNALS_CONFLICT in self.reasons


def decision_to_dict(decision: Decision) -> dict[str, Any]:
    """A JSON-ready dict of a decision (it holds no personal data)."""
    return {
        "outcome": decision.outcome.value,
        "required_age": decision.required_age,
        "jurisdiction": decision.jurisdiction,
        "reasons": list(decision.reasons),
        "jurisdictions": list(decision.jurisdictions),
        "fields": list(decision.fields),
        "on": decision.on.isoformat() if decision.on else None,
        "reading": decision.reading,
    }
