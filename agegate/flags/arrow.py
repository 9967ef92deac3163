"""Flags held as Arrow columns, written as the one flag writer writes them.

The columnar review screens accounts a record batch at a time and gives its
flags as Arrow columns (`account_id`, `codes`, `action`, `jurisdiction`,
`required_age`, `source`, `line`, `rowid`). Building a `Flag` and a dict per
flag only to serialise it cost more than the screening itself, so these
functions write the same bytes from the columns: a flag's JSON line is its
id, then text shared by every flag with the same codes, action,
jurisdiction, age and source (built once per batch), then its line and
rowid. Only this module and the review load pyarrow; the gate never does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["jsonl", "records"]

# Printable ASCII but `"` and `\`: json.dumps writes such text as it is.
_PLAIN_JSON = r"^[ !#-\[\]-~]*$"
_SHARED = ("action", "codes", "jurisdiction", "required_age", "source")


def jsonl(flags: pa.RecordBatch, raised_at: datetime) -> bytes:
    """The flags as JSON Lines, byte for byte what `flag_to_dict` and
    `json_line` write for the same flags raised at `raised_at`."""
    if not flags.num_rows:
        return b""
    head, middle, tail = _shared_text(flags, raised_at)
    joined = pc.binary_join_element_wise(
        '{"account_id": ', _json_strings(flags.column("account_id")), head,
        _json_ints(flags.column("line")), middle,
        _json_ints(flags.column("rowid")), tail, "",
    )  # fmt: skip
    return _concatenated(joined)


def records(flags: pa.RecordBatch, raised_at: datetime) -> Iterator[dict[str, Any]]:
    """The flags as the records `flag_to_dict` gives, for the CSV writer."""
    at = raised_at.isoformat()
    names = ("account_id", *_SHARED, "line", "rowid")
    for record in flags.select(names).to_pylist():
        record["raised_at"] = at
        record["report_id"] = None
        yield record


def _shared_text(
    flags: pa.RecordBatch, raised_at: datetime
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Per flag, the JSON between its id and its line, between its line and
    its rowid, and after its rowid: built once per distinct set of shared
    values."""
    key = pc.binary_join_element_wise(
        flags.column("action"),
        pc.binary_join(flags.column("codes"), "\x1e"),
        pc.fill_null(flags.column("jurisdiction"), "\x00"),
        pc.fill_null(pc.cast(flags.column("required_age"), pa.string()), "\x00"),
        flags.column("source"),
        "\x1f",
    )
    indices = pc.dictionary_encode(key).indices
    _, first = np.unique(indices.to_numpy(zero_copy_only=False), return_index=True)
    shared = flags.select(_SHARED).take(pa.array(first)).to_pylist()
    at = json.dumps(raised_at.isoformat())
    heads, middles, tails = [], [], []
    for values in shared:
        heads.append(
            f', "action": {json.dumps(values["action"])}, '
            f'"codes": {json.dumps(values["codes"])}, '
            f'"jurisdiction": {json.dumps(values["jurisdiction"])}, "line": '
        )
        middles.append(
            f', "raised_at": {at}, "report_id": null, '
            f'"required_age": {json.dumps(values["required_age"])}, "rowid": '
        )
        tails.append(f', "source": {json.dumps(values["source"])}}}\n')
    return (
        pa.array(heads, pa.string()).take(indices),
        pa.array(middles, pa.string()).take(indices),
        pa.array(tails, pa.string()).take(indices),
    )


def _json_strings(values: pa.Array) -> pa.Array:
    """json.dumps of each text: pyarrow quotes text that needs no escape."""
    texts = values.cast(pa.string())
    if pc.all(pc.match_substring_regex(texts, _PLAIN_JSON)).as_py():
        return pc.binary_join_element_wise('"', texts, '"', "")
    return pa.array([json.dumps(text) for text in texts.to_pylist()], pa.string())


def _json_ints(values: pa.Array) -> pa.Array:
    return pc.fill_null(pc.cast(values, pa.string()), "null")


def _concatenated(texts: pa.Array) -> bytes:
    """The values of a string array without nulls, one after the other."""
    _, offsets, data = texts.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32)[texts.offset :]
    return memoryview(data)[bounds[0] : bounds[len(texts)]].tobytes()
