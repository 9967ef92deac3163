"""What a removal flag is: the account, stable codes, the action and why.

A flag never holds a birthdate or any other personal data. The middleware
(profile updates), the batch review and the minor-report intake all raise
the same flags.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal, get_args

import attrs

from ..errors import AccountIdInvalid
from ..reasons import FlagCode

__all__ = [
    "MAX_ACCOUNT_ID",
    "STATUSES",
    "Action",
    "Flag",
    "FlagCode",
    "Status",
    "StoredFlag",
    "account_id_problem",
    "check_account_ids",
    "utc_now",
]

Action = Literal["remove", "verify"]
# cleared: a review screened the account again and no longer found the
# condition (the data was corrected); the flag is kept, closed.
# reappeared: a review found an account marked removed still in the store.
# planned, approved, erased, verified, failed: a removal's lifecycle, from a
# plan to every target reporting nothing left; held: a legal hold, which no
# removal touches until it is released.
Status = Literal[
    "open",
    "removed",
    "dismissed",
    "cleared",
    "reappeared",
    "planned",
    "approved",
    "erased",
    "verified",
    "failed",
    "held",
]
STATUSES: tuple[Status, ...] = get_args(Status)
# Ids come from URLs, request bodies and account stores: a store keeps none
# longer than this, so no client can make one row arbitrarily large.
MAX_ACCOUNT_ID = 256


def _codes(value: Iterable[str]) -> tuple[str, ...]:
    # Plain strings, as a flag read back from a store holds them.
    return tuple(str(code) for code in value)


def utc_now() -> datetime:
    return datetime.now(UTC)


@attrs.frozen
class Flag:
    """One account to act on. `fingerprint` is a keyed hash of the screened
    data, so a store can tell a re-run on unchanged data from changed data."""

    account_id: str
    codes: tuple[str, ...] = attrs.field(converter=_codes)
    action: Action
    jurisdiction: str | None = None
    required_age: int | None = None
    source: str = "review"
    raised_at: datetime = attrs.field(factory=utc_now)
    fingerprint: str | None = None
    # Where a review found the account: the line its record starts on (CSV,
    # JSON Lines, 1-based, header included) or its SQLite rowid.
    line: int | None = None
    rowid: int | None = None
    # The flags one report from the intake filed (an account id, an e-mail
    # address, a phone) share this id, so a reviewer sees them as one report.
    report_id: str | None = None


@attrs.frozen
class StoredFlag:
    """A flag as the store keeps it, with its resolution."""

    flag: Flag
    status: Status
    updated_at: datetime
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    resolution_note: str | None = None


def account_id_problem(account_id: str) -> str | None:
    """Why a store refuses this account id, or None when it keeps it."""
    if not account_id:
        return "is empty"
    if len(account_id) > MAX_ACCOUNT_ID:
        return f"is longer than {MAX_ACCOUNT_ID} characters"
    try:
        account_id.encode("utf-8")
    except UnicodeEncodeError:
        return "is not encodable as UTF-8"
    return None


def check_account_ids(flags: Iterable[Flag]) -> list[Flag]:
    """The flags as a list, or AccountIdInvalid for the first unusable id."""
    checked = list(flags)
    for flag in checked:
        why = account_id_problem(flag.account_id)
        if why is not None:
            raise AccountIdInvalid(why)
    return checked
