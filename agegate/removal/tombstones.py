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

from ..errors import InputError

__all__ = ["TombstoneStore", "default_tombstones_path"]


def default_tombstones_path(store: str) -> Path:
    """Beside a file flag store: `<store>.tombstones.jsonl`."""
    return Path(f"{store}.tombstones.jsonl")


class TombstoneStore:
    """An append-only JSON Lines file of tombstones."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def add(
        self, keys: Iterable[str], *, on: date, targets: list[str], plan: str
    ) -> int:
        """Write the tombstones of the keys not already buried by this plan
        (a run resumed), in one line and one write; returns how many."""
        known = self._read_pairs(plan)
        fresh = sorted({k for k in keys if (k, plan) not in known})
        if fresh:
            entry = {
                "keys": fresh,
                "plan": plan,
                "removed_on": on.isoformat(),
                "targets": targets,
            }
            line = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        return len(fresh)

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
