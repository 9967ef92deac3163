"""Making, approving, running, verifying and replaying removals.

Every step is batched: the flagged ids go to an eraser as one set, the flags
move status in one transaction per step, tombstones are one write, so a
removal of a hundred thousand accounts costs about what the DELETE itself
costs. A run refuses, before it changes anything, a plan that is not
approved (or, under four eyes, approved only by its author), that holds more
accounts than its cap, whose flags changed in the store, or whose targets
changed since they were surveyed (a first SQLite target's erase may be
under way meanwhile, uncommitted: see `agegate.removal.early`). A journal
beside the plan records each target as it is started and done, so a run
killed part-way is run again and finishes the same removal: a target done
is not touched again, one started is erased again (erasing by id twice
removes nothing more).
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import attrs

from ..errors import InputError
from ..flags.lifecycle import (
    IN_REMOVAL,
    PLANNABLE,
    FlagColumns,
    FlagRef,
    FlagState,
    StatusChange,
)
from ..flags.model import Status
from .early import EarlyErase
from .erasers.base import (
    CheckedEraser,
    Erased,
    Eraser,
    Replayable,
    StagedEraser,
    TargetChanged,
)
from .plan import (
    Plan,
    PlanFile,
    TargetPlan,
    flag_keys,
    flags_digest,
    flags_mac,
    keyer,
    keys_digest,
    load_plan,
    marker,
    save_plan,
    says_digest,
    target_plans,
)
from .receipts import ReceiptLog
from .targets import Target
from .tombstones import Burial, TombstoneStore

__all__ = [
    "Accounts",
    "Journal",
    "RemovalRefused",
    "RunStart",
    "approve_plan",
    "make_plan",
    "replay",
    "run_plan",
    "run_plan_file",
    "verify_plan",
]


class RemovalRefused(Exception):
    """The removal will not go ahead; the message says why (never an id)."""


class Store(Protocol):
    """What a removal needs of a flag store; both stores have it."""

    def flag_states(self, *, note: str | None = None) -> list[FlagState]: ...

    def flag_columns(self, note: str) -> FlagColumns: ...

    def marked(self, note: str) -> tuple[str, frozenset[str]]: ...

    def set_status(self, change: StatusChange) -> int: ...

    def secret(self) -> bytes: ...


@attrs.frozen
class Accounts:
    """The plan's accounts as the store holds them now."""

    ids: frozenset[str]
    keys: frozenset[str]
    statuses: frozenset[str]


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _keyer(secret: bytes) -> Callable[[str], str]:
    return keyer(secret)


# -- plan -------------------------------------------------------------------


def make_plan(
    store: Store,
    targets: Sequence[Target],
    *,
    store_label: str,
    by: str,
    max_accounts: int | None,
    receipts: str,
    tombstones: str,
) -> Plan:
    """Survey every target for the store's open removal flags (those of an
    account under a hold left out) and mark the flags planned; no target
    is changed."""
    secret = store.secret()
    key = _keyer(secret)
    stored = store.flag_states()
    held = {s.account_id for s in stored if s.status == "held"}
    chosen = [
        s
        for s in stored
        if s.action == "remove" and s.status in PLANNABLE and s.account_id not in held
    ]
    ids = frozenset(s.account_id for s in chosen)
    surveyed = []
    for target in targets:
        survey = target.eraser().plan(ids)
        surveyed.append(
            TargetPlan(target, survey.rows, survey.accounts, survey.total, survey.state)
        )
    keys = [key(s.account_id) for s in chosen]
    keyed = list(zip(keys, chosen, strict=True))
    flags = flag_keys((k, s.source) for k, s in keyed)
    plan = Plan(
        made_at=_now(),
        made_by=by,
        store=store_label,
        max_accounts=max_accounts,
        flags=flags,
        flags_digest=flags_digest(keys, chosen),
        codes=_accounts_by({(k, c) for k, s in keyed for c in s.codes}),
        jurisdictions=_accounts_by({(k, s.jurisdiction or "-") for k, s in keyed}),
        targets=tuple(surveyed),
        receipts=receipts,
        tombstones=tombstones,
        flags_mac=_mac_of(secret, keys_digest(flags), chosen),
    )
    refs = tuple(FlagRef(s.account_id, s.source) for s in chosen)
    store.set_status(StatusChange(refs, PLANNABLE, "planned", by, plan.marker))
    ReceiptLog(Path(receipts)).append(
        "plan",
        {
            **plan.summary(),
            "made_by": by,
            "max_accounts": max_accounts,
            "targets": target_plans(plan.targets),
        },
    )
    return plan


