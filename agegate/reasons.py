"""The codes agegate speaks: every value is a stable string scripts match on.

Three vocabularies, one module, so a code is defined once and read the same
by every door:

* `Reason`: why screening decided as it did (`Decision.reasons`).
* `Refusal`: why a door refused a request it could not read with certainty
  (the `code` of a problem+json body, or a field problem's code).
* `FlagCode`: why an account was flagged for removal or verification.

Each is a `StrEnum`: a member equals its string and serialises as it, so the
wire format, logs, CSV and SQLite rows hold the same text as plain strings.
A value is a code, never personal data.
"""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """Reason codes of a Decision."""

    UNDERAGE = "UNDERAGE"
    SIGNALS_CONFLICT = "SIGNALS_CONFLICT"
    BIRTHDATE_MISSING = "BIRTHDATE_MISSING"
    BIRTHDATE_MALFORMED = "BIRTHDATE_MALFORMED"
    BIRTHDATE_AMBIGUOUS = "BIRTHDATE_AMBIGUOUS"
    BIRTHDATE_IN_FUTURE = "BIRTHDATE_IN_FUTURE"
    BIRTHDATE_IMPLAUSIBLE = "BIRTHDATE_IMPLAUSIBLE"
    BIRTHDATE_PARTIAL = "BIRTHDATE_PARTIAL"
    # A month or day without its year: the gate cannot see a stored year.
    BIRTHDATE_INCOMPLETE = "BIRTHDATE_INCOMPLETE"
    # Two birth inputs (keys, parts, a declared age) say different things.
    BIRTH_FIELDS_CONFLICT = "BIRTH_FIELDS_CONFLICT"
    AGE_MALFORMED = "AGE_MALFORMED"
    AGE_IMPLAUSIBLE = "AGE_IMPLAUSIBLE"
    JURISDICTION_MISSING = "JURISDICTION_MISSING"
    JURISDICTION_DEFAULTED = "JURISDICTION_DEFAULTED"
    COUNTRY_UNKNOWN = "COUNTRY_UNKNOWN"
    # A place name that names two countries or subdivisions.
    COUNTRY_AMBIGUOUS = "COUNTRY_AMBIGUOUS"
    SUBDIVISION_AMBIGUOUS = "SUBDIVISION_AMBIGUOUS"
    SUBDIVISION_UNKNOWN = "SUBDIVISION_UNKNOWN"
    SUBDIVISION_WITHOUT_COUNTRY = "SUBDIVISION_WITHOUT_COUNTRY"
    POSTAL_CODE_UNKNOWN = "POSTAL_CODE_UNKNOWN"
    PHONE_MALFORMED = "PHONE_MALFORMED"
    PHONE_INVALID = "PHONE_INVALID"
    FIELD_AMBIGUOUS = "FIELD_AMBIGUOUS"
    FIELD_NOT_TEXT = "FIELD_NOT_TEXT"
    # The jurisdiction needs a verified proof of age, not a typed birthdate.
    NEEDS_ASSURANCE = "NEEDS_ASSURANCE"
    # A verified proof says the person is younger than the age required.
    ASSURANCE_UNDER = "ASSURANCE_UNDER"


class Refusal(enum.StrEnum):
    """Codes of the requests a door refuses, as problem+json bodies carry them."""

    # Reading the body and headers.
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    BODY_UNREADABLE = "BODY_UNREADABLE"
    MEDIA_TYPE_UNSUPPORTED = "MEDIA_TYPE_UNSUPPORTED"
    CHARSET_UNSUPPORTED = "CHARSET_UNSUPPORTED"
    CONTENT_ENCODING_UNSUPPORTED = "CONTENT_ENCODING_UNSUPPORTED"
    BODY_MALFORMED = "BODY_MALFORMED"
    BODY_ENCODING = "BODY_ENCODING"
    BODY_NOT_OBJECT = "BODY_NOT_OBJECT"
    BODY_AMBIGUOUS = "BODY_AMBIGUOUS"
    KEY_REPEATED = "KEY_REPEATED"
    FIELD_REPEATED = "FIELD_REPEATED"
    FIELD_IN_QUERY_AND_BODY = "FIELD_IN_QUERY_AND_BODY"
    FIELD_NOT_TEXT = "FIELD_NOT_TEXT"
    PART_AMBIGUOUS = "PART_AMBIGUOUS"
    HEADER_AMBIGUOUS = "HEADER_AMBIGUOUS"
    HEADER_TOO_LARGE = "HEADER_TOO_LARGE"
    COOKIE_UNREADABLE = "COOKIE_UNREADABLE"
    WEBSOCKET_REFUSED = "WEBSOCKET_REFUSED"
    # Profile updates: the account they name, and the flag they raise.
    ACCOUNT_ID_MISSING = "ACCOUNT_ID_MISSING"
    ACCOUNT_ID_INVALID = "ACCOUNT_ID_INVALID"
    FLAG_NOT_RECORDED = "FLAG_NOT_RECORDED"
    # The report intake: a browser post from another site, a form post without
    # a token the intake served, too many reports from one address.
    CROSS_SITE_REFUSED = "CROSS_SITE_REFUSED"
    FORM_TOKEN_INVALID = "FORM_TOKEN_INVALID"  # noqa: S105 (a code, not a secret)
    RATE_LIMITED = "RATE_LIMITED"
    # Field problems of the report intake.
    IDENTIFIER_MISSING = "IDENTIFIER_MISSING"
    ACCOUNT_ID_MALFORMED = "ACCOUNT_ID_MALFORMED"
    EMAIL_MALFORMED = "EMAIL_MALFORMED"
    PHONE_INVALID = "PHONE_INVALID"
    TOO_LONG = "TOO_LONG"
    NOT_TEXT = "NOT_TEXT"
    # A body key on the way to a mapped dotted key that holds no object.
    FIELD_NOT_OBJECT = "FIELD_NOT_OBJECT"


class FlagCode(enum.StrEnum):
    """Codes of a removal or verification flag."""

    MINOR_AT_COLLECTION = "MINOR_AT_COLLECTION"
    MINOR_NOW = "MINOR_NOW"
    BIRTHDATE_MISSING = "BIRTHDATE_MISSING"
    BIRTHDATE_INVALID = "BIRTHDATE_INVALID"
    JURISDICTION_UNKNOWN = "JURISDICTION_UNKNOWN"
    SIGNALS_CONFLICT = "SIGNALS_CONFLICT"
    COLLECTED_AT_INVALID = "COLLECTED_AT_INVALID"
    PROFILE_UNDERAGE = "PROFILE_UNDERAGE"
    REPORTED = "REPORTED"
    # The policy needs a verified proof of age and the account's has lapsed.
    ASSURANCE_LAPSED = "ASSURANCE_LAPSED"
