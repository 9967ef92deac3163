"""Content negotiation shared by the gate, the report intake and the demo:
Accept and Accept-Language read with their q-values."""

from __future__ import annotations

import pytest
from gate_support import Recorder, bc, make_app, years_ago
from starlette.testclient import TestClient

from agegate.asgi.negotiate import (
    asks_for_json,
    choose_language,
    media_weight,
    prefers_html,
    weights,
)

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("application/json;q=0.1, text/html;q=0.9", True),
        ("text/html;q=0, application/json", False),
        ("application/json, text/html", False),  # a tie goes to JSON
        ("text/html, application/json;q=0.99", True),
        ("application/problem+json;q=0.5, text/html;q=0.6", True),
        ("text/html;q=0.4, application/problem+json;q=0.5", False),
        ("text/*;q=0.9, application/json;q=0.5", True),
        ("text/*, */*;q=0.1", True),
        ("*/*", False),
        ("", False),
        (None, False),
        (BROWSER, True),
        ("TEXT/HTML", True),
        ("text/html;q=2", False),  # out of range: weight 0
        ("text/html;q=abc", False),
        ("text/html;q=0.5, text/html;q=0", True),  # the first entry counts
        ("text/html;q=0.1", True),
        ("text/html;q=0.9, */*;q=0.9", False),  # JSON through */* ties
    ],
)
def test_prefers_html(accept: str | None, html: bool) -> None:
    assert prefers_html(accept) is html


@pytest.mark.parametrize(
    ("accept", "json"),
    [
        ("application/json", True),
        ("application/problem+json", True),
        ("application/vnd.api+json;q=0.3", True),
        ("application/json;q=0.1, text/html;q=0.9", False),
        ("text/html;q=0, application/json", True),
        ("application/json;q=0", False),
        ("*/*", False),  # curl: the page for people
        ("", False),
        (BROWSER, False),
    ],
)
def test_asks_for_json(accept: str, json: bool) -> None:
    assert asks_for_json(accept) is json


def test_weights_keep_order_and_first_value() -> None:
    assert weights(" text/html ;q=0.5 , */* ; Q=0.1,text/html") == {
        "text/html": 0.5,
        "*/*": 0.1,
    }


def test_media_weight_takes_the_most_specific_entry() -> None:
    accepted = weights("text/*;q=0.3, */*;q=0.1, text/html;q=0.7")
    assert media_weight(accepted, "text/html") == 0.7
    assert media_weight(accepted, "text/plain") == 0.3
    assert media_weight(accepted, "application/json") == 0.1
    assert media_weight({}, "text/html") == 0.0


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("fr-CA,fr;q=0.9,en;q=0.8", "fr"),
        ("en;q=0.5, fr;q=0.6", "fr"),
        ("fr;q=0.5, en;q=0.5", "fr"),  # a tie: the first named
        ("de, fr;q=0.2", "fr"),
        ("de, es", "en"),
        ("fr;q=0", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_choose_language(header: str | None, lang: str) -> None:
    assert choose_language(header) == lang


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("application/json;q=0.1, text/html;q=0.9", True),
        ("text/html;q=0, application/json", False),
    ],
)
def test_the_gates_block_notice_negotiates_so(accept: str, html: bool) -> None:
    app = make_app(Recorder(), block_cookie=False, secret=None)
    with TestClient(app) as client:
        response = client.post(
            "/signup", json=bc(years_ago(17)), headers={"Accept": accept}
        )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html") is html