def _mac_of(secret: bytes, keys: str, flags: Sequence[FlagState]) -> str:
    """`flags_mac` of the flags, put in the order of their key as a store
    reads them back (see `FlagColumns`)."""
    ordered = sorted(flags, key=operator.itemgetter(0, 1))
    if not ordered:
        return flags_mac(secret, keys, (), (), (), (), ())
    ids, sources, _, _, codes, places, seen, _ = zip(*ordered, strict=True)
    return flags_mac(secret, keys, ids, sources, codes, places, seen)


def _accounts_by(pairs: set[tuple[str, str]]) -> dict[str, int]:
    """Accounts by code (or jurisdiction): an account counts once in each."""
    return dict(sorted(Counter(value for _, value in pairs).items()))


def approve_plan(path: str, by: str, store: Store | None = None) -> Plan:
    """Add an approval to the plan; given the flag store, move the plan's
    flags to approved there too (otherwise the run does)."""
    plan = load_plan(path).approved(by)
    if store is not None:
        resolve(plan, store, IN_REMOVAL)
        store.set_status(_moved(("planned", "failed"), "approved", by, plan.marker))
    save_plan(plan, path)
    approval = plan.approvals[-1]
    ReceiptLog(Path(plan.receipts)).append(
        "approve", {"plan": plan.digest, "by": approval.by, "at": approval.at}
    )
    return plan


# -- the plan's accounts now --------------------------------------------------


def resolve(
    plan: Plan,
    store: Store,
    allowed: Iterable[Status],
    *,
    secret: bytes | None = None,
    flags: FlagColumns | None = None,
) -> Accounts:
    """The plan's flags as the store holds them (found by the note the plan
    left on them; or `flags`, read so already), or a refusal when they
    changed since: one resolved, held, raised anew on other data, or taken
    by a newer plan."""
    # The store reads only the flags with the plan's note, as columns; each
    # column is checked as a set, in C, not flag by flag.
    if flags is None:
        flags = store.flag_columns(plan.marker)
    secret = store.secret() if secret is None else secret
    statuses = flags.statuses
    moved = not statuses <= set(allowed) or not flags.actions <= {"remove"}
    says = (flags.sources, flags.codes, flags.jurisdictions, flags.fingerprints)
    if plan.flags_mac is not None:
        # The flags as the plan saw them: their keys are the plan's own.
        mac = flags_mac(secret, plan.keys_digest, flags.account_ids, *says)
        if moved or mac != plan.flags_mac:
            raise _flags_changed()
        return Accounts(frozenset(flags.account_ids), plan.keys, statuses)
    # A plan made before flags_mac: each flag's key is made to check it.
    keys = list(map(_keyer(secret), flags.account_ids))
    if moved or says_digest(keys, *says) != plan.flags_digest:
        raise _flags_changed()
    return Accounts(frozenset(flags.account_ids), frozenset(keys), statuses)


def _flags_changed() -> RemovalRefused:
    return RemovalRefused(
        "the plan's flags changed in the store since the plan was made"
        " (resolved, put under a legal hold, raised anew on other data,"
        " or taken by a newer plan); make a new plan"
    )


# -- the journal ---------------------------------------------------------------


class Journal:
    """Beside the plan: one JSON line per target started and done."""

    def __init__(self, plan_path: str, digest: str) -> None:
        self.path = Path(f"{plan_path}.journal.jsonl")
        self.digest = digest

    def steps(self) -> dict[str, dict[str, Any]]:
        """The last step recorded for each target of this plan."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return {}
        steps: dict[str, dict[str, Any]] = {}
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill: the step is redone
            if isinstance(entry, dict) and entry.get("plan") == self.digest:
                steps[str(entry.get("target"))] = entry
        # A target refused was left as it was: as if never started.
        return {t: e for t, e in steps.items() if e.get("step") != "refused"}

    def record(self, target: str, step: str, **counts: object) -> None:
        entry = {"plan": self.digest, "target": target, "step": step, **counts}
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)


# -- run -------------------------------------------------------------------------


def _moved(
    before: tuple[Status, ...], after: Status, by: str, note: str
) -> StatusChange:
    """The move of every flag the plan marked (see `Plan.marker`)."""
    return StatusChange((), before, after, by, note, marked=note)


def check_approvals(plan: Plan, *, four_eyes: bool, max_accounts: int | None) -> None:
    if not plan.approvals:
        raise RemovalRefused("the plan is not approved (agegate remove approve)")
    if four_eyes and all(a.by == plan.made_by for a in plan.approvals):
        raise RemovalRefused(
            "--four-eyes: the plan is approved only by its author; another"
            " person must approve it"
        )
    _check_receipted(plan)
    caps = [c for c in (plan.max_accounts, max_accounts) if c is not None]
    if caps and plan.accounts > min(caps):
        raise RemovalRefused(
            f"the plan removes {plan.accounts} accounts, more than the cap"
            f" of {min(caps)} (--max-accounts)"
        )


def _check_receipted(plan: Plan) -> None:
    """Every approval the plan lists must be in the receipts: the approvals
    sit outside the plan's digest (they are added after it), so one written
    into the file by hand would otherwise pass for a second person's."""
    try:
        entries = ReceiptLog(Path(plan.receipts)).entries()
    except InputError as exc:
        raise RemovalRefused(f"the receipts cannot be trusted: {exc}") from None
    receipted = {
        (entry.body.get("by"), entry.body.get("at"))
        for entry in entries
        if entry.kind == "approve" and entry.body.get("plan") == plan.digest
    }
    if any((a.by, a.at) not in receipted for a in plan.approvals):
        raise RemovalRefused(
            "an approval in the plan is not in the receipts (written by hand?):"
            " approve with agegate remove approve"
        )


