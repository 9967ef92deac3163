"""A removal plan: which flags, which targets, what each holds of them.

A plan names accounts by a keyed hash of their id (BLAKE2b keyed with the
flag store's own secret), never by the id, listed by the flags' source: the
file can be read, mailed and approved by people who must not learn who the
accounts are. Its `digest` is the SHA-256 of its canonical JSON (everything
but the digest and the approvals; the keys through their own digest), so a
plan edited by hand no longer matches it and is refused. Approvals are
added beside it, each with who and when.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from hashlib import blake2b
from pathlib import Path
from typing import Any

import attrs

from ..errors import InputError
from ..flags.lifecycle import FlagState
from .targets import Target

__all__ = [
    "FORMAT",
    "Approval",
    "FlagKeys",
    "Plan",
    "PlanFile",
    "TargetPlan",
    "account_key",
    "canonical",
    "flag_keys",
    "flags_digest",
    "flags_mac",
    "keys_digest",
    "load_plan",
    "marker",
    "read_plan",
    "save_plan",
    "says_digest",
]

FORMAT = "agegate-removal-plan/1"
# BLAKE2b's personalisation: these keys are not the store's other hashes.
_PERSON = b"agegate-account"


def keyer(secret: bytes) -> Callable[[str], str]:
    """The keyed hash a plan and a tombstone name an account by: BLAKE2b in
    its keyed mode (a MAC by design, and fast enough for a hundred thousand
    accounts in a tenth of a second) under the flag store's secret."""
    key = secret if len(secret) <= 64 else hashlib.sha512(secret).digest()
    # The key's block is hashed once; each id continues a copy of it.
    keyed = blake2b(key=key, digest_size=32, person=_PERSON)

    def account_key(account_id: str) -> str:
        state = keyed.copy()
        state.update(account_id.encode("utf-8"))
        return state.hexdigest()

    return account_key


def account_key(secret: bytes, account_id: str) -> str:
    return keyer(secret)(account_id)


def canonical(value: object) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def _sha256(value: object) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


# A plan's flags: for each source, the keys of its flagged accounts, sorted
# (a flag's key in the store is its account and its source; the account is
# named by its keyed hash).
FlagKeys = Mapping[str, tuple[str, ...]]


def flags_digest(keys: Sequence[str], flags: Sequence[FlagState]) -> str:
    """One digest of the flags as the store holds them, whatever their
    order: for each (its account's key beside it), the key and what the
    flag says (source, codes, jurisdiction, fingerprint); see `says_digest`."""
    if not flags:
        return says_digest(keys, (), (), (), ())
    _, sources, _, _, codes, places, seen, _ = zip(*flags, strict=True)
    return says_digest(keys, sources, codes, places, seen)


def says_digest(
    keys: Sequence[str],
    sources: Sequence[str],
    codes: Sequence[tuple[str, ...]],
    jurisdictions: Sequence[str | None],
    fingerprints: Sequence[str | None],
) -> str:
    """`flags_digest` of the flags' columns: the repr of each flag's tuple
    (key, (source, codes, jurisdiction, fingerprint)), unambiguous, one a
    line, sorted, hashed. Every step is a builtin over the whole list: no
    Python code runs per flag."""
    columns = (keys, sources, codes, jurisdictions, fingerprints)
    if len(set(map(len, columns))) > 1:
        raise ValueError("the flags' columns differ in length")
    heads = zip(sources, codes, jurisdictions, strict=True)
    if _all_hex(keys):
        # A key's repr is then the key between quotes, and the flags share
        # few (source, codes, jurisdiction): each one's repr is made once
        # and the lines are put together by str.format, giving the very
        # text repr gives.
        shown = {head: repr(head)[1:-1] for head in set(heads)}
        heads = zip(sources, codes, jurisdictions, strict=True)
        lines = map(
            "('{}', ({}, {}))".format,
            keys,
            map(shown.__getitem__, heads),
            map(repr, fingerprints),
        )
    else:
        says = (
            (*head, fingerprint)
            for head, fingerprint in zip(heads, fingerprints, strict=True)
        )
        lines = map(repr, zip(keys, says, strict=True))
    text = "\n".join(sorted(lines)).encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()


# The MAC's personalisation: not an account's key, nor any other hash.
_MAC_PERSON = b"agegate-flags"


def flags_mac(
    secret: bytes,
    keys_digest: str,
    account_ids: Sequence[str],
    sources: Sequence[str],
    codes: Sequence[tuple[str, ...]],
    jurisdictions: Sequence[str | None],
    fingerprints: Sequence[str | None],
) -> str:
    """The flags as the store holds them, beside the digest of the plan's
    keys, in one keyed BLAKE2b under the store's secret (a MAC: it names no
    account to whoever reads the plan, and binds the plan's keys to those
    flags): of their columns, each flag's in the same place, ordered by
    (account, source) (their key in the store, by code point), as one JSON
    text. json.dumps and one hash, in C: no Python code runs per flag, and
    no account's key is made to check it."""
    columns = (account_ids, sources, codes, jurisdictions, fingerprints)
    if len(set(map(len, columns))) > 1:
        raise ValueError("the flags' columns differ in length")
    value = (keys_digest, *columns)
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    key = secret if len(secret) <= 64 else hashlib.sha512(secret).digest()
    mac = blake2b(text.encode("ascii"), key=key, digest_size=32, person=_MAC_PERSON)
    return mac.hexdigest()


