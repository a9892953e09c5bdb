"""A throwaway token issuer for token-auth tests: a root CA (the server's ``rootcertbundle``), an
intermediate CA and a leaf certificate whose key signs Docker registry v2 tokens with PyJWT, plus
``TokenServer``, a tiny ``/token`` endpoint in a thread that mints tokens for any Basic-auth user, as a
Docker token service would (anonymous callers get ``pull`` only)."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from notary.auth.access import format_scope, parse_scope, resources

from .certificates import PrivateKey, certificate, ec_key, pem

ISSUER = "test-token-issuer"
SERVICE = "notary-test"


def x5c(*certificates: x509.Certificate) -> list[str]:
    return [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode() for cert in certificates]


@dataclass
class TokenIssuer:
    """Root CA → intermediate CA → signing certificate; tokens carry the chain (leaf, intermediate) in
    ``x5c`` by default."""

    issuer: str = ISSUER
    service: str = SERVICE
    root_key: PrivateKey = field(default_factory=ec_key)
    intermediate_key: PrivateKey = field(default_factory=ec_key)
    signing_key: PrivateKey = field(default_factory=ec_key)

    def __post_init__(self) -> None:
        self.root = certificate("test token root CA", self.root_key, ca=True)
        self.intermediate = certificate(
            "test token intermediate CA", self.intermediate_key, (self.root, self.root_key), ca=True
        )
        self.leaf = certificate(
            "test token signer", self.signing_key, (self.intermediate, self.intermediate_key)
        )

    def bundle_pem(self) -> bytes:
        return pem(self.root)

    def chain(self) -> list[str]:
        return x5c(self.leaf, self.intermediate)

    def claims(self, access: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "alice",
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 1,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def mint(
        self,
        access: list[dict[str, Any]],
        *,
        header: dict[str, Any] | None = None,
        key: Any = None,
        algorithm: str = "ES256",
        **claims: Any,
    ) -> str:
        """A token for ``access``; ``header`` replaces the default ``{"x5c": chain}``, and a claim given as
        None is left out."""
        return jwt.encode(
            self.claims(access, **claims),
            self.signing_key if key is None else key,
            algorithm=algorithm,
            headers={"x5c": self.chain()} if header is None else header,
        )

    def mint_scope(self, scope: str, **claims: Any) -> str:
        """A token granting exactly the accesses of a scope string."""
        return self.mint(grants(scope), **claims)


def grants(scope: str) -> list[dict[str, Any]]:
    """The ``access`` claim granting a scope string's accesses."""
    return [resource.to_claim() for resource in resources(parse_scope(scope))]


class TokenServer:
    """``GET /token?service=…&scope=…``: a token granting the requested scope to any Basic-auth user, and
    only its ``pull`` actions to anonymous callers. Records the scopes asked for."""

    def __init__(self, issuer: TokenIssuer) -> None:
        self.issuer = issuer
        self.requests: list[tuple[str | None, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                scope = " ".join(query.get("scope", []))
                user = _basic_user(self.headers.get("Authorization"))
                accesses = parse_scope(scope)
                if user is None:
                    accesses = tuple(access for access in accesses if access.action == "pull")
                with server._lock:
                    server.requests.append((user, scope))
                token = issuer.mint_scope(format_scope(accesses), sub=user or "")
                body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self._lock = threading.Lock()
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/token"

    def asked(self) -> list[tuple[str | None, str]]:
        with self._lock:
            return list(self.requests)

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def _basic_user(authorization: str | None) -> str | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    user, _, _password = base64.b64decode(encoded).decode().partition(":")
    return user or None
