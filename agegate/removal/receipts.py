"""The receipts of removals: an append-only, hash-chained JSON Lines log.

Each entry holds the digest of the one before, so an entry edited, deleted
or moved breaks the chain at that point. Deleting the newest entries leaves
a shorter chain that still holds: `ChainStatus.head` is the digest to keep
somewhere else (a ticket, a signed e-mail) when that matters.

Entries record what was done (plan digests, counts per target, codes,
jurisdictions, who approved, times), never a birthdate, name, e-mail or
account id; the callers build the bodies, and `append` refuses a body that is
not plain JSON.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from ..errors import InputError

__all__ = [
    "GENESIS",
    "KINDS",
    "ChainStatus",
    "Receipt",
    "ReceiptLog",
    "ReceiptsBroken",
    "default_receipts_path",
]

KINDS = frozenset({"plan", "approve", "run", "verify", "replay"})
# The `prev` of the first entry: no entry comes before it.
GENESIS = "0" * 64
_FIELDS = ("seq", "kind", "at", "body", "prev", "digest")


class ReceiptsBroken(InputError):
    """The log's chain does not hold, so nothing more is appended to it."""

    code = "RECEIPTS_BROKEN"


@attrs.frozen
class Receipt:
    seq: int
    kind: str
    at: datetime
    body: Mapping[str, object]
    prev: str
    digest: str


@attrs.frozen
class ChainStatus:
    """`broken_at` is the 1-based number of the first entry that fails."""

    ok: bool
    entries: int
    broken_at: int | None = None
    reason: str | None = None
    head: str | None = None


def default_receipts_path(store: str) -> Path:
    """Beside a file flag store: `<store>.receipts.jsonl`."""
    return Path(f"{store}.receipts.jsonl")


def _canonical(value: object) -> bytes:
    # One byte string per value: sorted keys, no spaces, ASCII only, no NaN.
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def _digest(seq: int, kind: str, at: str, body: object, prev: str) -> str:
    fields = {"seq": seq, "kind": kind, "at": at, "body": body, "prev": prev}
    return hashlib.sha256(_canonical(fields)).hexdigest()


def _check_body(body: Mapping[str, object]) -> dict[str, Any]:
    try:
        plain = json.loads(_canonical(dict(body)))
    except (TypeError, ValueError) as exc:
        raise InputError("a receipt's body must be plain JSON") from exc
    if not isinstance(plain, dict):
        raise InputError("a receipt's body must be a JSON object")
    return plain


class ReceiptLog:
    """One receipts file. Appends are serialised by an exclusive lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, kind: str, body: Mapping[str, object]) -> Receipt:
        if kind not in KINDS:
            raise InputError(
                f"unknown receipt kind (one of {', '.join(sorted(KINDS))})"
            )
        plain = _check_body(body)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            status, chain = _read_chain(_lines(fd))
            if not status.ok:
                raise self._broken(status)
            receipt = _next(chain[-1] if chain else None, kind, plain)
            os.write(fd, _line(receipt))
            os.fsync(fd)
            return receipt
        finally:
            os.close(fd)

    def entries(self) -> list[Receipt]:
        """Every entry, in order; refuses a log whose chain does not hold."""
        status, chain = _read_chain(self._read_lines())
        if not status.ok:
            raise self._broken(status)
        return chain

    def verify(self) -> ChainStatus:
        return _read_chain(self._read_lines())[0]

    def _broken(self, status: ChainStatus) -> ReceiptsBroken:
        return ReceiptsBroken(
            f"the chain breaks at entry {status.broken_at}: {status.reason}",
            where=str(self.path),
        )

    def _read_lines(self) -> list[bytes]:
        try:
            return self.path.read_bytes().splitlines(keepends=True)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise InputError("cannot read the receipts", where=str(self.path)) from exc


def _lines(fd: int) -> list[bytes]:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks).splitlines(keepends=True)


def _next(last: Receipt | None, kind: str, body: dict[str, Any]) -> Receipt:
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.digest
    at = datetime.now(UTC).replace(microsecond=0)
    digest = _digest(seq, kind, at.isoformat(), body, prev)
    return Receipt(seq=seq, kind=kind, at=at, body=body, prev=prev, digest=digest)


def _line(receipt: Receipt) -> bytes:
    entry = {
        "seq": receipt.seq,
        "kind": receipt.kind,
        "at": receipt.at.isoformat(),
        "body": receipt.body,
        "prev": receipt.prev,
        "digest": receipt.digest,
    }
    return _canonical(entry) + b"\n"


def _parse(raw: bytes) -> Receipt:
    # Raises ValueError (or KeyError, TypeError) on any entry not as written.
    entry = json.loads(raw)
    if not isinstance(entry, dict) or tuple(sorted(entry)) != tuple(sorted(_FIELDS)):
        raise ValueError("not a receipt")
    seq, kind, at, body = entry["seq"], entry["kind"], entry["at"], entry["body"]
    if type(seq) is not int or kind not in KINDS or not isinstance(body, dict):
        raise ValueError("not a receipt")
    # Re-serialising must give the very bytes read: no entry edited by hand
    # survives, even one whose meaning is unchanged.
    if _canonical(entry) + b"\n" != raw:
        raise ValueError("not as written")
    when = datetime.fromisoformat(at)
    if when.tzinfo is None:
        # Every entry is written in UTC with its offset; one without cannot
        # be ordered against the others.
        raise ValueError("not as written")
    return Receipt(seq, kind, when, body, str(entry["prev"]), str(entry["digest"]))


def _read_chain(lines: list[bytes]) -> tuple[ChainStatus, list[Receipt]]:
    """The chain's status and its entries, up to the first that breaks it."""
    chain: list[Receipt] = []
    for number, raw in enumerate(lines, start=1):
        problem = _problem(raw, number, chain[-1] if chain else None)
        if isinstance(problem, str):
            return ChainStatus(False, len(lines), number, problem, None), chain
        chain.append(problem)
    head = chain[-1].digest if chain else None
    return ChainStatus(True, len(lines), head=head), chain


def _problem(raw: bytes, number: int, last: Receipt | None) -> Receipt | str:
    """The entry, or why it breaks the chain."""
    try:
        receipt = _parse(raw)
    except (ValueError, KeyError, TypeError, RecursionError):
        return "not a receipt as written"
    if receipt.seq != number:
        return "out of sequence"
    if receipt.prev != (GENESIS if last is None else last.digest):
        return "does not follow the entry before"
    body = receipt.body
    at = receipt.at.isoformat()
    if receipt.digest != _digest(receipt.seq, receipt.kind, at, body, receipt.prev):
        return "its digest does not match its content"
    if last is not None and receipt.at < last.at:
        return "dated before the entry before"
    return receipt
