"""The gate's answers: problem+json (RFC 9457) and a small HTML block notice.

The block notice follows the service's children's-privacy policy: the service
is not for people under the service's minimum age or under the legal age
where they live, and they should not send personal information. It is a
neutral screen: it never says which age the person's jurisdiction requires,
which age was computed or which date would have passed. No answer repeats a
submitted value; 422 and 400 bodies name configured fields and codes only.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

import attrs
from starlette.responses import Response

from .negotiate import Lang
from .pages import page
from .problem import problem_body, problem_response

# Every gate answer is about one submission and may carry a block cookie:
# no cache may keep or share it.
BASE_HEADERS = {"Cache-Control": "no-store", "Vary": "Accept, Accept-Language"}

_TITLES: dict[str, dict[Lang, str]] = {
    "UNDERAGE": {
        "en": "This service is not available to you",
        "fr": "Ce service ne vous est pas accessible",
    },
    "NEEDS_INFO": {
        "en": "Some required information is missing",
        "fr": "Des renseignements obligatoires sont manquants",
    },
    "INVALID": {
        "en": "Some information could not be used",
        "fr": "Certains renseignements sont inutilisables",
    },
    "BODY_TOO_LARGE": {
        "en": "The request is too large",
        "fr": "La requête est trop volumineuse",
    },
    "MEDIA_TYPE_UNSUPPORTED": {
        "en": "The request's format is not accepted",
        "fr": "Le format de la requête n'est pas accepté",
    },
    "BODY_UNREADABLE": {
        "en": "The request could not be read",
        "fr": "La requête n'a pas pu être lue",
    },
    "UNAVAILABLE": {
        "en": "The request could not be completed; please try again later",
        "fr": "La requête n'a pas pu aboutir ; veuillez réessayer plus tard",
    },
}

_DETAILS: dict[str, dict[Lang, str]] = {
    "NEEDS_INFO": {
        "en": "Please provide the fields listed in `fields`.",
        "fr": "Veuillez fournir les champs indiqués dans `fields`.",
    },
    "INVALID": {
        "en": "Please correct the fields listed in `fields`.",
        "fr": "Veuillez corriger les champs indiqués dans `fields`.",
    },
    "BODY_TOO_LARGE": {
        "en": "Send a smaller request.",
        "fr": "Envoyez une requête plus petite.",
    },
    "MEDIA_TYPE_UNSUPPORTED": {
        "en": "Send JSON (UTF-8), an URL-encoded form or a multipart form.",
        "fr": "Envoyez du JSON (UTF-8), un formulaire encodé en URL ou multipart.",
    },
    "BODY_UNREADABLE": {
        "en": "The request could not be read in only one way; see `code`.",
        "fr": "La requête ne peut pas être lue d'une seule façon ; voir `code`.",
    },
    "UNAVAILABLE": {
        "en": "Nothing you sent was kept.",
        "fr": "Rien de ce que vous avez envoyé n'a été conservé.",
    },
}


# A simple shape, not RFC 5322: one @, a dot in the domain, nothing that
# would need quoting in a mailto: link or in HTML.
_EMAIL = re.compile(r"[^@\s<>\"'(),;:\\]+@[^@\s<>\"'(),;:\\/?#]+\.[A-Za-z0-9-]+")


def _text(name: str, value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str")
    if not value.strip() or len(value) > 200:
        raise ValueError(f"{name} must be 1 to 200 characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{name} must not hold control characters")


def _check_name(instance: Any, attribute: Any, value: str | None) -> None:
    _text("service_name", value)


def check_link(name: str, value: str | None) -> None:
    """Refuse a link the gate would print that is not an http(s) URL or a
    path on the same site (ValueError naming the option)."""
    _text(name, value)
    if value is None:
        return
    # "//host" and "/\\host" are read by browsers as another site.
    local = value.startswith("/") and not value.startswith(("//", "/\\"))
    web = value.lower().startswith(("http://", "https://"))
    if not (local or web) or any(c in value for c in ' \\<>"'):
        raise ValueError(f'{name} must be an http(s) URL or a path from "/"')


def _check_url(instance: Any, attribute: Any, value: str | None) -> None:
    check_link("contact_url", value)


def _check_email(instance: Any, attribute: Any, value: str | None) -> None:
    _text("contact_email", value)
    if value is not None and _EMAIL.fullmatch(value) is None:
        raise ValueError("contact_email must be an e-mail address")


@attrs.frozen
class Notice:
    """What the block notice says about the service that shows it: its name,
    and where to ask for a minor's data to be removed (a page, an address).
    Unset parts keep the notice's plain wording."""

    service_name: str | None = attrs.field(default=None, validator=_check_name)
    contact_url: str | None = attrs.field(default=None, validator=_check_url)
    contact_email: str | None = attrs.field(default=None, validator=_check_email)


