"""The ``WWW-Authenticate`` value of a 401, as docker/distribution's token access controller writes it:
``Bearer realm="…",service="…",scope="…"``, plus ``error="invalid_token"`` for a token that does not verify
or ``error="insufficient_scope"`` for one that lacks an access (no error for a missing token, per RFC 6750).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable

from notary.auth.access import Access, format_scope


class Failure(enum.Enum):
    MISSING = None
    INVALID = "invalid_token"
    INSUFFICIENT = "insufficient_scope"


def _quoted(value: str) -> str:
    # JSON quoting escapes quotes, backslashes, control and non-ASCII characters, so a GUN or Host header
    # taken from the request can never end the parameter or the header.
    return json.dumps(value, ensure_ascii=True)


def autoredirect_realm(host: str) -> str:
    return f"https://{host}/auth/token"


def challenge(realm: str, service: str, accesses: Iterable[Access], failure: Failure) -> str:
    value = f"Bearer realm={_quoted(realm)},service={_quoted(service)}"
    scope = format_scope(accesses)
    if scope:
        value += f",scope={_quoted(scope)}"
    if failure.value is not None:
        value += f",error={_quoted(failure.value)}"
    return value
