"""``GET /auth/token``: the Docker token protocol, for development and small deployments.

Query: ``service`` (must be ours), ``scope`` (repeatable, each space-separated), ``account`` (optional; must
be the Basic-auth user). With Basic credentials the token holds what the user asked for and was granted;
without, only the anonymous grants. A wrong password answers 401 with a ``Basic`` challenge. The answer is
``{"token", "access_token", "expires_in", "issued_at"}``; the token itself is never logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from urllib.parse import parse_qsl

import falcon
import falcon.asgi

from api.errors import render
from notary.auth.access import ScopeError, parse_scope, resources
from notary.auth.service.token_service import TokenService
from notary.errors import InvalidParametersError, UnauthorizedError
from notary.tuf.timefmt import format_go_time

log = logging.getLogger("notary.auth")
MAX_QUERY_BYTES = 8192
MAX_SCOPES = 32
BASIC_CHALLENGE = 'Basic realm="Notary token service", charset="UTF-8"'


class BadCredentialsError(Exception):
    """An Authorization header that is not well-formed Basic credentials."""


def basic_credentials(header: str) -> tuple[str, bytes]:
    """``(user, password)`` from a Basic Authorization header."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise BadCredentialsError()
    try:
        user_text, sep, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        user = user_text.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise BadCredentialsError() from None
    if not sep or not user:
        raise BadCredentialsError()
    return user, password


class TokenResource:
    def __init__(self, service: TokenService) -> None:
        self.service = service

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        if len(req.query_string) > MAX_QUERY_BYTES:
            raise InvalidParametersError(f"the query is longer than {MAX_QUERY_BYTES} bytes")
        params = parse_qsl(req.query_string, keep_blank_values=True)
        service = [value for name, value in params if name == "service"]
        if service != [self.service.service]:
            raise InvalidParametersError({"service": f"must be {self.service.service!r}"})
        try:
            requested = parse_scope(" ".join(value for name, value in params if name == "scope"))
        except ScopeError as bad:
            raise InvalidParametersError({"scope": str(bad)}) from None
        if len(resources(requested)) > MAX_SCOPES:
            raise InvalidParametersError({"scope": f"at most {MAX_SCOPES} resources per token"})

        account = next((value for name, value in params if name == "account"), None)
        authorization = req.get_header("Authorization")
        user = None
        if authorization is not None:
            user = await self._authenticated_user(authorization)
            if user is None:
                self._challenge(resp)
                return
            if account not in (None, user):
                raise InvalidParametersError({"account": "must be the authenticated user"})
        elif account is not None:
            self._challenge(resp)  # an account is claimed: ask for its password
            return

        minted = self.service.issue(user, requested)
        log.info("token issued", extra={"account": user or "", "access": [str(a) for a in minted.access]})
        resp.set_header("Cache-Control", "no-store")
        resp.content_type = "application/json"
        resp.data = json.dumps(
            {
                "token": minted.token,
                "access_token": minted.token,
                "expires_in": minted.expires_in,
                "issued_at": format_go_time(minted.issued_at),
            }
        ).encode()

    async def _authenticated_user(self, authorization: str) -> str | None:
        try:
            user, password = basic_credentials(authorization)
        except BadCredentialsError:
            user, password = "", b""  # refused like a wrong password, after the same bcrypt work
        if await asyncio.to_thread(self.service.users.authenticate, user, password):
            return user
        log.warning("token request refused: bad credentials", extra={"account": user})
        return None

    @staticmethod
    def _challenge(resp: falcon.asgi.Response) -> None:
        render(resp, UnauthorizedError())
        resp.set_header("WWW-Authenticate", BASIC_CHALLENGE)
