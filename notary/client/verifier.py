"""Ask Notary whether a received request is signed: ``POST <notary>/v1/verify`` (shared-keys.md section 6).

    verifier = NotaryVerifier("https://notary.internal", caller_auth=NotaryRequestsAuth(my_id, my_secret))
    verified = verifier.verify(SignedRequest.from_headers(method, raw_target, headers))

The server that received the request must check the Digest against the body itself (Notary never sees the
body): ``check_locally`` runs the scheme's own checks (``notary.keys.signature.check_claim``) up to the key
lookup, the digest included, so a malformed or tampered request is refused without a round trip.

Errors, each with an HTTP ``status`` and a stable ``code`` (the middleware answers with them)::

    VerificationError                 the request is refused: Notary's code and message (400 or 401, from
    │                                 signature.STATUS_BY_CODE; 401 for codes this version does not know)
    ├── MissingRoleError              403 FORBIDDEN, a required role is missing
    └── NotaryUnavailableError        503 NOTARY_UNAVAILABLE: unreachable, timed out, 5xx, refused our own
                                      credentials, or an answer that is not the contract's. Never a pass.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import requests
from requests.auth import AuthBase

from notary.client.auth import NotaryRequestsAuth, NotarySigner
from notary.keys import signature
from notary.keys.signature import SignedRequest

log = logging.getLogger(__name__)

VERIFY_PATH: Final = "/v1/verify"
FORBIDDEN: Final = "FORBIDDEN"
NOTARY_UNAVAILABLE: Final = "NOTARY_UNAVAILABLE"

CallerAuth = NotarySigner | AuthBase | Callable[[requests.PreparedRequest], requests.PreparedRequest]
"""How this server authenticates itself to Notary: its own key (``NotaryRequestsAuth``, or a
``NotaryHttpxAuth``, which is converted), ``BearerTokenAuth``, or any ``requests`` auth."""


class VerificationError(Exception):
    """A request that is not let through, with the status and ``{"errors": [...]}`` body to answer with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    @classmethod
    def from_signature_error(cls, error: signature.SignatureError) -> VerificationError:
        return cls(error.status, error.code, error.message)

    def to_body(self) -> dict[str, Any]:
        return {"errors": [{"code": self.code, "message": self.message}]}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, {self.message!r})"


class MissingRoleError(VerificationError):
    def __init__(self, missing: Iterable[str]) -> None:
        super().__init__(403, FORBIDDEN, "Missing required role: " + ", ".join(sorted(missing)))


class NotaryUnavailableError(VerificationError):
    def __init__(self, reason: str) -> None:
        super().__init__(503, NOTARY_UNAVAILABLE, "Request verification is unavailable")
        self.reason = reason  # for the log, never sent to the client


@dataclass(frozen=True)
class Verified:
    """Notary's ``valid: true`` answer."""

    identity: str
    roles: tuple[str, ...]
    expires_at: str | None = None
    ttl: int | None = None


def check_locally(request: SignedRequest, body: bytes) -> str:
    """Run the scheme's checks that need no key, in the scheme's order: the required headers, the request
    line, the Date parse, the digest against ``body`` and the Authorization parse. Return the claimed
    identity.

    The skew is left to Notary, whose clock decides. Raises VerificationError with the scheme's code/status.
    """
    try:
        now_ms = int(time.time() * 1000)
        return signature.check_claim(request, now_ms=now_ms, skew_ms=sys.maxsize, body=body).identity
    except signature.SignatureError as error:
        raise VerificationError.from_signature_error(error) from None


def _status_of(code: str) -> int:
    return signature.STATUS_BY_CODE.get(code, 401)


class NotaryVerifier:
    """A client of ``POST /v1/verify``, one pooled ``requests.Session`` per thread."""

    def __init__(
        self,
        notary_url: str,
        *,
        caller_auth: CallerAuth,
        timeout: float = 5.0,
        session_factory: Callable[[], requests.Session] = requests.Session,
    ) -> None:
        if not notary_url.startswith(("http://", "https://")):
            raise ValueError("notary_url must be an http:// or https:// URL")
        self.url = notary_url.rstrip("/") + VERIFY_PATH
        self.timeout = timeout
        self._auth: AuthBase | Callable[[requests.PreparedRequest], requests.PreparedRequest] = (
            NotaryRequestsAuth.of(caller_auth) if isinstance(caller_auth, NotarySigner) else caller_auth
        )
        self._session_factory = session_factory
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._session_factory()
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def verify(self, request: SignedRequest) -> Verified:
        """Notary's verdict on ``request`` (whose digest the caller has already checked against the body)."""
        try:
            response = self._session().post(
                self.url, json=request.forwarded(), auth=self._auth, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise _unavailable(self.url, f"cannot reach Notary: {type(error).__name__}") from None
        if response.status_code != 200:
            raise _unavailable(self.url, f"Notary answered {response.status_code}{_error_code(response)}")
        try:
            answer = response.json()
        except ValueError:
            raise _unavailable(self.url, "Notary's answer is not JSON") from None
        return self._verdict(answer)

    def _verdict(self, answer: object) -> Verified:
        if not isinstance(answer, dict) or not isinstance(answer.get("valid"), bool):
            raise _unavailable(self.url, "Notary's answer has no 'valid'")
        if not answer["valid"]:
            code, message = answer.get("code"), answer.get("message")
            if not isinstance(code, str) or not code:
                raise _unavailable(self.url, "Notary's refusal has no code")
            text = message if isinstance(message, str) else "Request refused"
            raise VerificationError(_status_of(code), code, text)
        identity, roles = answer.get("identity"), answer.get("roles")
        if (
            not isinstance(identity, str)
            or not isinstance(roles, list)
            or not all(isinstance(role, str) for role in roles)
        ):
            raise _unavailable(self.url, "Notary's answer has no identity or roles")
        expires_at, ttl = answer.get("expires_at"), answer.get("ttl")
        return Verified(
            identity=identity,
            roles=tuple(roles),
            expires_at=expires_at if isinstance(expires_at, str) else None,
            ttl=ttl if isinstance(ttl, int) and not isinstance(ttl, bool) else None,
        )


def _unavailable(url: str, reason: str) -> NotaryUnavailableError:
    log.warning("request verification unavailable (%s): %s", url, reason)
    return NotaryUnavailableError(reason)


def _error_code(response: requests.Response) -> str:
    """`` (CODE)`` from an error envelope, for the log."""
    try:
        errors = response.json().get("errors")
        return f" ({errors[0]['code']})"
    except (ValueError, AttributeError, LookupError, TypeError):
        return ""


def authorize(
    verifier: NotaryVerifier, request: SignedRequest, body: bytes, required_roles: Iterable[str] = ()
) -> Verified:
    """The whole check of one received request: local checks (digest included), Notary's verdict, the roles.

    Raises VerificationError (or a subclass) for anything but a request that may pass.
    """
    claimed = check_locally(request, body)
    verified = verifier.verify(request)
    if verified.identity != claimed:
        raise _unavailable(verifier.url, "Notary answered for another identity")
    missing = set(required_roles) - set(verified.roles)
    if missing:
        raise MissingRoleError(missing)
    return verified
