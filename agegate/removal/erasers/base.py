"""What an eraser is: the one interface every store's removal goes through.

An eraser is given the flagged accounts' ids as a set and answers three
questions: what holds them (`plan`), remove it (`erase`), and what is left
(`verify`). `ids` lists every account id the target holds, for a replay
after a restore; an operator's eraser may leave it out, and then cannot be
replayed. Erasers never print, log or return an id: counts and digests only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Set
from typing import Protocol, runtime_checkable

import attrs

__all__ = [
    "CheckedEraser",
    "Erased",
    "Eraser",
    "Staged",
    "StagedEraser",
    "Survey",
    "TargetChanged",
    "quoted",
]


@attrs.frozen
class Survey:
    """What a target holds of the flagged accounts. `state` is a digest of
    what the removal depends on: a run refuses a target whose state moved."""

    rows: int
    accounts: int
    total: int
    state: str


@attrs.frozen
class Erased:
    """What `erase` did; `notes` say what is still due (a VACUUM)."""

    rows: int
    notes: tuple[str, ...] = ()


@runtime_checkable
class Eraser(Protocol):
    """A store's removal. `label` names it in plans and receipts: never a
    password, never an id."""

    label: str

    def plan(self, ids: Set[str]) -> Survey: ...

    def erase(self, ids: Set[str]) -> Erased: ...

    def verify(self, ids: Set[str]) -> int: ...


class TargetChanged(Exception):
    """The target is not as the plan surveyed it; nothing was erased."""


@runtime_checkable
class CheckedEraser(Protocol):
    """An eraser that checks the target's state inside the erase itself
    (one transaction), so a run need not survey it again first."""

    def erase_checked(self, ids: Set[str], state: str) -> Erased: ...


class Staged(Protocol):
    """An erase done in a transaction still open: nothing is changed for
    anyone else until `commit`; `rollback` leaves the target as it was.
    `rows` is how many it removes. `commit` calls `committed`, when given,
    as soon as the erase is committed, before what follows (a checkpoint)."""

    rows: int

    def commit(self, committed: Callable[[], None] | None = None) -> Erased: ...

    def rollback(self) -> None: ...


@runtime_checkable
class StagedEraser(Protocol):
    """An eraser that can erase, its state checked, in a transaction it
    leaves open: a run starts it beside its own checks (the flags, the
    approvals) and commits it only once every one of them passed."""

    def stage(self, ids: Set[str], state: str) -> Staged: ...

    def stage_listed(self, listed: str, state: str) -> Staged:
        """`stage`, the ids given as a JSON array of strings."""
        ...


@runtime_checkable
class Replayable(Protocol):
    """An eraser that can list the ids it holds, so a replay can find the
    tombstoned accounts a restore brought back."""

    def ids(self) -> Iterator[str]: ...


def quoted(name: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'
