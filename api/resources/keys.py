"""The shared-key service's endpoints: ``POST /v1/keys`` (issue), ``GET``/``DELETE /v1/keys/{identity}``,
``POST /v1/keys/{identity}/renew``, and ``POST /v1/verify`` (+ ``/batch``), the fleet's hot path, whose
verdicts come from api/verification.py."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import falcon
import falcon.asgi
import redis
from cryptography import x509

from api.auth import presents_token, require
from api.job_runner import JobRunner
from api.key_cache import KeyCache, change_name
from api.responding import respond_accepted, succeeded_result
from api.task_calls import TaskCalls
from api.verification import Verifier
from models import shared_keys as store
from models.db import Database
from models.jobs import get_job
from models.key_issuance import IssuedKey, IssuePolicy, Login, issue_key
from notary import errors
from notary.auth.access import ADMIN, VERIFY
from notary.jobs import prefers_async
from notary.keys import signature
from notary.keys.ec2_identity import (
    AllowLists,
    IdentityDocumentError,
    IdentityRequest,
    IdentityRequestError,
    NotAllowedError,
    check_allowed,
    verify_identity,
)
from notary.keys.identity import VerificationKey
from notary.keys.pkcs7 import PKCS7Error
from notary.sealing import shared_key_aad, unseal
from notary.settings import Settings
from workers.cache_invalidation import announce_change
from workers.replies import LOOKUP_ROLES

MAX_ISSUE_BODY = 256 * 1024
MAX_VERIFY_BODY = 64 * 1024
MAX_BATCH_BODY = 8 * 1024 * 1024
MAX_BATCH = 1000
VERIFY_ROLE = "notary:verify"
REDACTED = "<redacted>"


def load_pinned(settings: Settings) -> tuple[x509.Certificate, ...]:
    certificates: list[x509.Certificate] = []
    for name in settings["keys.pinned_certificates"]:
        path = (settings.base_dir / name).resolve()
        certificates.extend(x509.load_pem_x509_certificates(path.read_bytes()))
    return tuple(certificates)


async def read_body(req: falcon.asgi.Request, limit: int) -> bytes:
    """The whole body, refused with 413 past ``limit`` (a declared length is checked before reading)."""
    if req.content_length is not None and req.content_length > limit:
        raise errors.PayloadTooLargeError({"limit": limit})
    body = await req.stream.read(limit + 1)
    if len(body) > limit:
        raise errors.PayloadTooLargeError({"limit": limit})
    return body


async def read_json(req: falcon.asgi.Request, limit: int) -> tuple[bytes, Any]:
    body = await read_body(req, limit)
    return body, parse_json(body)


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise errors.InvalidRequestError("the body must be JSON") from None


def raw_target(scope: Mapping[str, Any]) -> str:
    """The request target exactly as on the wire (the signature covers it undecoded)."""
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string") or b""
    return (raw_path + (b"?" + query if query else b"")).decode("latin-1")


def check_digest(signed: signature.SignedRequest, body: bytes) -> None:
    """The body is the one the caller's signature covers (through its Digest header)."""
    if not hmac.compare_digest((signed.digest or "").encode(), signature.body_digest(body).encode()):
        raise errors.UnauthorizedError({"code": signature.DIGEST_MISMATCH})


def require_verify_role(key: VerificationKey) -> None:
    if VERIFY_ROLE not in key.roles:
        raise errors.ForbiddenError({"role": VERIFY_ROLE})


def key_document(view: store.KeyView, now: datetime) -> dict[str, Any]:
    return view.to_dict(now)