@attrs.frozen
class TargetResult:
    label: str
    planned_rows: int
    removed: int
    notes: tuple[str, ...] = ()
    left: int | None = None


def _erasers(plan: Plan) -> list[tuple[TargetPlan, Eraser]]:
    return [(t, t.target.eraser()) for t in plan.targets]


def _check_states(
    erasers: Sequence[tuple[TargetPlan, Eraser]],
    steps: dict[str, dict[str, Any]],
    ids: frozenset[str],
) -> None:
    """Every target not yet touched must be as the plan surveyed it. The
    first of them is left out when its eraser checks its state inside the
    erase itself: nothing is changed before it."""
    pending = [(p, e) for p, e in erasers if p.target.label not in steps]
    if pending and isinstance(pending[0][1], CheckedEraser | StagedEraser):
        pending = pending[1:]
    for planned, eraser in pending:
        if eraser.plan(ids).state != planned.state:
            raise RemovalRefused(
                f"{planned.target.label} changed since the plan was made;"
                " make a new plan"
            )


def _erase(
    eraser: Eraser, planned: TargetPlan, ids: frozenset[str], *, fresh: bool
) -> Erased:
    """Erase; a target not started before, whose eraser can, has its state
    checked in the erase's own transaction. One started before is erased
    again without the check: its state moved because it was erased."""
    if fresh and isinstance(eraser, CheckedEraser):
        return eraser.erase_checked(ids, planned.state)
    return eraser.erase(ids)


def _early(
    note: str,
    store: Store,
    targets: Sequence[TargetPlan],
    steps: dict[str, dict[str, Any]],
) -> EarlyErase | None:
    """The first target's erase, started before the flags are checked (see
    `agegate.removal.early`), when that is safe: its eraser can stage it, no
    target was started, no other target shares its location (the checks of
    the others read it), and the flags need no move to `approved` (the flag
    store is not written while the erase is open). The store's secret must
    have been read before (making it writes to the store)."""
    if not targets or any(t.target.label in steps for t in targets):
        return None
    first, others = targets[0], targets[1:]
    if any(t.target.location == first.target.location for t in others):
        return None
    eraser = first.target.eraser()
    if not isinstance(eraser, StagedEraser):
        return None
    listed, statuses = store.marked(note)
    if not statuses <= {"approved"}:
        return None
    return EarlyErase(eraser, listed, first.state, note)


@attrs.frozen
class RunStart:
    """What a run read and started before its plan was checked, for the
    plan whose flags bear `note`: the store's secret (read first: making it
    writes to the store), the first target's early erase, the flags."""

    note: str
    secret: bytes
    early: EarlyErase | None
    flags: FlagColumns


def run_plan_file(
    file: PlanFile,
    store: Store,
    *,
    by: str,
    four_eyes: bool = False,
    max_accounts: int | None = None,
) -> tuple[Plan, list[TargetResult]]:
    """`run_plan` of a plan file read but not yet checked: the first
    target's erase starts from what the file claims (its digest, hence the
    note on its flags, and its first target), the flags are read, while the
    plan is checked beside them; the erase goes no further than any other
    early erase unless the plan passes (see `run_plan`)."""
    claimed = file.claimed()
    if claimed is None:
        return _run_checked(file, store, by, four_eyes, max_accounts, None)
    digest, targets = claimed
    note = marker(digest)
    secret = store.secret()
    early = _early(note, store, targets, Journal(file.where, digest).steps())
    try:
        # SQLite reads the flags without the GIL: the erase's first steps
        # go on meanwhile.
        start = RunStart(note, secret, early, store.flag_columns(note))
    except BaseException:
        if early is not None:
            early.abandon()
        raise
    return _run_checked(file, store, by, four_eyes, max_accounts, start)


