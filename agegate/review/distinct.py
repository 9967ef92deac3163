"""Rows numbered by what they hold: the columnar engine's way of running
Python once per distinct combination of small integer codes."""

from __future__ import annotations

from typing import Any

import numpy as np


def first_and_inverse(
    key: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """`np.unique(key, return_index=True, return_inverse=True)` less the
    values: per distinct value in increasing order, the row it first
    stands on, and per row the number of its value. Keys spanning few
    values (most here: the parts are small codes) are counted in a table
    instead of sorted, many times faster."""
    rows = len(key)
    low = int(key.min()) if rows else 0
    span = (int(key.max()) - low + 1) if rows else 0
    if span > 4 * rows + 4096:
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        return first, inverse.reshape(-1)
    shifted = key - low
    first_at = np.full(span, rows, dtype=np.int64)
    np.minimum.at(first_at, shifted, np.arange(rows))
    present = first_at < rows
    numbers = np.cumsum(present) - 1
    return first_at[present], numbers[shifted]


def combined(parts: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    """One int64 per row, equal exactly where every part is: the parts in
    mixed radix, renumbered densely when the product would overflow."""
    key = np.zeros(len(parts[0]), dtype=np.int64)
    size = 1
    for part in parts:
        low = int(part.min()) if len(part) else 0
        span = (int(part.max()) - low + 1) if len(part) else 1
        if size * span >= 1 << 62:
            _, key = np.unique(key, return_inverse=True)
            key = key.reshape(-1).astype(np.int64)
            size = int(key.max()) + 1 if len(key) else 1
        key = key * span + (part - low)
        size *= span
    return key
