"""Tombstones: what stays of a removed account, so a restore cannot bring
it back unnoticed.

One JSON line per run: the keyed hashes of the removed accounts' ids (the
flag store's secret), the date, the targets and the plan. No id, nothing
personal. (A line of one `key` instead of `keys`, as earlier versions wrote,
is read the same.) `replay` after a restore from backup hashes every id a
target holds and removes the rows of the accounts that have a tombstone, and
nothing else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import attrs

from ..errors import InputError
from .plan import hex_array

__all__ = ["Burial", "TombstoneStore", "default_tombstones_path"]


def default_tombstones_path(store: str) -> Path:
    """Beside a file flag store: `<store>.tombstones.jsonl`."""
    return Path(f"{store}.tombstones.jsonl")


_TIGHT = (",", ":")


@attrs.frozen
class Burial:
    """A line of tombstones made, not yet written, and how many it holds."""

    line: bytes
    count: int


class TombstoneStore:
    """An append-only JSON Lines file of tombstones."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def add(
        self, keys: Iterable[str], *, on: date, targets: list[str], plan: str
    ) -> int:
        """Write the tombstones of the keys not already buried by this plan
        (a run resumed), in one line and one write; returns how many."""
        return self.write(self.prepare(keys, on=on, targets=targets, plan=plan))

    def prepare(
        self, keys: Iterable[str], *, on: date, targets: list[str], plan: str
    ) -> Burial:
        """The line `add` would write, made but not written: a run makes it
        while its erase commits, and writes it once the erase is done."""
        buried = {k for k, made_by in self._read_pairs(plan) if made_by == plan}
        # Keys given in order (a plan's are sorted) are sorted again in one
        # pass.
        unique = dict.fromkeys(keys)
        fresh = (
            sorted(k for k in unique if k not in buried) if buried else sorted(unique)
        )
        if not fresh:
            return Burial(b"", 0)
        rest = {"plan": plan, "removed_on": on.isoformat(), "targets": targets}
        array = hex_array(fresh)
        if array is None:
            line = json.dumps(
                {"keys": fresh, **rest}, sort_keys=True, separators=_TIGHT
            )
        else:
            # "keys" sorts first: the rest follows the array as json.dumps
            # would write it.
            tail = json.dumps(rest, sort_keys=True, separators=_TIGHT)
            line = '{"keys":' + array + "," + tail[1:]
        return Burial((line + "\n").encode("utf-8"), len(fresh))

    def write(self, burial: Burial) -> int:
        """Append a prepared line, synced; returns how many keys it holds."""
        if burial.count:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, burial.line)
                os.fsync(fd)
            finally:
                os.close(fd)
        return burial.count

    def keys(self) -> frozenset[str]:
        return frozenset(key for key, _ in self._read_pairs())

    def _read_pairs(self, plan: str | None = None) -> set[tuple[str, str]]:
        """(key, plan) of every tombstone; given `plan`, of its own only
        (a line not naming it is not parsed)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return set()
        except (OSError, UnicodeDecodeError):
            raise InputError(
                "cannot read the tombstones", where=str(self.path)
            ) from None
        pairs: set[tuple[str, str]] = set()
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or (plan is not None and plan not in line):
                continue
            keys, made_by = _entry(line, number, self.path)
            pairs.update((key, made_by) for key in keys)
        return pairs


def _entry(line: str, number: int, path: Path) -> tuple[list[str], str]:
    """The keys and the plan of one line, or an InputError naming it."""
    try:
        entry = json.loads(line)
        keys = entry["keys"] if "keys" in entry else [entry["key"]]
        plan = entry["plan"]
    except (ValueError, KeyError, TypeError):
        keys, plan = None, None
    if (
        not isinstance(keys, list)
        or not isinstance(plan, str)
        or not all(isinstance(k, str) for k in keys)
    ):
        raise InputError(f"line {number} is not a tombstone", where=str(path))
    return keys, plan
