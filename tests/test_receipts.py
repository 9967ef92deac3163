"""The receipts log: append-only, hash-chained, refusing to grow a broken chain."""

from __future__ import annotations

import itertools
import json
import multiprocessing
from pathlib import Path

import pytest

from agegate.errors import InputError
from agegate.removal.receipts import (
    GENESIS,
    ReceiptLog,
    ReceiptsBroken,
    default_receipts_path,
)


def _log(tmp_path: Path, entries: int = 4) -> ReceiptLog:
    log = ReceiptLog(tmp_path / "flags.sqlite.receipts.jsonl")
    for n in range(entries):
        log.append(
            "plan" if n % 2 == 0 else "run", {"plan": f"p{n}", "counts": {"a": n}}
        )
    return log


def _rewrite(log: ReceiptLog, edit: object) -> None:
    lines = log.path.read_bytes().splitlines(keepends=True)
    assert callable(edit)
    log.path.write_bytes(b"".join(edit(lines)))


def test_a_new_log_chains_from_genesis_and_verifies(tmp_path: Path) -> None:
    log = _log(tmp_path)
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[0].prev == GENESIS
    assert all(b.prev == a.digest for a, b in itertools.pairwise(entries))
    status = log.verify()
    assert status.ok
    assert status.entries == 4
    assert status.head == entries[-1].digest


def test_a_missing_log_is_an_empty_chain(tmp_path: Path) -> None:
    status = ReceiptLog(tmp_path / "none.jsonl").verify()
    assert status.ok
    assert status.entries == 0
    assert status.head is None


def test_an_edited_entry_breaks_the_chain_there(tmp_path: Path) -> None:
    log = _log(tmp_path)

    def edit(lines: list[bytes]) -> list[bytes]:
        entry = json.loads(lines[2])
        entry["body"]["counts"]["a"] = 99
        lines[2] = (
            json.dumps(entry, sort_keys=True, separators=(",", ":")).encode() + b"\n"
        )
        return lines

    _rewrite(log, edit)
    status = log.verify()
    assert not status.ok
    assert status.broken_at == 3
    assert status.reason == "its digest does not match its content"


def test_a_deleted_entry_breaks_the_chain(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _rewrite(log, lambda lines: lines[:1] + lines[2:])
    status = log.verify()
    assert not status.ok
    assert status.broken_at == 2


def test_entries_swapped_break_the_chain(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _rewrite(log, lambda lines: [lines[1], lines[0], *lines[2:]])
    assert log.verify().broken_at == 1


def test_an_entry_reformatted_by_hand_is_not_as_written(tmp_path: Path) -> None:
    log = _log(tmp_path)

    def reformat(lines: list[bytes]) -> list[bytes]:
        lines[1] = (
            json.dumps(json.loads(lines[1]), indent=1).replace("\n", "").encode()
            + b"\n"
        )
        return lines

    _rewrite(log, reformat)
    assert log.verify().broken_at == 2


def test_a_torn_last_line_breaks_the_chain(tmp_path: Path) -> None:
    log = _log(tmp_path)
    data = log.path.read_bytes()
    log.path.write_bytes(data[:-10])
    assert log.verify().broken_at == 4


def test_nothing_is_appended_to_a_broken_chain(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _rewrite(log, lambda lines: lines[1:])
    before = log.path.read_bytes()
    with pytest.raises(ReceiptsBroken, match="entry 1"):
        log.append("verify", {"ok": True})
    with pytest.raises(ReceiptsBroken):
        log.entries()
    assert log.path.read_bytes() == before


@pytest.mark.parametrize("body", [{"x": float("nan")}, {"x": object()}, {"x": b"raw"}])
def test_a_body_that_is_not_plain_json_is_refused(
    tmp_path: Path, body: dict[str, object]
) -> None:
    log = ReceiptLog(tmp_path / "r.jsonl")
    with pytest.raises(InputError, match="plain JSON"):
        log.append("plan", body)
    assert not log.path.exists() or log.path.read_bytes() == b""


def test_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown receipt kind"):
        ReceiptLog(tmp_path / "r.jsonl").append("delete-everything", {})


def _append_many(path: str, worker: int) -> None:
    log = ReceiptLog(Path(path))
    for n in range(15):
        log.append("run", {"worker": worker, "n": n})


def test_appends_from_several_processes_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_append_many, args=(str(path), w)) for w in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    status = ReceiptLog(path).verify()
    assert status.ok
    assert status.entries == 45


def test_the_default_path_sits_beside_the_store(tmp_path: Path) -> None:
    store = str(tmp_path / "flags.sqlite")
    assert default_receipts_path(store) == tmp_path / "flags.sqlite.receipts.jsonl"
