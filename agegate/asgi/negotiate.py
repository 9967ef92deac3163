"""Content negotiation shared by every door: HTML or JSON, English or French.

One reading of `Accept` and `Accept-Language` (RFC 9110 q-values), so that the
gate, the report intake and the demo answer a client alike. A media type is
weighed by its most specific entry (`text/html`, then `text/*`, then `*/*`);
a q-value that is not a number from 0 to 1 counts as 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Lang = Literal["en", "fr"]
LANGS: tuple[Lang, ...] = ("en", "fr")
PROBLEM_JSON = "application/problem+json"
_JSON_TYPES = ("application/json", PROBLEM_JSON)


def _quality(item: str) -> tuple[str, float]:
    name, *params = (part.strip() for part in item.split(";"))
    weight = 1.0
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                weight = 0.0
            if not 0.0 <= weight <= 1.0:
                weight = 0.0
    return name.lower(), weight


def weights(header: str | None) -> dict[str, float]:
    """Each entry of an Accept-style header and its q-value, in header order;
    an entry given twice keeps its first weight."""
    found: dict[str, float] = {}
    for item in (header or "").split(","):
        if item.strip():
            name, weight = _quality(item)
            found.setdefault(name, weight)
    return found


def media_weight(accepted: Mapping[str, float], media: str) -> float:
    """The weight of `media` under the most specific entry that covers it."""
    kind = media.split("/", 1)[0]
    for name in (media, f"{kind}/*", "*/*"):
        if name in accepted:
            return accepted[name]
    return 0.0


def _json_weight(accepted: Mapping[str, float]) -> float:
    return max(media_weight(accepted, media) for media in _JSON_TYPES)


def prefers_html(accept: str | None) -> bool:
    """Whether the client ranks text/html above JSON (a browser, not an API).

    On a tie (`*/*`, or no Accept at all) the answer is JSON: a script that
    does not say what it reads gets the machine-readable form.
    """
    accepted = weights(accept)
    html_weight = media_weight(accepted, "text/html")
    return html_weight > 0 and html_weight > _json_weight(accepted)


def asks_for_json(accept: str | None) -> bool:
    """Whether the client names a JSON type itself, above HTML.

    Stricter than `not prefers_html`: a wildcard alone (curl's `*/*`) does
    not count, so a page meant for people stays the default there.
    """
    accepted = weights(accept)
    named = [
        weight
        for name, weight in accepted.items()
        if name in _JSON_TYPES
        or (name.startswith("application/") and name.endswith("+json"))
    ]
    return max(named, default=0.0) > 0 and not prefers_html(accept)


def choose_language(accept_language: str | None) -> Lang:
    """English or French, by Accept-Language; English when neither is asked for."""
    best: tuple[float, int] = (0.0, 0)
    chosen: Lang = "en"
    for position, (tag, weight) in enumerate(weights(accept_language).items()):
        primary = tag.split("-", 1)[0]
        if primary in LANGS and weight > 0 and (weight, -position) > best:
            best = (weight, -position)
            chosen = "fr" if primary == "fr" else "en"
    return chosen