def _run_checked(
    file: PlanFile,
    store: Store,
    by: str,
    four_eyes: bool,
    max_accounts: int | None,
    start: RunStart | None,
) -> tuple[Plan, list[TargetResult]]:
    try:
        plan = file.checked()
    except BaseException:
        if start is not None and start.early is not None:
            start.early.abandon()
        raise
    results = run_plan(
        plan, file.where, store, by=by, four_eyes=four_eyes,
        max_accounts=max_accounts, start=start,
    )  # fmt: skip
    return plan, results


def run_plan(
    plan: Plan,
    plan_path: str,
    store: Store,
    *,
    by: str,
    four_eyes: bool = False,
    max_accounts: int | None = None,
    start: RunStart | None = None,
) -> list[TargetResult]:
    """Erase the plan's accounts from every target (see the module doc).
    Given `start` (see `run_plan_file`), what was read and started for this
    plan before it was checked."""
    early = None if start is None else start.early
    try:
        if start is not None and start.note != plan.marker:
            raise ValueError("a run's start belongs to its own plan")
        # Without a start, an unapproved plan starts nothing.
        check_approvals(plan, four_eyes=four_eyes, max_accounts=max_accounts)
        if start is None:
            secret = store.secret()
            steps = Journal(plan_path, plan.digest).steps()
            early = _early(plan.marker, store, plan.targets, steps)
            flags = store.flag_columns(plan.marker)
            start = RunStart(plan.marker, secret, early, flags)
        return _run_plan(plan, plan_path, store, by, early, start)
    except BaseException:
        if early is not None:
            early.abandon()
        raise


def _run_plan(
    plan: Plan,
    plan_path: str,
    store: Store,
    by: str,
    early: EarlyErase | None,
    start: RunStart,
) -> list[TargetResult]:
    journal = Journal(plan_path, plan.digest)
    steps = journal.steps()
    erasers = _erasers(plan)
    note = plan.marker
    accounts = resolve(plan, store, IN_REMOVAL, secret=start.secret, flags=start.flags)
    if early is not None and early.ids != accounts.ids:
        raise _flags_changed()
    _check_states(erasers, steps, accounts.ids)
    if accounts.statuses & {"planned", "failed"}:
        if early is not None:
            # Moved since it started: the store is written only with no
            # erase open.
            early.abandon()
            early = None
        store.set_status(_moved(("planned", "failed"), "approved", by, note))
    run = _Run(plan, store, by, journal, steps)
    results, burial, finish = run.erase_all(erasers, accounts, early)
    if burial is None:
        burial = _burial(plan, accounts)
    # Every target's erase is committed: the flags move while the first
    # target's WAL is checkpointed.
    TombstoneStore(plan.tombstones).write(burial)
    store.set_status(_moved(("approved", "failed", "erased"), "erased", by, note))
    if finish is not None:
        finish()
    _run_receipt(plan, results, "erased")
    return results


def _burial(plan: Plan, accounts: Accounts) -> Burial:
    # The same keys as the plan's (the flags' digest matched), but the
    # plan's are in order already.
    keys: Iterable[str] = accounts.keys
    if accounts.keys == plan.keys:
        keys = itertools.chain.from_iterable(plan.flags.values())
    return TombstoneStore(plan.tombstones).prepare(
        keys,
        on=datetime.now(UTC).date(),
        targets=[t.target.label for t in plan.targets],
        plan=plan.digest,
    )


