"""agegate: keep minors out of services that are not for them.

The core (tables, signals, policy, screening) imports no web framework; the
ASGI middleware loads on first use of `agegate.AgeGateMiddleware`. Every
name here loads on first use: a command that needs none of them (a removal
run, reading flags) does not pay for the rules, the country tables and the
phone-number metadata.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .asgi.middleware import AgeGateMiddleware
    from .decision import Decision, Outcome, decision_to_dict
    from .errors import AgeGateError, InputError, TableError, UnknownJurisdiction
    from .policy import FieldMap, Policy
    from .reasons import Reason
    from .rules import Confidence, Kind, Rule, Rules, load_rules
    from .screen import screen

__all__ = [
    "AgeGateError",
    "AgeGateMiddleware",
    "Confidence",
    "Decision",
    "FieldMap",
    "InputError",
    "Kind",
    "Outcome",
    "Policy",
    "Reason",
    "Rule",
    "Rules",
    "TableError",
    "UnknownJurisdiction",
    "decision_to_dict",
    "load_rules",
    "screen",
]

# name -> the module it comes from. Starlette loads only for those who mount
# the gate: a batch review or `import agegate.screen` pays nothing for the
# web stack.
_WHERE = {
    "AgeGateError": ".errors",
    "AgeGateMiddleware": ".asgi.middleware",
    "Confidence": ".rules",
    "Decision": ".decision",
    "FieldMap": ".policy",
    "InputError": ".errors",
    "Kind": ".rules",
    "Outcome": ".decision",
    "Policy": ".policy",
    "Reason": ".reasons",
    "Rule": ".rules",
    "Rules": ".rules",
    "TableError": ".errors",
    "UnknownJurisdiction": ".errors",
    "decision_to_dict": ".decision",
    "load_rules": ".rules",
    "screen": ".screen",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'agegate' has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """`agegate.screen` is the function, as it always was, though a module
    of that name exists: importing the module (`import agegate.screen`,
    `from agegate.screen import ...`) does not rebind the package's name."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "screen" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
