"""The package's loggers, looked up when there is something to log.

Importing `logging` (with the traceback and string machinery it brings)
costs a visible share of a short command's start-up, and most runs log
nothing; a module asks for its logger here at the moment it writes.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging


@functools.cache
def logger(name: str) -> logging.Logger:
    """`logging.getLogger(name)`, importing logging on first use."""
    import logging

    return logging.getLogger(name)
