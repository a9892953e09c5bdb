"""Celery's message signing (the ``auth`` serializer), installed from an identity checked at start-up.

Signing is app-wide: every process signs every message it sends and accepts only signed ones, on every
queue. Celery's serializer registry and ``accept_content`` are per process, not per queue, and the chain
``tuf.verify_upload`` (worker) -> ``signer.sign_update`` (signer) -> ``tuf.commit_update`` (worker) crosses
queues both ways, so signing only the ``signer`` queue would leave the commit step unauthenticated.

Celery's own ``app.setup_security()`` reads its trust store from files itself: only the first certificate
of a bundle, and every file of a folder, unchecked. We hand its serializer exactly the certificates that
``notary.broker_auth`` checked instead; the signed payload stays JSON underneath.
"""

from __future__ import annotations

from celery import Celery
from celery.security.certificate import Certificate, CertStore
from celery.security.key import PrivateKey
from celery.security.serialization import SecureSerializer
from kombu.serialization import disable_insecure_serializers, registry

from notary.broker_auth import SigningIdentity

SIGNED = "auth"


class TrustStore(CertStore):  # type: ignore[misc]
    """The peer certificates whose signatures this process accepts (looked up by issuer and serial)."""

    def __init__(self, pems: tuple[bytes, ...]) -> None:
        super().__init__()
        for pem in pems:
            self.add_cert(Certificate(pem))


def install(app: Celery, identity: SigningIdentity) -> None:
    serializer = SecureSerializer(
        PrivateKey(identity.key_pem),
        Certificate(identity.cert_pem),
        TrustStore(identity.trusted_pems),
        digest="sha256",
        serializer="json",
    )
    registry.register(  # type: ignore[no-untyped-call]
        SIGNED,
        serializer.serialize,
        serializer.deserialize,
        content_type="application/data",
        content_encoding="utf-8",
    )
    # No decoder but ours in this process: an unsigned message is refused before anything reads it.
    disable_insecure_serializers(allowed=[SIGNED])  # type: ignore[no-untyped-call]
    app.conf.update(
        task_serializer=SIGNED,
        result_serializer=SIGNED,
        event_serializer=SIGNED,
        accept_content=[SIGNED],
        result_accept_content=[SIGNED],
    )
    # Task.bind copies the serializer from the configuration once, so a task registered (and bound) before
    # this point, e.g. by an API module importing a task module, would still send plain JSON.
    for task in app.tasks.values():
        type(task).serializer = SIGNED
        type(task)._exec_options = None  # the cached send options hold the old serializer
