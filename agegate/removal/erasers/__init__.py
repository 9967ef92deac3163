"""The erasers: one per kind of store, and the operator's own."""

from .base import Erased, Eraser, Replayable, Survey
from .operator import ENTRY_POINT_GROUP, load_eraser

__all__ = [
    "ENTRY_POINT_GROUP",
    "Erased",
    "Eraser",
    "Replayable",
    "Survey",
    "load_eraser",
]
