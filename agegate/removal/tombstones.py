"""Tombstones: what stays of a removed account, so a restore cannot bring
it back unnoticed.

One JSON line per removed account: the keyed hash of its id (the flag
store's secret), the date, the targets and the plan. No id, nothing
personal. `replay` after a restore from backup hashes every id a target
holds and removes the rows of the accounts that have a tombstone, and
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
        """Write one tombstone per key not already buried by this plan, in
        one write; returns how many were written."""
        known = self._read_pairs()
        fresh = sorted({k for k in keys if (k, plan) not in known})
        # Every line but its key is the same: made once, and the keys are
        # hex digests, which need no escaping.
        rest = json.dumps(
            {"removed_on": on.isoformat(), "targets": targets, "plan": plan},
            sort_keys=True,
            separators=(",", ":"),
        )[1:]
        lines = "".join(f'{{"key":"{key}",{rest}\n' for key in fresh)
        if lines:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, lines.encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
        return len(fresh)

    def keys(self) -> frozenset[str]:
        return frozenset(key for key, _ in self._read_pairs())

    def _read_pairs(self) -> set[tuple[str, str]]:
        try:
            text = self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            return set()
        except (OSError, UnicodeDecodeError):
            raise InputError(
                "cannot read the tombstones", where=str(self.path)
            ) from None
        pairs: set[tuple[str, str]] = set()
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                key, plan = entry["key"], entry["plan"]
            except (ValueError, KeyError, TypeError):
                raise InputError(
                    f"line {number} is not a tombstone", where=str(self.path)
                ) from None
            if not isinstance(key, str) or not isinstance(plan, str):
                raise InputError(
                    f"line {number} is not a tombstone", where=str(self.path)
                )
            pairs.add((key, plan))
        return pairs