def _block_text(lang: Lang, minimum_age: int, service: str | None = None) -> list[str]:
    if lang == "fr":
        return [
            f"{service or 'Ce service'} n'est pas destiné aux personnes de"
            f" moins de {minimum_age}"
            " ans, ni à celles qui n'ont pas atteint l'âge de la majorité là où"
            " elles vivent.",
            "Si c'est votre cas, ne nous transmettez aucun renseignement"
            " personnel, ici ou en réponse à nos publicités.",
            "Si vous pensez que des renseignements personnels concernant une"
            " personne mineure nous ont été transmis, écrivez-nous : nous les"
            " supprimerons.",
        ]
    return [
        f"{service or 'This service'} is not meant for anyone under"
        f" {minimum_age}, or for"
        " anyone who has not reached the legal age where they live.",
        "If that is you, please do not send us any personal information, here"
        " or in reply to our advertising.",
        "If you believe personal information about a minor has reached us,"
        " contact us and we will remove it.",
    ]


# What a person reads on the HTML error page, in place of the `fields` and
# `code` members a script reads.
_HTML_DETAILS: dict[str, dict[Lang, str]] = {
    "NEEDS_INFO": {
        "en": "Please fill in these fields:",
        "fr": "Veuillez remplir ces champs :",
    },
    "INVALID": {
        "en": "Please correct these fields:",
        "fr": "Veuillez corriger ces champs :",
    },
    "BODY_UNREADABLE": {
        "en": "Please check these fields and send the form again:",
        "fr": "Veuillez vérifier ces champs et renvoyer le formulaire :",
    },
}
_BACK = {"en": "Back to the form", "fr": "Retour au formulaire"}
_AGAIN = {
    "en": "Please send the form again.",
    "fr": "Veuillez renvoyer le formulaire.",
}
# The refusals a person filling in a form can meet and fix.
HTML_STATUSES = frozenset({400, 413, 415, 422})


def _headers(lang: Lang, extra: dict[str, str] | None) -> dict[str, str]:
    return {**BASE_HEADERS, "Content-Language": lang, **(extra or {})}


def problem(
    status: int,
    kind: str,
    lang: Lang,
    *,
    code: str | None = None,
    fields: Sequence[str] = (),
    reasons: Sequence[str] = (),
    headers: dict[str, str] | None = None,
    as_html: bool = False,
    back: str | None = None,
) -> Response:
    """An RFC 9457 problem: type, title, status, detail, and stable codes.

    With `as_html` (a browser), a 400, 413, 415 or 422 is a page instead that
    names the fields to fix and links `back` to the form when given."""
    if as_html and status in HTML_STATUSES:
        return _problem_page(status, kind, lang, fields, back, headers)
    body = problem_body(
        status,
        code or kind,
        _TITLES[kind][lang],
        detail=_DETAILS[kind][lang] if kind in _DETAILS else None,
        code=code,
        fields=fields,
        reasons=reasons,
    )
    return problem_response(body, headers=_headers(lang, headers))


