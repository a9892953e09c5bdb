"""Verification of Docker registry v2 bearer tokens (JWTs), as docker/distribution's token access
controller does it, and a per-process cache of the tokens that passed.

A token is trusted when it is a compact JWS (three base64url parts, a non-empty signature) signed by a key
the bundle vouches for, found in this order: the ``x5c`` chain of the header; a ``jwk`` carrying its own
``x5c`` chain (a bare ``jwk`` is not trusted); the ``kid`` naming the libtrust key id of a bundle
certificate's key. The ``alg`` is pinned to that key (ES256/384/512 to its curve, RS256/384/512 to RSA), so
``none`` and HMAC are refused before any signature check. ``iss`` must be the configured issuer, ``aud`` a
JSON string equal to the service, ``exp`` (required) and ``nbf`` hold with a leeway of 60 s.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from notary.auth.access import WILDCARD, Access
from notary.auth.trust import PublicKey, TrustBundle, UntrustedChainError, libtrust_key_id

LEEWAY = 60.0
# A token with a three-certificate chain is about 4 KiB; anything far past that is not a token.
MAX_TOKEN_LENGTH = 16 * 1024
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})
# Every time claim is checked here, against our own clock, rather than by PyJWT.
_DECODE_OPTIONS: Any = {
    "verify_signature": True,
    "require": ["exp"],
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
}


class InvalidTokenError(ValueError):
    """The token is malformed, untrusted or out of date; the message says why (for logs, never clients)."""


@dataclass(frozen=True)
class Token:
    subject: str | None
    expires_at: float
    grants: Mapping[tuple[str, str], frozenset[str]]

    def allows(self, access: Access) -> bool:
        actions = self.grants.get((access.type, access.name), frozenset())
        return WILDCARD in actions or access.action in actions

    def missing(self, accesses: Iterable[Access]) -> tuple[Access, ...]:
        return tuple(access for access in accesses if not self.allows(access))


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    service: str
    bundle: TrustBundle
    leeway: float = LEEWAY


class TokenVerifier:
    """Verifies tokens and remembers, per process, the ones that passed until they expire, so the hot path
    costs one dictionary lookup. The memory is bounded: the least recently used token is forgotten first."""

    def __init__(
        self, policy: TokenPolicy, clock: Callable[[], float] = time.time, max_cached: int = 2048
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.max_cached = max_cached
        self._cache: OrderedDict[str, Token] = OrderedDict()

    def verify(self, raw: str) -> Token:
        now = self.clock()
        cached = self._cache.get(raw)
        if cached is not None:
            if now <= cached.expires_at + self.policy.leeway:
                self._cache.move_to_end(raw)
                return cached
            del self._cache[raw]
        token = verify_token(raw, self.policy, now)
        self._cache[raw] = token
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return token


def verify_token(raw: str, policy: TokenPolicy, now: float) -> Token:
    if len(raw) > MAX_TOKEN_LENGTH or not _COMPACT_JWS.match(raw):
        raise InvalidTokenError("not a compact JWS of three base64url parts")
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(f"malformed header: {exc}") from None
    key = _signing_key(header, policy.bundle, datetime.fromtimestamp(now, UTC))
    algorithm = header.get("alg")
    if algorithm not in _algorithms_for(key):
        raise InvalidTokenError(f"algorithm {algorithm!r} does not match the signing key")
    try:
        claims = jwt.decode(raw, key=key, algorithms=[algorithm], options=_DECODE_OPTIONS)
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(f"signature or claims: {exc}") from None
    return _checked_claims(claims, policy, now)


def _algorithms_for(key: PublicKey) -> frozenset[str]:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return frozenset({_EC_ALGORITHMS[key.curve.name]} if key.curve.name in _EC_ALGORITHMS else ())
    return _RSA_ALGORITHMS


def _signing_key(header: Mapping[str, Any], bundle: TrustBundle, now: datetime) -> PublicKey:
    try:
        if "x5c" in header:
            return bundle.verify_chain(_certificates(header["x5c"]), now)
        if "jwk" in header:
            return _jwk_key(header["jwk"], bundle, now)
    except UntrustedChainError as exc:
        raise InvalidTokenError(f"untrusted chain: {exc}") from None
    kid = header.get("kid")
    key = bundle.keys_by_id.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidTokenError("no x5c chain, jwk with a chain, or kid of a bundle key")
    return key


def _jwk_key(jwk: Any, bundle: TrustBundle, now: datetime) -> PublicKey:
    if not isinstance(jwk, dict) or "x5c" not in jwk:
        raise InvalidTokenError("a jwk is trusted only through its own x5c chain")
    leaf_key = bundle.verify_chain(_certificates(jwk["x5c"]), now)
    try:
        jwk_key = jwt.PyJWK(jwk).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise InvalidTokenError(f"malformed jwk: {exc}") from None
    if not isinstance(jwk_key, PublicKey) or libtrust_key_id(jwk_key) != libtrust_key_id(leaf_key):
        raise InvalidTokenError("the jwk is not the key of its certificate")
    return leaf_key


def _certificates(x5c: Any) -> list[x509.Certificate]:
    if not isinstance(x5c, list) or not all(isinstance(entry, str) for entry in x5c):
        raise InvalidTokenError("x5c must be a list of base64 certificates")
    try:
        return [x509.load_der_x509_certificate(base64.b64decode(entry, validate=True)) for entry in x5c]
    except (binascii.Error, ValueError) as exc:
        raise InvalidTokenError(f"x5c holds a malformed certificate: {exc}") from None


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTokenError(f"{name} must be a number")
    return float(value)


def _checked_claims(claims: Mapping[str, Any], policy: TokenPolicy, now: float) -> Token:
    if claims.get("iss") != policy.issuer:
        raise InvalidTokenError("wrong issuer")
    # A JSON string only: docker/distribution fails to decode a list, so a list never matches.
    audience = claims.get("aud")
    if not isinstance(audience, str) or audience != policy.service:
        raise InvalidTokenError("wrong audience")
    expires_at = _number(claims, "exp")
    if expires_at is None or now > expires_at + policy.leeway:
        raise InvalidTokenError("expired")
    not_before = _number(claims, "nbf")
    if not_before is not None and now < not_before - policy.leeway:
        raise InvalidTokenError("not valid yet")
    subject = claims.get("sub")
    return Token(subject if isinstance(subject, str) else None, expires_at, _grants(claims.get("access", [])))


def _grants(access: Any) -> dict[tuple[str, str], frozenset[str]]:
    if not isinstance(access, list):
        raise InvalidTokenError("access must be a list")
    grants: dict[tuple[str, str], frozenset[str]] = {}
    for entry in access:
        if not isinstance(entry, dict):
            raise InvalidTokenError("each access entry is an object")
        type_, name, actions = entry.get("type"), entry.get("name"), entry.get("actions")
        if not isinstance(type_, str) or not isinstance(name, str) or not isinstance(actions, list):
            raise InvalidTokenError("an access entry needs type, name and a list of actions")
        if not all(isinstance(action, str) for action in actions):
            raise InvalidTokenError("actions are strings")
        if entry.get("class", ""):
            continue  # grants on a resource class (e.g. plugins); none of our resources has one
        grants[(type_, name)] = grants.get((type_, name), frozenset()) | frozenset(actions)
    return grants
