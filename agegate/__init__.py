"""agegate: keep minors out of services that are not for them.

The core (tables, signals, policy, screening) imports no web framework; the
ASGI middleware loads on first use of `agegate.AgeGateMiddleware`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .decision import Decision, Outcome, decision_to_dict
from .errors import AgeGateError, InputError, TableError, UnknownJurisdiction
from .policy import FieldMap, Policy
from .reasons import Reason
from .rules import Confidence, Kind, Rule, Rules, load_rules
from .screen import screen

if TYPE_CHECKING:
    from .asgi.middleware import AgeGateMiddleware

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


def __getattr__(name: str) -> Any:
    # Starlette loads only for those who mount the gate: a batch review or
    # `import agegate.screen` pays nothing for the web stack.
    if name == "AgeGateMiddleware":
        from .asgi.middleware import AgeGateMiddleware

        return AgeGateMiddleware
    raise AttributeError(f"module 'agegate' has no attribute {name!r}")
