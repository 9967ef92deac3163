"""Removal flags and their stores, shared by every door.

`model` says what a flag is, `output` writes flags as CSV or JSON Lines,
`store` keeps them (a JSON Lines file or the embedded SQLite store).
"""

from .model import STATUSES, Action, Flag, FlagCode, Status, StoredFlag
from .output import FLAG_COLUMNS, FlagFile, RecordWriter, flag_to_dict
from .store import FlagSink, JsonlFlagSink, SqliteFlagStore, open_sink

__all__ = [
    "FLAG_COLUMNS",
    "STATUSES",
    "Action",
    "Flag",
    "FlagCode",
    "FlagFile",
    "FlagSink",
    "JsonlFlagSink",
    "RecordWriter",
    "SqliteFlagStore",
    "Status",
    "StoredFlag",
    "flag_to_dict",
    "open_sink",
]
