"""The HTML shell of every page agegate serves: one accessible, self-contained
page and one stylesheet, shared by the block notice, the report form and the
demo app."""

from __future__ import annotations

import html

# Inline, so that a page needs nothing else from the server. Colours keep a
# contrast ratio of at least 4.5:1 on white.
STYLE = (
    "body{font:1.125rem/1.5 system-ui,sans-serif;margin:0;color:#1b1b1b}"
    "main{max-width:40rem;margin:2rem auto;padding:0 1.25rem}"
    "h1{font-size:1.6rem;line-height:1.25}"
    "label{display:block;font-weight:600;margin-top:1rem}"
    "input,select{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}"
    "button{margin-top:1.2rem;font-size:1rem;padding:.5rem 1.2rem}"
    ".hint{color:#444;font-size:.9rem;margin:.2rem 0 0}"
    ".notice{border:3px solid #8a4b00;background:#fff6e5;padding:.5rem 1rem}"
    ".problem{border:2px solid #b00020;padding:.5rem 1rem;margin:1rem 0}"
)


def page(title: str, body: str, *, lang: str = "en") -> str:
    """A whole document around `body` (already escaped HTML), styled by the
    shared stylesheet."""
    return (
        f'<!doctype html>\n<html lang="{html.escape(lang)}">'
        '<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