class KeyService:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        runner: JobRunner,
        task_calls: TaskCalls,
        keys: KeyCache,
        verifier: Verifier,
        sync_redis: redis.Redis,
    ) -> None:
        self.settings = settings
        self.database = database
        self.runner = runner
        self.task_calls = task_calls
        self.issue_policy = IssuePolicy.from_settings(settings)
        self.keys = keys
        self.verifier = verifier
        self.sync_redis = sync_redis
        self.keks: tuple[tuple[str, bytes], ...] = settings["keys.keks"]
        self.pinned = load_pinned(settings)
        self.allow = AllowLists(
            accounts=frozenset(settings["keys.allowed_accounts"]),
            regions=tuple(settings["keys.allowed_regions"]),
            images=frozenset(settings["keys.allowed_images"]),
        )
        self.skew_ms = settings["keys.skew"] * 1000

    # --- authentication of callers by their own shared key

    async def authenticate(self, req: falcon.asgi.Request, body_limit: int) -> tuple[bytes, VerificationKey]:
        """The body, and the caller's key, from the caller's own signature of this very request.

        Everything the headers alone can refuse (their shape, the date, an unknown key, a wrong HMAC) is
        refused before the body is read: the HMAC covers the Digest header, so only the key's holder gets
        as far as uploading up to ``body_limit`` bytes, whose digest is then checked last. (For its own
        callers Notary thus checks the digest after the key, unlike the order it reports for /v1/verify.)
        """
        signed = signature.SignedRequest(  # get_header: Falcon builds no dict of every header for it
            method=req.method,
            uri=raw_target(req.scope),
            host=req.get_header("Host"),
            date=req.get_header("Date"),
            digest=req.get_header("Digest"),
            authorization=req.get_header("Authorization"),
        )
        key = await self.caller_key(signed)
        body = await read_body(req, body_limit)
        check_digest(signed, body)
        return body, key

    async def caller_key(self, signed: signature.SignedRequest) -> VerificationKey:
        """The key of a caller whose signature of ``signed`` (all but the body) checks out, else 401."""
        try:
            claim = signature.check_claim(signed, now_ms=int(time.time() * 1000), skew_ms=self.skew_ms)
        except signature.SignatureError as failure:
            raise errors.UnauthorizedError({"code": failure.code}) from None
        key = await self.keys.get(claim.identity)
        try:
            signature.check_hmac(claim, None if key is None else key.secrets)
        except signature.SignatureError as failure:
            raise errors.UnauthorizedError({"code": failure.code}) from None
        assert key is not None
        return key

    # --- POST /v1/keys

    async def on_post_issue(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        if not self.keks or not self.pinned:
            raise errors.KeysDisabledError()
        _, document = await read_json(req, MAX_ISSUE_BODY)
        try:
            request = IdentityRequest.from_json(document)
            instance, _ = verify_identity(request, self.pinned)
        except IdentityRequestError as bad:
            raise errors.InvalidRequestError(str(bad)) from None
        except (PKCS7Error, IdentityDocumentError):
            raise errors.InvalidSignatureError() from None
        try:
            check_allowed(instance, self.allow)
        except NotAllowedError as refused:
            raise errors.NotAllowedError({"check": refused.check}) from None
        login = Login(
            account=instance.account_id,
            region=instance.region,
            image=instance.image_id,
            instance=instance.instance_id,
            pending_time=instance.pending_time,
            nonce_sha256=None
            if request.nonce is None
            else hashlib.sha256(request.nonce.encode()).hexdigest(),
        )
        if prefers_async(req.get_header("Prefer")):
            reveal_token = secrets.token_urlsafe(32)
            params = {**login.to_params(), "reveal_sha256": hashlib.sha256(reveal_token.encode()).hexdigest()}
            job_id = await self.runner.submit("keys.issue", params, will_wait=False)
            job = await self.runner.load(job_id)
            assert job is not None
            respond_accepted(resp, job, reveal_token=reveal_token)
            return
        # Synchronous: no job. The roles come from a worker; the key is written here in one transaction and
        # its secret goes straight to the client, so nothing is left behind if any step fails.
        roles = await self.roles_of(login)

        def store_key() -> IssuedKey:
            with self.database.transaction() as session:
                return issue_key(session, self.issue_policy, login, roles, answered_now=True)

        issued = await asyncio.to_thread(store_key)
        resp.status = falcon.HTTP_201
        resp.media = issued.revealed()

    async def roles_of(self, login: Login) -> tuple[str, ...]:
        """The instance's roles from Politician, looked up by a worker; 503 ROLES_UNAVAILABLE if they cannot
        be had (never an empty list instead)."""
        who = login.identity_tuple
        answer = await self.task_calls.call(
            LOOKUP_ROLES,
            [who.account, who.region, who.image, who.instance],
            self.settings["jobs.wait_timeout"],
        )
        if answer is None:
            raise errors.RolesUnavailableError({"reason": "no worker answered in time"})
        if "error" in answer:
            raise errors.NotaryError.from_dict(answer["error"])
        return tuple(answer["roles"])

    async def reveal_token_matches(self, job_id: str, token: str | None) -> bool:
        """Whether ``token`` is the reveal token of the asynchronous issuance ``job_id`` (job ids show up
        in logs and Location headers, so they must not be enough to read a secret)."""

        def matches(presented: str) -> bool:
            with self.database.read() as session:
                job = get_job(session, job_id)
                expected = None if job is None else json.loads(job.params).get("reveal_sha256")
            digest = hashlib.sha256(presented.encode()).hexdigest()
            return expected is not None and hmac.compare_digest(digest, expected)

        return bool(token) and await asyncio.to_thread(matches, token or "")

    async def reveal_to_job_reader(self, result: Mapping[str, Any], token_matched: bool) -> dict[str, Any]:
        """For ``GET /v1/jobs/{id}`` of an asynchronous issuance: the secret goes only to a reader presenting
        the reveal token of the 202, and only once."""
        if token_matched:
            return await self.reveal(result)
        return {**result, "secret": REDACTED}

    async def reveal(self, result: Mapping[str, Any]) -> dict[str, Any]:
        """The issued key with its secret (and generated nonce), to the first reader only; later reads get
        it redacted."""
        identity = result["identity"]

        def read() -> tuple[str, str | None] | None:
            with self.database.transaction() as session:
                if not store.claim_secret_reveal(session, identity):
                    return None
                row = store.get_key(session, identity)
                if row is None:
                    return None
                aad = shared_key_aad(identity)
                secret = unseal(self.keks, row.kek_id, row.secret_sealed, aad).decode()
                nonce = (
                    None if row.nonce_sealed is None else unseal(self.keks, row.kek_id, row.nonce_sealed, aad)
                )
                return secret, None if nonce is None else nonce.decode()

        revealed = await asyncio.to_thread(read)
        body = dict(result)
        body["secret"] = REDACTED if revealed is None else revealed[0]
        if revealed is not None and revealed[1] is not None:
            body["nonce"] = revealed[1]
        return body

    # --- GET / DELETE /v1/keys/{identity}, POST renew

    async def _authorised_for(self, req: falcon.asgi.Request, identity: str, body_limit: int = 0) -> str:
        """Who acts on ``identity``: the key itself, the only caller allowed before token auth."""
        _body, caller = await self.authenticate(req, body_limit)
        if caller.identity != identity:
            raise errors.ForbiddenError({"reason": "a key may only manage itself"})
        return caller.identity

    async def on_get_key(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, identity: str) -> None:
        await self._authorised_for(req, identity)

        def read() -> dict[str, Any] | None:
            with self.database.read() as session:
                row = store.get_key(session, identity)
                return None if row is None else key_document(store.view(row), datetime.now(UTC))

        found = await asyncio.to_thread(read)
        if found is None:
            raise errors.KeyNotFoundError()
        resp.media = found

    async def on_delete_key(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, identity: str
    ) -> None:
        if presents_token(req):
            admin = require(req, ADMIN)
            assert admin is not None  # a token is presented only under token auth
            revoker = f"token:{admin.subject or '-'}"
        else:
            revoker = await self._authorised_for(req, identity)

        def revoke() -> bool:
            with self.database.transaction() as session:
                revoked = store.revoke(session, identity)
                if revoked:
                    store.audit(session, identity, "revoked", by=revoker)
                return revoked

        if not await asyncio.to_thread(revoke):
            raise errors.KeyNotFoundError()
        # Every API process forgets the key before this answers.
        await asyncio.to_thread(announce_change, self.sync_redis, change_name(identity))
        resp.status = falcon.HTTP_204

    async def on_post_renew(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, identity: str
    ) -> None:
        await self._authorised_for(req, identity, MAX_VERIFY_BODY)
        job_id = await self.runner.submit("keys.renew", {"identity": identity})
        job = await self.runner.wait(job_id, self.settings["jobs.wait_timeout"])
        result = succeeded_result(resp, job_id, job)
        await asyncio.to_thread(announce_change, self.sync_redis, change_name(identity))
        resp.media = result

    # --- POST /v1/verify and /v1/verify/batch

    async def _verify_caller(self, req: falcon.asgi.Request, limit: int) -> Any:
        """The request's JSON, once the caller is known to be a verifier: a token granting the verify scope,
        or the caller's own key holding the ``notary:verify`` role."""
        if presents_token(req):
            require(req, VERIFY)  # before reading the body: a refused caller costs no upload
            return (await read_json(req, limit))[1]
        body, caller = await self.authenticate(req, limit)
        require_verify_role(caller)
        return parse_json(body)

    async def on_post_verify(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        document = await self._verify_caller(req, MAX_VERIFY_BODY)
        resp.media = await self.verifier.verdict(document, int(time.time() * 1000))

    async def on_post_verify_batch(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        document = await self._verify_caller(req, MAX_BATCH_BODY)
        items = document.get("requests") if isinstance(document, dict) else document
        if not isinstance(items, list) or len(items) > MAX_BATCH:
            raise errors.InvalidRequestError(f"a batch is a list of at most {MAX_BATCH} verify requests")
        now_ms = int(time.time() * 1000)
        resp.media = {"results": [await self.verifier.item_verdict(item, now_ms) for item in items]}


class Responders:
    """Binds service methods to Falcon's responder names (``on_get=...``), one route at a time."""

    def __init__(self, **responders: Any) -> None:
        for name, responder in responders.items():
            setattr(self, name, responder)


def add_routes(app: falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response], service: KeyService) -> None:
    app.add_route("/v1/keys", Responders(on_post=service.on_post_issue))
    app.add_route(
        "/v1/keys/{identity}", Responders(on_get=service.on_get_key, on_delete=service.on_delete_key)
    )
    app.add_route("/v1/keys/{identity}/renew", Responders(on_post=service.on_post_renew))
    app.add_route("/v1/verify", Responders(on_post=service.on_post_verify))
    app.add_route("/v1/verify/batch", Responders(on_post=service.on_post_verify_batch))
