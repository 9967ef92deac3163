"""How a flag moves through a removal: open, planned, approved, erased,
verified; failed when a target could not be erased or still holds the
account; held under a legal hold, which no removal and no review touches
until it is released.

Every move is one `StatusChange` applied by a store's `set_status` in one
transaction, whatever door raised the flag (a profile route, a report, a
review): the removal names flags by (account, source) and says from which
statuses they may move, so a flag held meanwhile is left where it is.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, NoReturn, Protocol

import attrs

from ..errors import InputError
from .model import STATUSES, Status, StoredFlag

__all__ = [
    "GONE",
    "IN_REMOVAL",
    "KEPT",
    "PLANNABLE",
    "FlagColumns",
    "FlagRef",
    "FlagState",
    "StatusChange",
    "StatusStore",
    "checked_columns",
    "hold",
    "release",
    "upsert_sql",
]

IN_REMOVAL: tuple[Status, ...] = ("planned", "approved", "erased", "failed")
# Statuses a review's upsert leaves alone: a removal still under way (the
# flag must stay as its plan saw it) or a hold. An erased or verified
# account found again is not among them: it becomes `reappeared`.
KEPT: tuple[Status, ...] = ("planned", "approved", "failed", "held")
# What a review found again that was to be gone.
GONE: tuple[Status, ...] = ("removed", "erased", "verified")
# What a new plan may take: open flags, and those of a plan never run or of
# a run that failed.
PLANNABLE: tuple[Status, ...] = (
    "open",
    "reappeared",
    "planned",
    "approved",
    "failed",
)
# What a hold may stop: anything not yet erased.
HOLDABLE: tuple[Status, ...] = PLANNABLE


def _listed(statuses: Sequence[str]) -> str:
    return ", ".join(f"'{status}'" for status in statuses)


def upsert_sql(params: Sequence[str], differs: str) -> str:
    """A review's upsert of a flag, in either store's SQL (its nine
    `params` placeholders; `differs`, its null-safe "not equal"). On
    conflict an open or reappeared flag raised on changed data (another
    fingerprint or other codes) is updated; a cleared one is reopened
    whatever the data: the condition is back; a removed, erased or verified
    one becomes `reappeared` whatever the data, keeping who resolved it: the
    account was to be gone (a copy missed, a restore from backup). A
    dismissed flag, one on legal hold and one in a removal still under way
    (`KEPT`) are left as they are: decisions made on purpose, which a flag
    raised again never undoes."""
    (account, source, codes, action, place, age, fingerprint, raised, updated) = params
    gone = _listed(GONE)
    return f"""
INSERT INTO flags (account_id, source, codes, action, jurisdiction, required_age,
                   fingerprint, status, raised_at, updated_at)
VALUES ({account}, {source}, {codes}, {action}, {place}, {age}, {fingerprint},
        'open', {raised}, {updated})
ON CONFLICT (account_id, source) DO UPDATE SET
    codes = excluded.codes,
    action = excluded.action,
    jurisdiction = excluded.jurisdiction,
    required_age = excluded.required_age,
    fingerprint = excluded.fingerprint,
    status = CASE WHEN flags.status IN ({gone})
        THEN 'reappeared' WHEN flags.status = 'cleared' THEN 'open'
        ELSE flags.status END,
    updated_at = excluded.updated_at,
    resolved_by = CASE flags.status WHEN 'cleared' THEN NULL ELSE flags.resolved_by END,
    resolved_at = CASE flags.status WHEN 'cleared' THEN NULL ELSE flags.resolved_at END,
    resolution_note = CASE flags.status WHEN 'cleared' THEN NULL
        ELSE flags.resolution_note END
WHERE flags.status IN ({gone}, 'cleared')
   OR (flags.status IN ('open', 'reappeared')
       AND (flags.codes {differs} excluded.codes
            OR flags.fingerprint {differs} excluded.fingerprint))
