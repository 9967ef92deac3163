"""The HTML shell of every page agegate serves: one accessible, self-contained page."""

from __future__ import annotations

import html


def page(title: str, body: str, *, style: str, lang: str = "en") -> str:
    """A whole document around `body` (already escaped HTML).

    The style is inline so that a page needs nothing else from the server.
    """
    return (
        f'<!doctype html>\n<html lang="{html.escape(lang)}">'
        '<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{style}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