@attrs.frozen
class _Run:
    plan: Plan
    store: Store
    by: str
    journal: Journal
    steps: dict[str, dict[str, Any]]

    def erase_all(
        self,
        erasers: Sequence[tuple[TargetPlan, Eraser]],
        accounts: Accounts,
        early: EarlyErase | None,
    ) -> tuple[list[TargetResult], Burial | None, Callable[[], None] | None]:
        """Erase every target not done yet, in order. With an early erase
        (the first target's), the tombstones are made before it commits,
        and what follows its commit (a WAL checkpoint) goes on beside the
        rest of the run: the last item returned waits for it and records the
        target done."""
        results: list[TargetResult] = []
        burial = None
        finish = None
        for planned, eraser in erasers:
            label = planned.target.label
            step = self.steps.get(label, {})
            if step.get("step") == "done":
                notes = tuple(str(n) for n in step.get("notes", ()))
                rows = int(step.get("rows", 0))
                results.append(TargetResult(label, planned.rows, rows, notes))
                continue
            self.journal.record(label, "started")
            try:
                if early is not None and not results:
                    # Made while the erase is still staged: a tombstones
                    # file that cannot be read stops the run before it.
                    burial = _burial(self.plan, accounts)
                    early.commit()
                    rows = early.committed()
                    finish = functools.partial(self._finish, early, results, planned)
                    results.append(TargetResult(label, planned.rows, rows))
                    continue
                fresh = label not in self.steps
                erased = _erase(eraser, planned, accounts.ids, fresh=fresh)
            except TargetChanged:
                self.journal.record(label, "refused")
                raise RemovalRefused(
                    f"{label} changed since the plan was made; make a new plan"
                ) from None
            except BaseException:
                note = self.plan.marker
                self.store.set_status(_moved(("approved",), "failed", self.by, note))
                _run_receipt(self.plan, results, "failed", failed_at=label)
                raise
            notes = erased.notes
            self.journal.record(label, "done", rows=erased.rows, notes=list(notes))
            results.append(TargetResult(label, planned.rows, erased.rows, notes))
        return results, burial, finish

    def _finish(
        self, early: EarlyErase, results: list[TargetResult], planned: TargetPlan
    ) -> None:
        """The early erase's end: recorded done, its notes in its result.
        Committed already, it is erased again on a run after a failure
        here (the journal holds it as started)."""
        erased = early.result()
        label = planned.target.label
        self.journal.record(label, "done", rows=erased.rows, notes=list(erased.notes))
        results[0] = TargetResult(label, planned.rows, erased.rows, erased.notes)


def _run_receipt(
    plan: Plan,
    results: Sequence[TargetResult],
    outcome: str,
    failed_at: str | None = None,
) -> None:
    body: dict[str, object] = {
        **plan.summary(),
        "outcome": outcome,
        "approvals": [{"by": a.by, "at": a.at} for a in plan.approvals],
        "targets": [
            {
                "target": r.label,
                "rows_before": r.planned_rows,
                "removed": r.removed,
                "notes": list(r.notes),
            }
            for r in results
        ],
    }
    if failed_at is not None:
        body["failed_at"] = failed_at
    ReceiptLog(Path(plan.receipts)).append("run", body)


# -- verify -------------------------------------------------------------------------


def verify_plan(plan: Plan, store: Store, *, by: str) -> list[TargetResult]:
    """Ask every target what is left of the plan's accounts. The flags are
    verified only when every target reports nothing; a run's flags with
    something left are failed."""
    accounts = resolve(plan, store, (*IN_REMOVAL, "verified"))
    results = [
        TargetResult(
            planned.target.label, planned.rows, 0, left=eraser.verify(accounts.ids)
        )
        for planned, eraser in _erasers(plan)
    ]
    clean = all(r.left == 0 for r in results)
    note = plan.marker
    if clean:
        change = _moved(("erased", "failed", "verified"), "verified", by, note)
    else:
        change = _moved(("erased", "verified"), "failed", by, note)
    moved = store.set_status(change)
    ReceiptLog(Path(plan.receipts)).append(
        "verify",
        {
            **plan.summary(),
            "verified": clean,
            "flags_moved": moved,
            "status": "verified" if clean else "failed",
            "targets": [
                {"target": r.label, "rows_before": r.planned_rows, "left": r.left}
                for r in results
            ],
        },
    )
    return results


# -- replay ---------------------------------------------------------------------------


def replay(
    tombstones: TombstoneStore,
    targets: Sequence[Target],
    secret: bytes,
    receipts: ReceiptLog,
) -> list[TargetResult]:
    """Remove again, from each target, the accounts that have a tombstone,
    and nothing else: each id the target holds is hashed under the store's
    secret and looked up among the tombstones."""
    buried = tombstones.keys()
    key = _keyer(secret)
    erasers = []
    for target in targets:
        eraser = target.eraser()
        if not isinstance(eraser, Replayable):
            raise InputError(
                "this eraser cannot list its ids, so cannot replay", where=target.label
            )
        erasers.append((target, eraser))
    results = []
    for target, eraser in erasers:
        back = frozenset(i for i in eraser.ids() if key(i) in buried)
        removed = eraser.erase(back) if back else None
        rows = removed.rows if removed else 0
        notes = removed.notes if removed else ()
        results.append(TargetResult(target.label, len(back), rows, notes))
    receipts.append(
        "replay",
        {
            "tombstones": len(buried),
            "targets": [
                {
                    "target": r.label,
                    "accounts": r.planned_rows,
                    "removed": r.removed,
                    "notes": list(r.notes),
                }
                for r in results
            ],
        },
    )
    return results