"""  # noqa: S608 - placeholders and status names, no value


@attrs.frozen
class FlagRef:
    """One stored flag, by its key in the store."""

    account_id: str
    source: str


class FlagState(NamedTuple):
    """What a removal reads of a stored flag: a plain tuple, so a store of a
    hundred thousand flags is read in a fraction of a second."""

    account_id: str
    source: str
    action: str
    status: Status
    codes: tuple[str, ...]
    jurisdiction: str | None
    fingerprint: str | None
    note: str | None


@functools.lru_cache(maxsize=4096)
def _codes(text: str) -> tuple[str, ...]:
    # Few distinct lists of codes: each is parsed once.
    value = json.loads(text)
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise ValueError("not a list of codes")
    return tuple(value)


def flag_state(row: tuple[Any, ...], *, store: str, where: str) -> FlagState:
    """A row of (account_id, source, action, status, codes, jurisdiction,
    fingerprint) checked as the full reader checks those columns; a row not
    as a store writes it is an InputError naming the row, never a value."""
    account, source, action, status, codes, place, seen, note = row
    try:
        ok = (
            isinstance(account, str)
            and isinstance(source, str)
            and action in ("remove", "verify")
            and status in STATUSES
            and (place is None or isinstance(place, str))
            and (seen is None or isinstance(seen, str))
            and (note is None or isinstance(note, str))
        )
        parsed = _codes(codes) if ok and isinstance(codes, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise InputError(
            f"{where}: a column is not as a flag store writes it; the store is"
            " damaged or not a flag store",
            where=store,
        )
    return FlagState(account, source, action, status, parsed, place, seen, note)


def flag_states_of(
    rows: Sequence[tuple[Any, ...]], *, store: str, where: Callable[[Any], str]
) -> list[FlagState]:
    """`flag_state` of every row, each row led by its place in the store
    (`where` names it in an error). Checked column by column, not row by
    row, and each distinct list of codes parsed once: a hundred thousand
    flags are read in a few hundredths of a second. A row that fails is
    then found, and named, by `flag_state` itself."""
    if not rows:
        return []
    parsed = _checked(rows, store=store, where=where)
    # tuple.__new__ makes each in C; the columns are checked above.
    new = tuple.__new__
    return [
        new(FlagState, (a, s, act, st, parsed[c], p, f, n))
        for _, a, s, act, st, c, p, f, n in rows
    ]


class FlagColumns(NamedTuple):
    """The flags a removal reads, column by column (the n-th of each column
    is the n-th flag's, in the order of their key, account then source, by
    code point; of actions and statuses, only which occur), checked as
    `flag_state` checks a row: a run reads a plan's flags as columns, with
    no object per flag."""

    account_ids: Sequence[str]
    sources: Sequence[str]
    actions: frozenset[str]
    statuses: frozenset[Status]
    codes: Sequence[tuple[str, ...]]
    jurisdictions: Sequence[str | None]
    fingerprints: Sequence[str | None]


def flag_columns_of(
    rows: Sequence[tuple[Any, ...]], *, store: str, where: Callable[[Any], str]
) -> FlagColumns:
    """The rows (each its place, then the columns of `FlagState` but the
    note) as checked columns; see `flag_states_of`."""
    if not rows:
        return FlagColumns((), (), frozenset(), frozenset(), (), (), ())
    columns = list(zip(*rows, strict=True))[1:]
    found = checked_columns(columns)
    if found is None:
        _name_the_row(rows, store=store, where=where)
    return found


def checked_columns(columns: Sequence[Sequence[Any]]) -> FlagColumns | None:
    """The columns of `FlagColumns` (the codes as stored; actions and
    statuses whole or only those that occur) checked, the codes parsed;
    None when one is not as a store writes it."""
    parsed = _parsed(columns)
    if parsed is None:
        return None
    account, source, action, status, codes, place, seen = columns
    return FlagColumns(
        account, source, frozenset(action), frozenset(status),
        list(map(parsed.__getitem__, codes)), place, seen,
    )  # fmt: skip


def _checked(
    rows: Sequence[tuple[Any, ...]], *, store: str, where: Callable[[Any], str]
) -> dict[str, tuple[str, ...]]:
    """Each distinct list of codes of the rows (each led by its place)
    parsed, once every column is checked; a row that fails is an InputError
    naming it."""
    # The rows turned into columns by zip: no Python code runs per row.
    parsed = _parsed(list(zip(*rows, strict=True))[1:])
    if parsed is None:
        _name_the_row(rows, store=store, where=where)
    return parsed


def _parsed(columns: Sequence[Sequence[Any]]) -> dict[str, tuple[str, ...]] | None:
    """Each distinct list of codes parsed, once every column (account,
    source, action, status, codes, then jurisdiction, fingerprint and maybe
    the note) is checked, each column's types or values taken as a set by
    map; None when one is not as a store writes it."""
    try:
        account, source, action, status, codes, *optional = columns
        ok = (
            set(map(type, account)) <= _TEXT
            and set(map(type, source)) <= _TEXT
            and set(action) <= _ACTIONS
            and set(status) <= _STATUSES
            and all(set(map(type, column)) <= _TEXT_OR_NONE for column in optional)
        )
        texts = set(codes) if ok else set()
        parsed = {t: _codes(t) for t in texts if type(t) is str}
        ok = ok and len(parsed) == len(texts)
    except (ValueError, TypeError):
        ok = False
    return parsed if ok else None


def _name_the_row(
    rows: Sequence[tuple[Any, ...]], *, store: str, where: Callable[[Any], str]
) -> NoReturn:
    """The InputError of the first row (led by its place) not as a store
    writes it. Rows may leave out the note (their last column)."""
    for row in rows:
        full = row[1:] if len(row) == 9 else (*row[1:], None)
        flag_state(full, store=store, where=where(row[0]))
    raise InputError("a column is not as a flag store writes it", where=store)


_ACTIONS = frozenset(("remove", "verify"))
_TEXT: frozenset[type] = frozenset((str,))
_TEXT_OR_NONE: frozenset[type] = frozenset((str, type(None)))
_STATUSES = frozenset(STATUSES)


# The columns `flag_state` reads, in its order; `FlagColumns` all but the
# last.
COLUMNS_READ = "account_id, source, action, status, codes, jurisdiction, fingerprint"
STATE_COLUMNS = f"{COLUMNS_READ}, resolution_note"


@attrs.frozen
class StatusChange:
    """Move `flags` to `after`, each only from one of the `before` statuses.
    With `marked`, the flags moved are instead those whose note is `marked`
    (a plan's flags, found by the note it left on them): one statement,
    however many they are."""

    flags: tuple[FlagRef, ...]
    before: tuple[Status, ...]
    after: Status
    by: str
    note: str = ""
    marked: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.before:
            raise ValueError("a status change needs the statuses it moves from")


class StatusStore(Protocol):
    """What `hold` and `release` need of a store; both stores have it."""

    def set_status(self, change: StatusChange) -> int: ...

    def list(
        self, *, status: Status | None = None, account_id: str | None = None
    ) -> Iterator[StoredFlag]: ...


def _refs(store: StatusStore, account_id: str) -> tuple[FlagRef, ...]:
    listed = store.list(account_id=account_id)
    return tuple(FlagRef(s.flag.account_id, s.flag.source) for s in listed)


def hold(store: StatusStore, account_id: str, *, by: str, why: str) -> int:
    """Put every flag of the account not yet erased under a legal hold."""
    change = StatusChange(_refs(store, account_id), HOLDABLE, "held", by, why)
    return int(store.set_status(change))


def release(store: StatusStore, account_id: str, *, by: str, why: str = "") -> int:
    """Lift the hold: the account's held flags are open again."""
    change = StatusChange(_refs(store, account_id), ("held",), "open", by, why)
    return int(store.set_status(change))
