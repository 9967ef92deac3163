"""Removal flags and their stores, shared by every door.

`model` says what a flag is, `output` writes flags as CSV or JSON Lines,
`store` keeps them (a JSON Lines file or the embedded SQLite store) and
`postgres` in PostgreSQL. Other packages import flags from here.

Each name loads its module on first use: a review that writes a flag file
and keeps no store pays nothing for sqlite3 or the PostgreSQL store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import (
        MAX_ACCOUNT_ID,
        STATUSES,
        Action,
        Flag,
        FlagCode,
        Status,
        StoredFlag,
        account_id_problem,
        check_account_ids,
    )
    from .output import FLAG_COLUMNS, FlagFile, RecordWriter, flag_to_dict
    from .postgres import PostgresFlagStore
    from .store import (
        FlagSink,
        FlagStore,
        JsonlFlagSink,
        SqliteFlagStore,
        open_sink,
        open_store,
    )

# public name -> the module of this package that defines it
_HOMES = {
    "MAX_ACCOUNT_ID": "model",
    "STATUSES": "model",
    "Action": "model",
    "Flag": "model",
    "FlagCode": "model",
    "Status": "model",
    "StoredFlag": "model",
    "account_id_problem": "model",
    "check_account_ids": "model",
    "FLAG_COLUMNS": "output",
    "FlagFile": "output",
    "RecordWriter": "output",
    "flag_to_dict": "output",
    "PostgresFlagStore": "postgres",
    "FlagSink": "store",
    "FlagStore": "store",
    "JsonlFlagSink": "store",
    "SqliteFlagStore": "store",
    "open_sink": "store",
    "open_store": "store",
}

__all__ = [
    "FLAG_COLUMNS",
    "MAX_ACCOUNT_ID",
    "STATUSES",
    "Action",
    "Flag",
    "FlagCode",
    "FlagFile",
    "FlagSink",
    "FlagStore",
    "JsonlFlagSink",
    "PostgresFlagStore",
    "RecordWriter",
    "SqliteFlagStore",
    "Status",
    "StoredFlag",
    "account_id_problem",
    "check_account_ids",
    "flag_to_dict",
    "open_sink",
    "open_store",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value
