"""Operators' erasers, for the stores agegate cannot see: caches, search
indexes, object storage, analytics.

An operator's eraser is any object with a `label` and `plan`, `erase` and
`verify` (see `base.Eraser`), made by a callable that takes no argument. It
is named either `module:callable` (`--eraser mycompany.erasers:redis_cache`)
or by the name it is registered under in the `agegate.erasers` entry point
group of an installed package.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from ...errors import InputError
from .base import Eraser

__all__ = ["ENTRY_POINT_GROUP", "load_eraser"]

ENTRY_POINT_GROUP = "agegate.erasers"
_SPEC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def _factory(spec: str) -> Any:
    if _SPEC.fullmatch(spec):
        module_name, _, attribute = spec.partition(":")
        try:
            found: Any = importlib.import_module(module_name)
        except ImportError:
            raise InputError("cannot import the eraser's module", where=spec) from None
        for part in attribute.split("."):
            found = getattr(found, part, None)
            if found is None:
                raise InputError("the module has no such eraser", where=spec)
        return found
    # Loaded here: reading the installed packages' metadata costs every
    # command a start-up, and only a named eraser needs it.
    from importlib import metadata

    points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    chosen = [point for point in points if point.name == spec]
    if not chosen:
        raise InputError(
            f"no eraser of that name in the {ENTRY_POINT_GROUP} entry points"
            " (or give module:callable)",
            where=spec,
        )
    return chosen[0].load()


def load_eraser(spec: str) -> Eraser:
    """The eraser `spec` names, made now, or an InputError saying why not."""
    factory = _factory(spec)
    if not callable(factory):
        raise InputError("the eraser is not callable", where=spec)
    eraser = factory()
    if not isinstance(eraser, Eraser) or not isinstance(eraser.label, str):
        raise InputError(
            "the eraser does not have label, plan, erase and verify", where=spec
        )
    return eraser
