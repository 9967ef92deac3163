"""The receipts' chain as the report states it: intact, broken at an entry,
or not given. Only the entries' kinds and count are shown, never their
bodies (an approval names the person who gave it)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import attrs

from ...errors import InputError

__all__ = ["ChainFacts", "chain_facts", "no_receipts"]


@attrs.frozen
class ChainFacts:
    given: bool
    ok: bool
    entries: int
    broken_at: int | None
    head: str | None
    by_kind: tuple[tuple[str, int], ...]
    sentence: str
    headline: str

    @property
    def tone(self) -> str:
        if not self.given:
            return ""
        return "good" if self.ok else "alert"


def no_receipts() -> ChainFacts:
    return ChainFacts(
        given=False,
        ok=False,
        entries=0,
        broken_at=None,
        head=None,
        by_kind=(),
        sentence="No receipts were given (--receipts), and none lie beside the"
        " store: nothing here proves what was removed.",
        headline="none",
    )


def chain_facts(path: Path) -> ChainFacts:
    """What the receipts log at `path` proves, or an InputError naming it."""
    from ..receipts import ReceiptLog

    if not path.is_file():
        raise InputError("no such receipts file", where=str(path))
    log = ReceiptLog(path)
    status = log.verify()
    if status.ok and status.entries == 0:
        raise InputError("the receipts file holds no receipt", where=str(path))
    kinds = Counter[str]()
    if status.ok:
        kinds.update(_kind(receipt.kind) for receipt in log.entries())
    if status.ok:
        sentence = (
            f"The chain of {status.entries} receipt(s) is intact: every entry"
            " holds the digest of the one before it."
        )
        headline = "intact"
    else:
        where = "" if status.broken_at is None else f" at entry {status.broken_at}"
        why = f" ({status.reason})" if status.reason else ""
        sentence = (
            f"The chain is broken{where}{why}: receipts were edited, removed"
            " or reordered, and what follows that entry proves nothing."
        )
        headline = (
            "broken" if status.broken_at is None else f"broken at {status.broken_at}"
        )
    return ChainFacts(
        given=True,
        ok=status.ok,
        entries=status.entries,
        broken_at=status.broken_at,
        head=status.head if status.ok else None,
        by_kind=tuple(sorted(kinds.items())),
        sentence=sentence,
        headline=headline,
    )


def _kind(kind: str) -> str:
    return (
        kind
        if kind.replace("_", "").replace("-", "").isalnum() and len(kind) <= 32
        else "(other)"
    )
