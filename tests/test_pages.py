"""The gate's pages for people: the block notice with the operator's contact
settings (`Notice`), through the middleware on a real uvicorn server and
Starlette's TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from gate_support import AGE_17, SECRET, Recorder, bc, make_app, uvicorn_server
from starlette.testclient import TestClient

from agegate.asgi import Notice
from agegate.asgi import notice as notice_module
from agegate.asgi.middleware import AgeGateMiddleware

HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
CONTACT = Notice(
    service_name="Example <Voice>",
    contact_url="https://example.com/report?a=1&b=2",
    contact_email="privacy@example.com",
)


@pytest.fixture(scope="module", params=["testclient", "uvicorn"])
def clients(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """One client on a gate with contact settings, one on a gate without."""
    apps = {
        "set": make_app(Recorder(), notice=CONTACT),
        "plain": make_app(Recorder()),
    }
    if request.param == "testclient":
        with TestClient(apps["set"]) as a, TestClient(apps["plain"]) as b:
            yield {"set": a, "plain": b}
        return
    with (
        uvicorn_server(apps["set"]) as a,
        uvicorn_server(apps["plain"]) as b,
        httpx2.Client(base_url=a) as ca,
        httpx2.Client(base_url=b) as cb,
    ):
        yield {"set": ca, "plain": cb}


def test_html_notice_links_the_contact(clients: dict[str, Any]) -> None:
    response = clients["set"].post("/signup", data=bc(AGE_17), headers=HTML)
    assert response.status_code == 403
    text = response.text
    assert '<a id="contact-url" href="https://example.com/report?a=1&amp;b=2">' in text
    assert 'href="mailto:privacy@example.com"' in text
    # The service name is shown, escaped.
    assert "Example &lt;Voice&gt; is not meant for anyone" in text
    assert "<Voice>" not in text
    assert AGE_17 not in text


def test_problem_json_names_the_contact(clients: dict[str, Any]) -> None:
    response = clients["set"].post("/signup", json=bc(AGE_17))
    assert response.status_code == 403
    body = response.json()
    assert body["contact_url"] == "https://example.com/report?a=1&b=2"
    assert body["contact_email"] == "privacy@example.com"
    assert body["service_name"] == "Example <Voice>"
    assert "write to privacy@example.com" in body["detail"]


def test_french_notice_names_the_contact(clients: dict[str, Any]) -> None:
    headers = {**HTML, "accept-language": "fr"}
    response = clients["set"].post("/signup", data=bc(AGE_17), headers=headers)
    assert 'Signalez-le à l&#x27;adresse <a id="contact-url"' in response.text
    assert "Example &lt;Voice&gt; n&#x27;est pas destiné" in response.text
    body = (
        clients["set"]
        .post("/signup", json=bc(AGE_17), headers={"accept-language": "fr"})
        .json()
    )
    assert "écrivez à privacy@example.com" in body["detail"]


def test_without_settings_the_notice_is_unchanged(clients: dict[str, Any]) -> None:
    html_text = clients["plain"].post("/signup", data=bc(AGE_17), headers=HTML).text
    assert html_text == notice_module.block(
        "en", as_html=True, minimum_age=18
    ).body.decode("utf-8")
    assert "contact-url" not in html_text
    assert "mailto:" not in html_text
    assert "This service is not meant" in html_text
    assert "contact us and we will remove it.</p></main>" in html_text
    body = clients["plain"].post("/signup", json=bc(AGE_17)).json()
    assert set(body) == {"type", "title", "status", "detail"}
    assert body["detail"].endswith("contact us and we will remove it.")


@pytest.mark.parametrize(
    "settings",
    [
        {"contact_url": "javascript:alert(1)"},
        {"contact_url": "//evil.example/"},
        {"contact_url": "/\\evil.example/"},
        {"contact_url": "ftp://example.com/"},
        {"contact_url": "report"},
        {"contact_email": "not an address"},
        {"contact_email": "a@b"},
        {"contact_email": "x<script>@example.com"},
        {"service_name": ""},
        {"service_name": "line\nbreak"},
    ],
)
def test_unusable_settings_are_refused_at_start_up(settings: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"contact_url|contact_email|service_name"):
        Notice(**settings)


def test_the_gate_refuses_a_notice_that_is_not_one() -> None:
    with pytest.raises(TypeError, match="notice"):
        AgeGateMiddleware(
            make_app(Recorder()),
            paths=["/signup"],
            secret=SECRET,
            notice={"contact_url": "/report"},  # type: ignore[arg-type]
        )
    Notice(contact_url="/report-a-minor/", contact_email="a.b+c@example.co.uk")
