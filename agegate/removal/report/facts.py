"""What the report shows, counted from a flag store and review summaries.

Only counts and stable codes leave this module: no account id, report id,
fingerprint, reviewer name or note is kept, and a code, jurisdiction or
source whose text is not of the shape agegate writes is counted under a
fixed label instead of being shown, so a damaged or hostile store cannot
carry personal data into the page.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from ...errors import InputError
from ...flags.model import STATUSES, StoredFlag
from ...reasons import FlagCode
from ...urls import masked

__all__ = [
    "DELAY_BUCKETS",
    "Delays",
    "FlagFacts",
    "ReviewRun",
    "flag_facts",
    "place_label",
    "read_summary",
]

_JURISDICTION = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?", re.ASCII)
_SOURCE = re.compile(r"[a-z][a-z_-]{0,23}", re.ASCII)
_CODES = frozenset(code.value for code in FlagCode)
UNKNOWN = "unknown"
OTHER = "(other)"

# Upper bounds in days, and the label of each bucket of the delay chart.
DELAY_BUCKETS: tuple[tuple[float, str], ...] = (
    (1, "under 1 day"),
    (7, "1-7 days"),
    (30, "7-30 days"),
    (90, "30-90 days"),
    (365, "90-365 days"),
    (float("inf"), "over a year"),
)


def shown_code(code: str) -> str:
    return code if code in _CODES else OTHER


def shown_jurisdiction(code: str | None) -> str:
    if code is None or code == UNKNOWN:
        return UNKNOWN
    return code if _JURISDICTION.fullmatch(code) else OTHER


def shown_source(source: str) -> str:
    return source if _SOURCE.fullmatch(source) else OTHER


def place_label(place: str) -> str:
    """How the page names a store or an input: a URL with its password
    masked, a file by its name alone (its directory may name a person)."""
    if "://" in place:
        return masked(place)
    return Path(place).name or place


def _utc(moment: datetime) -> datetime:
    """A stored time in UTC; one written without an offset was UTC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        return aware.astimezone(UTC)
    except OverflowError:
        # A time within a day of year 1 or 9999 whose offset takes it past
        # either: the nearest time there is, so the flag is still counted.
        edge = datetime.max if moment.year > 1 else datetime.min
        return edge.replace(tzinfo=UTC)


def month_of(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m")


@attrs.frozen
class Delays:
    """Days from a flag being raised to its removal being verified."""

    buckets: tuple[tuple[str, int], ...]
    count: int
    median_days: float | None
    p90_days: float | None
    longest_days: float | None


def delays(days: Iterable[float]) -> Delays:
    ordered = sorted(max(0.0, d) for d in days)
    counts = Counter[str]()
    for value in ordered:
        counts[next(label for bound, label in DELAY_BUCKETS if value < bound)] += 1
    if not ordered:
        return Delays(
            tuple((label, 0) for _, label in DELAY_BUCKETS), 0, None, None, None
        )
    # The nearest rank: the smallest value at or above 90% of them.
    p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]
    return Delays(
        buckets=tuple((label, counts[label]) for _, label in DELAY_BUCKETS),
        count=len(ordered),
        median_days=statistics.median(ordered),
        p90_days=p90,
        longest_days=ordered[-1],
    )


@attrs.frozen
class FlagFacts:
    """The counts of one flag store's flags."""

    total: int
    by_status: tuple[tuple[str, int], ...]
    by_code: tuple[tuple[str, int], ...]
    by_jurisdiction: tuple[tuple[str, int], ...]
    by_source: tuple[tuple[str, int], ...]
    # (month, flags calling for removal, flags calling for a check)
    by_month: tuple[tuple[str, int, int], ...]
    to_verified: Delays


def _ranked(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def flag_facts(flags: Iterable[StoredFlag]) -> FlagFacts:
    status, code, place, source = (Counter[str]() for _ in range(4))
    months: dict[str, Counter[str]] = {}
    waited: list[float] = []
    total = 0
    for stored in flags:
        flag = stored.flag
        total += 1
        status[stored.status] += 1
        code.update({shown_code(c) for c in flag.codes} or {"(no code)"})
        place[shown_jurisdiction(flag.jurisdiction)] += 1
        source[shown_source(flag.source)] += 1
        months.setdefault(month_of(flag.raised_at), Counter())[flag.action] += 1
        if stored.status == "verified":
            seconds = (_utc(stored.updated_at) - _utc(flag.raised_at)).total_seconds()
            waited.append(seconds / 86400)
    return FlagFacts(
        total=total,
        by_status=tuple((name, status[name]) for name in STATUSES),
        by_code=_ranked(code),
        by_jurisdiction=_ranked(place),
        by_source=_ranked(source),
        by_month=tuple(
            (month, seen["remove"], seen["verify"])
            for month in _month_range(sorted(months))
            for seen in [months.get(month, Counter())]
        ),
        to_verified=delays(waited),
    )


def _month_range(present: list[str]) -> list[str]:
    """Every month from the first to the last, so a quiet month shows as
    zero; only the months present when they span more than twenty years."""
    if not present:
        return []
    first, last = (
        tuple(int(p) for p in m.split("-")) for m in (present[0], present[-1])
    )
    span = (last[0] - first[0]) * 12 + last[1] - first[1]
    if span > 240:
        return present
    year, month = first
    found = []
    for _ in range(span + 1):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


@attrs.frozen
class ReviewRun:
    """What one `agegate review --summary` file says, counts only."""

    name: str
    started: str
    input: str
    rows_read: int
    rows_screened: int
    rows_unreadable: int
    accounts_flagged: int
    completed: bool
    by_code: tuple[tuple[str, int], ...]


# A review writes a summary of a few kilobytes; one far larger is not one,
# and is not read whole into memory to find out.
MAX_SUMMARY_BYTES = 8 * 1024 * 1024


def read_summary(path: str) -> ReviewRun:
    """A review summary's counts, or an InputError naming the file."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SUMMARY_BYTES + 1)
    except OSError as error:
        raise InputError(
            f"cannot read the summary ({error.strerror})", where=path
        ) from None
    if len(raw) > MAX_SUMMARY_BYTES:
        raise InputError("larger than 8 MiB; not a review summary", where=path)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InputError("the summary is not JSON", where=path) from None
    if not isinstance(data, dict):
        raise InputError("the summary is not a JSON object", where=path)
    return ReviewRun(
        name=Path(path).name,
        started=_moment_text(data.get("started_at"), path),
        input=place_label(str(data.get("input") or "-")),
        rows_read=_count(data, "rows_read", path),
        rows_screened=_count(data, "rows_screened", path),
        rows_unreadable=_count(data, "rows_unreadable", path),
        accounts_flagged=_count(data, "accounts_flagged", path),
        completed=data.get("completed") is True,
        by_code=_code_counts(data.get("by_code", {}), path),
    )


def _count(data: Mapping[str, Any], key: str, path: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{key} is not a count; not a review summary", where=path)
    return value


def _code_counts(value: object, path: str) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, dict):
        raise InputError("by_code is not an object; not a review summary", where=path)
    counts = Counter[str]()
    for code, count in value.items():
        counts[shown_code(str(code))] += _count({"by_code": count}, "by_code", path)
    return _ranked(counts)


def _moment_text(value: object, path: str) -> str:
    if value is None:
        return "-"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise InputError("started_at is not a date and time", where=path) from None
    return _utc(moment).strftime("%Y-%m-%d %H:%M UTC")
