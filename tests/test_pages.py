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


# -- a refused form, for a browser and for a script --------------------------

ATLANTIS = {"birthdate": "1980-01-01", "country": "CA", "subdivision": "Atlantis"}


@pytest.fixture(scope="module")
def form_gate() -> Iterator[str]:
    with uvicorn_server(make_app(Recorder(), form_url="/join")) as url:
        yield url


def test_browser_gets_a_page_naming_the_field(form_gate: str) -> None:
    referer = form_gate + "/signup?step=1"
    response = httpx2.post(
        form_gate + "/signup", data=ATLANTIS, headers={**HTML, "referer": referer}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "<li><code>subdivision</code></li>" in response.text
    assert f'<a id="back" href="{referer}">Back to the form</a>' in response.text
    assert "Atlantis" not in response.text
    assert "1980" not in response.text


def test_french_page_and_form_url_without_referer(form_gate: str) -> None:
    headers = {**HTML, "accept-language": "fr"}
    response = httpx2.post(form_gate + "/signup", data=ATLANTIS, headers=headers)
    assert '<html lang="fr">' in response.text
    assert "Veuillez corriger ces champs" in response.text
    assert '<a id="back" href="/join">Retour au formulaire</a>' in response.text


def test_a_cross_origin_referer_is_not_linked(form_gate: str) -> None:
    for referer in ("https://evil.example/phish", form_gate.replace("http:", "https:")):
        response = httpx2.post(
            form_gate + "/signup", data=ATLANTIS, headers={**HTML, "referer": referer}
        )
        assert referer not in response.text
        assert '<a id="back" href="/join">' in response.text
    with uvicorn_server(make_app(Recorder())) as url:
        response = httpx2.post(
            url + "/signup",
            data=ATLANTIS,
            headers={**HTML, "referer": "https://evil.example/"},
        )
    assert response.status_code == 422
    assert 'id="back"' not in response.text


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (415, "text/plain", b"hello"),
        (413, "application/x-www-form-urlencoded", b"a=" + b"x" * 70_000),
    ],
)
def test_other_refusals_are_pages_too(
    form_gate: str, status: int, content_type: str, body: bytes
) -> None:
    response = httpx2.post(
        form_gate + "/signup",
        content=body,
        headers={**HTML, "content-type": content_type},
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert 'href="/join"' in response.text


@pytest.mark.parametrize(
    "accept", [None, "application/json", "*/*", "application/problem+json"]
)
def test_a_json_client_keeps_problem_json(form_gate: str, accept: str | None) -> None:
    headers = {"referer": form_gate + "/signup"}
    if accept is not None:
        headers["accept"] = accept
    response = httpx2.post(form_gate + "/signup", data=ATLANTIS, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "urn:agegate:problem:invalid",
        "title": "Some information could not be used",
        "status": 422,
        "detail": "Please correct the fields listed in `fields`.",
        "fields": ["subdivision"],
        "reasons": ["SUBDIVISION_UNKNOWN"],
    }


def test_form_url_is_checked_at_start_up() -> None:
    with pytest.raises(ValueError, match="form_url"):
        AgeGateMiddleware(
            make_app(Recorder()),
            paths=["/signup"],
            secret=SECRET,
            form_url="javascript:history.back()",
        )
