"""A plan's keys are read back checked all at once; the digests and the
tombstone lines made from joined text are the very ones of their canonical
JSON and of each flag's repr."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest

from agegate.removal import plan as plans
from agegate.removal.tombstones import TombstoneStore

KEY = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "keys",
    [
        [KEY.upper()],
        [KEY[:-1]],
        [KEY + "0"],
        [KEY[:-1] + "g"],
        [KEY[:-1] + "\u00e9"],
        [7],
        [KEY, None],
    ],
)
def test_a_key_not_a_hex_digest_is_refused(keys: list[object]) -> None:
    with pytest.raises((TypeError, ValueError)):
        plans._flag_keys({"review": keys})


def test_keys_digest_is_that_of_the_canonical_json() -> None:
    flags = {"review": (KEY, KEY[::-1]), 'a "b" \u00e9': (), "": (KEY,)}
    text = json.dumps(
        {source: list(keys) for source, keys in flags.items()},
        sort_keys=True, separators=(",", ":"), ensure_ascii=True,
    )  # fmt: skip
    assert plans.keys_digest(flags) == hashlib.sha256(text.encode()).hexdigest()
    assert plans._flag_keys({"review": [KEY]}) == {"review": (KEY,)}


def _reference(keys: list[str], says: list[tuple[object, ...]]) -> str:
    # The digest as first defined: the repr of each (key, says), sorted.
    lines = sorted(map(repr, zip(keys, says, strict=True)))
    text = "\n".join(lines).encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()


@pytest.mark.parametrize("hex_keys", [True, False])
def test_says_digest_is_the_repr_of_each_flag_sorted(hex_keys: bool) -> None:
    odd = ["review", "it's", 'say "hi"', "back\\slash", "\u00e9\U0001f600", "\n\x00"]
    says = [
        (
            odd[n % len(odd)],
            (("MINOR",), ("A", "B'"), ())[n % 3],
            (None, "US-CA", "o'k")[n % 3],
            (None, f"fp{n}", odd[n % len(odd)])[n % 3],
        )
        for n in range(60)
    ]
    keys = [
        hashlib.sha256(str(n).encode()).hexdigest() if hex_keys else f"k'{n}"
        for n in range(60)
    ]
    columns = [list(column) for column in zip(*says, strict=True)]
    assert plans.says_digest(keys, *columns) == _reference(keys, says)
    with pytest.raises(ValueError, match="length"):
        plans.says_digest(keys[1:], *columns)


@pytest.mark.parametrize("keys", [[KEY[::-1], KEY, KEY], ["k'1", "k\u00e9"]])
def test_a_tombstone_line_is_json_dumps_of_its_entry(
    tmp_path: Path, keys: list[str]
) -> None:
    store = TombstoneStore(tmp_path / "t.jsonl")
    day = date(2026, 1, 2)
    burial = store.prepare(keys, on=day, targets=["a.csv", "b\u00e9"], plan="p")
    entry = {
        "keys": sorted(set(keys)),
        "plan": "p",
        "removed_on": "2026-01-02",
        "targets": ["a.csv", "b\u00e9"],
    }
    text = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
    assert burial.line == text.encode("utf-8")
    assert store.write(burial) == len(set(keys))
    assert store.prepare(keys, on=day, targets=[], plan="p").count == 0