def _problem_page(
    status: int,
    kind: str,
    lang: Lang,
    fields: Sequence[str],
    back: str | None,
    headers: dict[str, str] | None,
) -> Response:
    """A refusal as a page: the title, the fields to fix (names only, never
    what was typed) and the way back to the form."""
    title = _TITLES[kind][lang]
    content = f'<h1>{html.escape(title)}</h1><div class="problem" id="problem">'
    if fields:
        lead = _HTML_DETAILS.get(kind, _HTML_DETAILS["BODY_UNREADABLE"])[lang]
        items = "".join(f"<li><code>{html.escape(f)}</code></li>" for f in fields)
        content += f'<p>{html.escape(lead)}</p><ul id="fields">{items}</ul>'
    else:
        detail = _DETAILS.get(kind, {}).get(lang) if kind != "BODY_UNREADABLE" else None
        content += f"<p>{html.escape(detail or _AGAIN[lang])}</p>"
    content += "</div>"
    if back is not None:
        content += (
            f'<p><a id="back" href="{html.escape(back)}">'
            f"{html.escape(_BACK[lang])}</a></p>"
        )
    return Response(
        page(title, content, lang=lang).encode("utf-8"),
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers=_headers(lang, headers),
    )


def _contact(lang: Lang, settings: Notice) -> tuple[str, str] | None:
    """The sentence that says where to write, as text and as HTML; None when
    no contact is set."""
    url, email = settings.contact_url, settings.contact_email
    if url is None and email is None:
        return None
    words = {
        "en": ("report it at ", "write to ", " or "),
        "fr": ("signalez-le à l'adresse ", "écrivez à ", " ou "),
    }[lang]
    text: list[str] = []
    markup: list[str] = []
    if url is not None:
        text.append(words[0] + url)
        link = html.escape(url)
        markup.append(
            html.escape(words[0]) + f'<a id="contact-url" href="{link}">{link}</a>'
        )
    if email is not None:
        text.append(words[1] + email)
        address = html.escape(email)
        markup.append(
            html.escape(words[1])
            + f'<a id="contact-email" href="mailto:{address}">{address}</a>'
        )
    sentence, rich = words[2].join(text), html.escape(words[2]).join(markup)
    return sentence[0].upper() + sentence[1:] + ".", rich[0].upper() + rich[1:] + "."


def block(
    lang: Lang,
    *,
    as_html: bool,
    minimum_age: int,
    headers: dict[str, str] | None = None,
    settings: Notice | None = None,
) -> Response:
    """The 403 notice, as problem+json or as a small accessible HTML page."""
    settings = settings or Notice()
    paragraphs = _block_text(lang, minimum_age, settings.service_name)
    contact = _contact(lang, settings)
    title = _TITLES["UNDERAGE"][lang]
    if not as_html:
        detail = " ".join(paragraphs + ([contact[0]] if contact else []))
        body = problem_body(403, "UNDERAGE", title, detail=detail)
        body.update(_contact_members(settings))
        return problem_response(body, headers=_headers(lang, headers))
    content = f"<h1>{html.escape(title)}</h1>" + "".join(
        f"<p>{html.escape(p)}</p>" for p in paragraphs
    )
    if contact:
        content += f'<p id="contact">{contact[1]}</p>'
    return Response(
        page(title, content, lang=lang).encode("utf-8"),
        status_code=403,
        media_type="text/html; charset=utf-8",
        headers=_headers(lang, headers),
    )


def _contact_members(settings: Notice) -> dict[str, str]:
    """Extension members of the 403 problem, for a client that shows its own
    notice and needs where to send a person."""
    members = {
        "service_name": settings.service_name,
        "contact_url": settings.contact_url,
        "contact_email": settings.contact_email,
    }
    return {key: value for key, value in members.items() if value is not None}
