"""The tables. Versions of metadata are unique per (gun, role, version) by constraint, not only by a check."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow

# MySQL's BLOB stops at 64 KiB; metadata and job payloads can be far larger.
Blob = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite only autoincrements INTEGER PRIMARY KEY


class TufFile(Base):
    __tablename__ = "tuf_files"
    __table_args__ = (
        UniqueConstraint("gun", "role", "version"),
        Index(None, "sha256"),
        Index(None, "role", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    gun: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(Blob)
    sha256: Mapped[str] = mapped_column(String(64))
    # Parsed once at write time so beat can find timestamps near expiry without reading every file.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ChangefeedEntry(Base):
    __tablename__ = "changefeed"
    __table_args__ = (Index(None, "gun"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    gun: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(20))


class ServerKey(Base):
    """A private key the server holds for a repository (timestamp, or snapshot when handed over).

    ``private_sealed`` is AES-GCM ciphertext under the signer's key-encryption key ``kek_id``; only the
    signer process can open it. ``pending_slot`` is 1 while the key waits for a root to use it and NULL
    otherwise: the unique constraint then allows at most one pending key per (gun, role), on every backend
    (NULLs never collide in a unique index).
    """

    __tablename__ = "server_keys"
    __table_args__ = (UniqueConstraint("gun", "role", "pending_slot"), Index(None, "gun", "role"))

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    gun: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    algorithm: Mapped[str] = mapped_column(String(20))
    keytype: Mapped[str] = mapped_column(String(20))
    public: Mapped[str] = mapped_column(Text)
    private_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # evaluates_none: an explicit None is stored as NULL; otherwise the ORM would skip it and apply default=1.
    pending_slot: Mapped[int | None] = mapped_column(Integer().evaluates_none(), nullable=True, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Job(Base):
    """A unit of asynchronous work. The database, not Celery's result backend, owns its state.

    ``kind`` is the first task of the job; ``stage`` the task that must run next (a job may be a chain of
    tasks), and ``work`` what earlier steps handed to later ones. Only the task named by ``stage`` may act,
    so a duplicate or late message of an earlier step does nothing.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index(None, "state", "updated_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    gun: Mapped[str | None] = mapped_column(String(255), nullable=True)
    params: Mapped[str] = mapped_column(LongText, default="{}")
    work: Mapped[str | None] = mapped_column(LongText, nullable=True)
    result: Mapped[str | None] = mapped_column(LongText, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    callback_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    enqueued_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class BulkItem(Base):
    """One repository of a bulk publish job (``job_id``), at ``position`` in the request. ``state`` is
    ``pending``, ``published`` (``version`` = the new timestamp version) or ``failed`` (``error``); ``files``
    holds the upload ({role: base64}) only while the repository is pending. Progress is counted from these
    rows, so finishing a repository never writes to the job's own row."""

    __tablename__ = "bulk_items"
    __table_args__ = (UniqueConstraint("job_id", "position"), Index(None, "job_id", "state"))

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    gun: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    files: Mapped[str | None] = mapped_column(LongText, nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IdempotencyKey(Base):
    """An ``Idempotency-Key`` and the job its first request made; ``fingerprint`` (sha256 of the request)
    tells a retry from a different request under the same key. Unique per ``scope`` (the deployment today,
    the caller once requests are authenticated); deleted with its job after ``jobs.retention``."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"), Index(None, "job_id"))

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(255), default="")
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One message to one URL. The body is stored exactly as signed so retries resend identical bytes.

    A delivery of a subscription carries the event's ``stream`` and ``sequence``: only the pending delivery
    with the lowest sequence of its (subscription, stream) may be attempted, so one subscription receives one
    GUN's events in order. A job's own callback has neither and is never held back.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(None, "state", "next_attempt_at"),
        Index(None, "job_id"),
        Index(None, "subscription_id", "stream", "sequence"),
        UniqueConstraint("subscription_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    event_type: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2048))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    subscription_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    event_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    stream: Mapped[str | None] = mapped_column(String(300), nullable=True)
    sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index(None, "delivery_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(Id)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class SharedKey(Base):
    """A key issued to an EC2 instance. ``secret_sealed`` is AES-GCM under a ``keys.keks`` KEK (the API must
    open it to check HMACs); the identity, GUN-like metadata and roles are not secret."""

    __tablename__ = "shared_keys"
    __table_args__ = (Index(None, "expires_at"), Index(None, "instance_id"))

    identity: Mapped[str] = mapped_column(String(128), primary_key=True)
    dc: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(64))
    image: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[str] = mapped_column(String(64))
    roles: Mapped[str] = mapped_column(Text)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    nonce_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    kek_id: Mapped[str] = mapped_column(String(64))
    ttl: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    max_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set by the one read of an asynchronous issuance that may show the secret; later reads redact it.
    secret_revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SharedKeyAudit(Base):
    """Who got which key, when: by identity only, never the secret."""

    __tablename__ = "shared_key_audit"
    __table_args__ = (Index(None, "identity"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    identity: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[str] = mapped_column(Text, default="{}")


class AccessListEntry(Base):
    """Replay protection per instance, as Vault does: the first login's nonce (hashed) and the newest
    pendingTime, which may never go backwards."""

    __tablename__ = "access_list"
    __table_args__ = (Index(None, "expires_at"),)

    instance_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account: Mapped[str] = mapped_column(String(32))
    nonce_sha256: Mapped[str] = mapped_column(String(64))
    pending_time: Mapped[datetime] = mapped_column(UTCDateTime)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Subscription(Base):
    """Who is told about which changes. ``secret_sealed`` is the signing secret under a key derived from
    ``webhooks.secret``; it is shown once, when the subscription is made, and never again."""

    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[str] = mapped_column(Text)
    gun_prefix: Mapped[str | None] = mapped_column(String(255), nullable=True)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxEvent(Base):
    """An event written in the same transaction as the change it reports (a transactional outbox): a crash
    loses both or neither. The dispatcher turns it into deliveries and deletes it in one transaction."""

    __tablename__ = "outbox_events"

    # ``id`` orders the outbox; ``event_id`` names the event forever (a deleted row's id may be reused).
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    event_type: Mapped[str] = mapped_column(String(64))
    gun: Mapped[str | None] = mapped_column(String(255), nullable=True)
    stream: Mapped[str | None] = mapped_column(String(300), nullable=True)
    sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    data: Mapped[str] = mapped_column(LongText)


class EventStream(Base):
    """The last sequence number given to an event of one stream (a GUN, or a shared key). Every event of a
    stream increments it in the change's transaction, so its row lock orders the stream's writers: sequence
    order is commit order, and no later event of a stream can commit before an earlier one."""

    __tablename__ = "event_streams"

    stream: Mapped[str] = mapped_column(String(300), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(Integer, default=0)
