"""agegate: keep minors out of services that are not for them."""

from .decision import Decision, Outcome, Reason, decision_to_dict
from .errors import AgeGateError, InputError, TableError, UnknownJurisdiction
from .middleware import AgeGateMiddleware
from .policy import FieldMap, Policy
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
