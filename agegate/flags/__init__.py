"""Removal flags and their stores, shared by every door.

`model` says what a flag is, `output` writes flags as CSV or JSON Lines,
`store` keeps them (a JSON Lines file or the embedded SQLite store) and
`postgres` in PostgreSQL. Other packages import flags from here.
"""

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
