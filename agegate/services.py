"""The kinds of service a table rule may set a minimum age for.

Kept apart from the tables so the command line can offer them as choices
without loading anything.
"""

from __future__ import annotations

from collections.abc import Mapping

# The kinds of service a `service_minimum` rule may name, and what each
# covers; a law's own definition is in the rule's note.
SERVICE_KINDS: Mapping[str, str] = {
    "social_media": (
        "a service whose main purpose is online social interaction between users"
        " (accounts, profiles, posting and following)"
    ),
    "app_store": (
        "an application store that distributes apps to users' devices and holds"
        " the user's account"
    ),
    "data_sale": (
        "a service that sells or shares users' personal data, or uses it for"
        " targeted advertising"
    ),
}
