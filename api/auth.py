"""Token auth on the API side (``auth.type: token``): the middleware that makes it available to every
request, and ``require(req, *accesses)``, which resources call with the accesses an operation needs.

``/v2`` requests need notary-server's accesses (notary.auth.access); ``/v1`` resources ask for theirs.
Health and metrics never ask. A missing or invalid token, or one that lacks an access, is answered 401
``UNAUTHORIZED`` with the required accesses as ``detail`` and the ``WWW-Authenticate`` challenge. With any
other ``auth.type`` the middleware is not installed and ``require`` does nothing.

A request's token is verified at most once (the outcome is kept in ``req.context``), and a verified token
is kept per process until it expires (notary.auth.tokens.TokenVerifier), so the hot path costs a lookup.
"""

from __future__ import annotations

import logging

import falcon.asgi

from notary.auth.access import Access, details
from notary.auth.challenge import Failure, autoredirect_realm, challenge
from notary.auth.tokens import InvalidTokenError, Token, TokenPolicy, TokenVerifier
from notary.auth.trust import TrustBundle
from notary.errors import ConfigError, TokenChallengeError
from notary.settings import Settings

log = logging.getLogger("notary.auth")
BUNDLE_KEY = "auth.options.rootcertbundle"


def load_bundle(settings: Settings) -> TrustBundle:
    """The issuer's certificates; a missing, unreadable or empty bundle stops start-up naming the key."""
    path = settings.path(BUNDLE_KEY)
    assert path is not None  # settings require it with auth.type "token"
    try:
        return TrustBundle.from_pem(path.read_bytes())
    except OSError as exc:
        raise ConfigError(
            BUNDLE_KEY, settings.source(BUNDLE_KEY), f"cannot read {path}: {exc.strerror}"
        ) from None
    except ValueError as exc:
        problem = f"{path} holds no usable PEM certificate: {exc}"
        raise ConfigError(BUNDLE_KEY, settings.source(BUNDLE_KEY), problem) from None


def token_auth_enabled(settings: Settings) -> bool:
    return bool(settings["auth.type"] == "token")


class TokenAuth:
    """Falcon middleware: puts itself in ``req.context`` so that ``require`` can find it."""

    def __init__(self, verifier: TokenVerifier, realm: str, service: str, autoredirect: bool) -> None:
        self.verifier = verifier
        self.realm = realm
        self.service = service
        self.autoredirect = autoredirect

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenAuth:
        policy = TokenPolicy(
            issuer=settings["auth.options.issuer"],
            service=settings["auth.options.service"],
            bundle=load_bundle(settings),
        )
        return cls(
            TokenVerifier(policy),
            settings["auth.options.realm"],
            settings["auth.options.service"],
            settings["auth.options.autoredirect"],
        )

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        req.context.token_auth = self

    def check(self, req: falcon.asgi.Request, accesses: tuple[Access, ...]) -> Token:
        token = self._token(req)
        if isinstance(token, Token):
            if not token.missing(accesses):
                return token
            failure = Failure.INSUFFICIENT
        else:
            failure = token
        realm = autoredirect_realm(req.get_header("Host") or req.netloc) if self.autoredirect else self.realm
        raise TokenChallengeError(
            details(accesses), challenge=challenge(realm, self.service, accesses, failure)
        )

    def _token(self, req: falcon.asgi.Request) -> Token | Failure:
        known: Token | Failure | None = getattr(req.context, "token", None)
        if known is not None:
            return known
        raw = bearer_token(req)
        outcome: Token | Failure
        if raw is None:
            outcome = Failure.MISSING
        else:
            try:
                outcome = self.verifier.verify(raw)
            except InvalidTokenError as refused:
                log.info("token refused", extra={"reason": str(refused)})
                outcome = Failure.INVALID
        req.context.token = outcome
        return outcome


def bearer_token(req: falcon.asgi.Request) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (the scheme in any case), or None."""
    scheme, _, token = (req.get_header("Authorization") or "").partition(" ")
    return token if scheme.lower() == "bearer" and token and " " not in token else None


def require(req: falcon.asgi.Request, *accesses: Access) -> Token | None:
    """The request's token, once it is known to grant every access (else the 401 challenge is raised);
    None without token auth, where nothing is required."""
    auth: TokenAuth | None = getattr(req.context, "token_auth", None)
    return None if auth is None else auth.check(req, accesses)


def presents_token(req: falcon.asgi.Request) -> bool:
    """Whether the caller chose token auth for an operation that also accepts its own shared key."""
    return getattr(req.context, "token_auth", None) is not None and bearer_token(req) is not None