def flag_keys(pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """(key, source) pairs as a plan holds them: sorted keys by source."""
    by_source: dict[str, set[str]] = {}
    for key, source in pairs:
        by_source.setdefault(source, set()).add(key)
    return {source: tuple(sorted(keys)) for source, keys in sorted(by_source.items())}


def keys_digest(flags: FlagKeys) -> str:
    """The digest of a plan's keys: of their canonical JSON. Keys of hex
    digits, as a plan's are, are joined as text (see `hex_array`); only
    the sources go through json.dumps."""
    arrays = [hex_array(keys) for keys in flags.values()]
    if None in arrays:
        return _sha256({source: list(keys) for source, keys in flags.items()})
    parts = sorted(
        (source, canonical(source).decode("ascii") + ":" + str(array))
        for source, array in zip(flags, arrays, strict=True)
    )
    text = "{" + ",".join(part for _, part in parts) + "}"
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def hex_array(keys: Sequence[str]) -> str | None:
    """The canonical JSON array of the keys when every one is hex digits
    (which JSON writes as they are), made by joining them; None otherwise."""
    if not _all_hex(keys):
        return None
    return '["' + '","'.join(keys) + '"]' if keys else "[]"


def _all_hex(keys: Sequence[str]) -> bool:
    digits = "".join(keys)
    return digits.isascii() and not digits.encode("ascii").translate(None, _HEX)


def marker(digest: str) -> str:
    """The note a plan leaves on its flags in the store: a run finds its
    flags by it, and a newer plan or a hold that takes a flag replaces it."""
    return f"removal plan {digest}"


@attrs.frozen
class TargetPlan:
    target: Target
    rows: int
    accounts: int
    total: int
    state: str

    def to_json(self) -> dict[str, object]:
        return {
            **self.target.to_json(),
            "label": self.target.label,
            "rows": self.rows,
            "accounts": self.accounts,
            "total": self.total,
            "state": self.state,
        }


@attrs.frozen
class Approval:
    by: str
    at: str


# Not slotted: the digests are computed once, on first use.
@attrs.frozen(slots=False)
class Plan:
    made_at: str
    made_by: str
    store: str
    max_accounts: int | None
    flags: FlagKeys
    # The digest of the flags as the store held them (see `flags_digest`),
    # and accounts counted by code and by jurisdiction.
    flags_digest: str
    codes: Mapping[str, int]
    jurisdictions: Mapping[str, int]
    targets: tuple[TargetPlan, ...]
    receipts: str
    tombstones: str
    approvals: tuple[Approval, ...] = ()
    # Random: two plans made in the same second over the same flags still
    # differ, so a newer one takes the flags from the older.
    nonce: str = attrs.field(factory=lambda: os.urandom(16).hex())
    # The flags' MAC (see `flags_mac`); a plan made before it has none, and
    # is checked by `flags_digest` alone.
    flags_mac: str | None = None

    @functools.cached_property
    def keys(self) -> frozenset[str]:
        return frozenset(itertools.chain.from_iterable(self.flags.values()))

    @property
    def accounts(self) -> int:
        return len(self.keys)

    @property
    def flag_count(self) -> int:
        return sum(len(keys) for keys in self.flags.values())

    @property
    def marker(self) -> str:
        return marker(self.digest)

    def summary(self) -> dict[str, object]:
        """What receipts and the command say of the plan: counts only."""
        return {
            "plan": self.digest,
            "accounts": self.accounts,
            "flags": self.flag_count,
            "codes": dict(self.codes),
            "jurisdictions": dict(self.jurisdictions),
        }

    def header(self) -> dict[str, object]:
        """Everything the digest covers; the flags through their digests."""
        return {
            "format": FORMAT,
            "made_at": self.made_at,
            "made_by": self.made_by,
            "store": self.store,
            "max_accounts": self.max_accounts,
            "accounts": self.accounts,
            "keys_digest": self.keys_digest,
            "flags_digest": self.flags_digest,
            "codes": dict(sorted(self.codes.items())),
            "jurisdictions": dict(sorted(self.jurisdictions.items())),
            "targets": [t.to_json() for t in self.targets],
            "receipts": self.receipts,
            "tombstones": self.tombstones,
            "nonce": self.nonce,
            **({} if self.flags_mac is None else {"flags_mac": self.flags_mac}),
        }

    @functools.cached_property
    def keys_digest(self) -> str:
        return keys_digest(self.flags)

    @functools.cached_property
    def digest(self) -> str:
        return _sha256(self.header())

    def to_json(self) -> dict[str, object]:
        return {
            **self.header(),
            "flags": {source: list(keys) for source, keys in self.flags.items()},
            "digest": self.digest,
            "approvals": [{"by": a.by, "at": a.at} for a in self.approvals],
        }

    def approved(self, by: str, at: datetime | None = None) -> Plan:
        when = (at or datetime.now(UTC)).replace(microsecond=0).isoformat()
        return attrs.evolve(self, approvals=(*self.approvals, Approval(by, when)))


def save_plan(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write the plan whole or not at all: a temporary file renamed over."""
    target = Path(path)
    text = json.dumps(plan.to_json(), indent=2, sort_keys=True) + "\n"
    # Here, not at the top: a run, which only reads plans, is spared it.
    import tempfile

    fd, name = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """The plan in `path`, or an InputError: unreadable, not a plan, or
    edited since it was made (its digest no longer matches)."""
    return read_plan(path).checked()


@attrs.frozen
class PlanFile:
    """A plan file read as JSON, its fields not yet checked: what it claims
    (`claimed`) is only a guess until `checked` returns the plan."""

    where: str
    data: Mapping[str, Any]

    def checked(self) -> Plan:
        """The plan, or the InputError of a plan not as it was made."""
        try:
            plan = _plan_of(self.data)
        except (KeyError, TypeError, ValueError):
            raise InputError(
                "not a removal plan (a field is missing or wrong)", where=self.where
            ) from None
        given = {k: v for k, v in self.data.items() if k not in _NOT_HEADER}
        if plan.digest != self.data.get("digest") or plan.header() != given:
            raise InputError(
                "the plan was changed after it was made: its digest does not match",
                where=self.where,
            )
        return plan

    def claimed(self) -> tuple[str, tuple[TargetPlan, ...]] | None:
        """The digest and the targets the file claims, unchecked; None when
        they cannot even be read (`checked` will say why)."""
        try:
            return _text(self.data["digest"]), _target_plans_of(self.data)
        except (KeyError, TypeError, ValueError, InputError):
            return None


def read_plan(path: str | os.PathLike[str]) -> PlanFile:
    """The plan file in `path` read as JSON, or the InputError of a file
    that is not one (see `load_plan`)."""
    where = os.fspath(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such plan", where=where) from None
    except (OSError, UnicodeDecodeError, ValueError):
        raise InputError("not a removal plan (not JSON)", where=where) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError("not a removal plan", where=where)
    return PlanFile(where, data)


_NOT_HEADER = ("digest", "approvals", "flags")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _flag_keys(value: Any) -> dict[str, tuple[str, ...]]:
    """The plan's keys by source, checked all at once: keys are hex
    digests (64 lower-case hex digits), sources text."""
    if not isinstance(value, dict):
        raise TypeError("not flags")
    flags = {_text(source): tuple(keys) for source, keys in value.items()}
    for keys in flags.values():
        # Each step a builtin over the whole list: no Python code per key.
        if keys and (set(map(type, keys)) != _STR or set(map(len, keys)) != _KEY_LEN):
            raise ValueError("not a key")
        try:
            digits = "".join(keys).encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("not a key") from None
        if digits.translate(None, _HEX):
            raise ValueError("not a key")
    return flags


_STR = {str}
_KEY_LEN = {64}
_HEX = b"0123456789abcdef"


def _counts(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise TypeError("not counts")
    return {_text(k): int(v) for k, v in value.items()}


def _target_plans_of(data: Mapping[str, Any]) -> tuple[TargetPlan, ...]:
    return tuple(
        TargetPlan(
            Target.from_json(t),
            int(t["rows"]),
            int(t["accounts"]),
            int(t["total"]),
            _text(t["state"]),
        )
        for t in data["targets"]
    )


def _plan_of(data: Mapping[str, Any]) -> Plan:
    targets = _target_plans_of(data)
    approvals = tuple(
        Approval(_text(a["by"]), _text(a["at"])) for a in data.get("approvals", [])
    )
    cap = data["max_accounts"]
    return Plan(
        made_at=_text(data["made_at"]),
        made_by=_text(data["made_by"]),
        store=_text(data["store"]),
        max_accounts=None if cap is None else int(cap),
        flags=_flag_keys(data["flags"]),
        flags_digest=_text(data["flags_digest"]),
        codes=_counts(data["codes"]),
        jurisdictions=_counts(data["jurisdictions"]),
        targets=targets,
        receipts=_text(data["receipts"]),
        tombstones=_text(data["tombstones"]),
        approvals=approvals,
        nonce=_text(data["nonce"]),
        flags_mac=None if data.get("flags_mac") is None else _text(data["flags_mac"]),
    )


def target_plans(targets: Sequence[TargetPlan]) -> list[dict[str, object]]:
    """The per-target counts a receipt holds: labels and numbers only."""
    return [
        {
            "target": t.target.label,
            "rows": t.rows,
            "accounts": t.accounts,
            "total": t.total,
        }
        for t in targets
    ]
