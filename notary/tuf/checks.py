"""The validation notary-server applies to an update (contract §2.5 step 2), one role file at a time.

Each check takes parsed metadata (``parse_metadata``), what it must be checked against and an explicit
``now``, and raises the ``ValidationError`` notary would report (``ErrBadRoot``, ``ErrBadTargets``,
``ErrBadSnapshot``) with notary's message text, since the Go client prints it. Structural problems are
reported as notary's ``ErrInvalidMetadata`` words them: ``"<role> type metadata invalid: <what>"``.

Order of the checks, as notary's repo builder runs them:

* root: version rule against the previous root, structure, usable root certificates, the previous
  root's threshold of cross-signatures, the new root's own threshold, expiry;
* targets / delegations: structure, signatures, expiry (delegation ``paths`` are not enforced);
* snapshot: signatures, structure (root and targets need a sha256), expiry, then the hashes of every
  file loaded in this validation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias

from notary.tuf import roles
from notary.tuf.certs import check_root_certificate, check_rotation_certificate
from notary.tuf.errors import BadRootError, BadSnapshotError, BadTargetsError, ValidationError
from notary.tuf.keys import InvalidKeyError, PublicKey
from notary.tuf.metadata import TYPES, SignedMetadata
from notary.tuf.verify import RoleKeys, check_key_ids, meets_threshold

__all__ = [
    "RootInfo",
    "TargetsInfo",
    "check_delegation_exists",
    "check_root",
    "check_snapshot",
    "check_targets",
    "go_expiry_text",
]

_NO_LEAF_CERTS: Final = (
    "could not validate the path to a trusted root: unable to retrieve valid leaf certificates"
)
_ROOT_INTEGRITY: Final = (
    "could not validate the path to a trusted root: failed to validate integrity of roots"
)
_ROTATION_FAILED: Final = (
    "could not rotate trust to a new trusted root: failed to validate data with current trusted certificates"
)
_HASH_SIZES: Final = {"sha256": hashlib.sha256().digest_size, "sha512": hashlib.sha512().digest_size}
_WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Builds the role's error for a structural problem ("<role> type metadata invalid: ...").
_ErrorFactory: TypeAlias = Callable[[str], ValidationError]


# --------------------------------------------------------------------------------------------- root


@dataclass(frozen=True)
class RootInfo:
    """A structurally valid root: its keys and the key sets of the four base roles."""

    metadata: SignedMetadata
    keys: dict[str, PublicKey]
    roles: dict[str, RoleKeys]

    @classmethod
    def from_metadata(cls, metadata: SignedMetadata) -> RootInfo:
        """Read a root's structure without any policy check (for a stored, already accepted root).

        Raises BadRootError if the structure is not a valid root.
        """
        return _parse_root(metadata)


def check_root(new: SignedMetadata, previous: RootInfo | None, gun: str, now: datetime) -> RootInfo:
    """Validate an uploaded root for ``gun``, as a rotation of ``previous`` if there is one."""
    _require_aware(now)
    if previous is not None:
        current = previous.metadata.version
        if new.version not in (current, current + 1):
            raise BadRootError(
                f"Root modifications must increment the version. Current {current}, new {new.version}"
            )
    info = _parse_root(new)

    root_role = info.roles[roles.ROOT]
    usable = tuple(k for k in root_role.keyids if check_root_certificate(info.keys[k], gun, now) is None)
    if not usable:
        raise BadRootError(_NO_LEAF_CERTS)

    if previous is not None:
        previous_role = previous.roles[roles.ROOT]
        trusted = tuple(
            k
            for k in previous_role.keyids
            if k in previous.keys and check_rotation_certificate(previous.keys[k], now) is None
        )
        if not meets_threshold(new, previous.keys, RoleKeys(trusted, previous_role.threshold)):
            raise BadRootError(_ROTATION_FAILED)

    if not meets_threshold(new, info.keys, RoleKeys(usable, root_role.threshold)):
        raise BadRootError(_ROOT_INTEGRITY)

    _check_expiry(new, roles.ROOT, now, BadRootError)
    return info


def _parse_root(metadata: SignedMetadata) -> RootInfo:
    def invalid(msg: str) -> BadRootError:
        return BadRootError(f"root type metadata invalid: {msg}")

    signed = metadata.signed
    _check_type_and_version(signed, roles.ROOT, invalid, min_version_text="1")
    keys = _parse_keys(signed.get("keys"), "keys", invalid)
    role_entries = signed.get("roles")
    if not isinstance(role_entries, dict):
        raise invalid("roles must be an object")
    parsed: dict[str, RoleKeys] = {}
    for name in roles.BASE_ROLES:
        entry = role_entries.get(name)
        if entry is None:
            raise invalid(f"missing {name} role specification")
        parsed[name] = _role_keys(name, entry, keys, invalid)
    return RootInfo(metadata=metadata, keys=keys, roles=parsed)


# ------------------------------------------------------------------------------------------ targets


@dataclass(frozen=True)
class TargetsInfo:
    """A checked targets (or delegation) file and the delegations it declares, by full role name."""

    metadata: SignedMetadata
    keys: dict[str, PublicKey]
    delegations: dict[str, RoleKeys]


def check_targets(
    metadata: SignedMetadata,
    signer: RoleKeys,
    signer_keys: Mapping[str, PublicKey],
    now: datetime,
    *,
    allow_expired: bool = False,
) -> TargetsInfo:
    """Validate ``targets`` or a delegation against the keys that may sign it.

    ``signer``/``signer_keys`` are root's ``targets`` role and root's keys, or for a delegation the
    parent's delegation entry (``check_delegation_exists``) and the parent's delegation keys.
    ``allow_expired`` is for an ancestor read from the store: notary loads those with expiry allowed.
    """
    _require_aware(now)
    role = metadata.role
    if not roles.is_targets_role(role):
        raise BadTargetsError(f"tuf: invalid role {role}.")
    info = _parse_targets(metadata)
    if not meets_threshold(metadata, signer_keys, signer):
        raise BadTargetsError(f"valid signatures did not meet threshold for {role}")
    if not allow_expired:
        _check_expiry(metadata, role, now, BadTargetsError)
    return info


def check_delegation_exists(role: str, parent: TargetsInfo) -> RoleKeys:
    """The entry ``parent`` declares for its direct child ``role``; BadTargetsError if there is none."""
    if not roles.is_delegation(role):
        raise BadTargetsError(f"tuf: invalid role {role}. invalid delegation name")
    entry = parent.delegations.get(role)
    if entry is None:
        raise BadTargetsError(f"tuf: invalid role {role}. delegation does not exist")
    return entry


def _parse_targets(metadata: SignedMetadata) -> TargetsInfo:
    role = metadata.role

    def invalid(msg: str) -> BadTargetsError:
        return BadTargetsError(f"{role} type metadata invalid: {msg}")

    signed = metadata.signed
    _check_type_and_version(signed, roles.TARGETS, invalid, min_version_text="one")

    targets = signed.get("targets")
    if not isinstance(targets, dict):
        raise invalid("targets must be an object")
    for path, entry in targets.items():
        reason = _file_meta_problem(entry, require_fields=True)
        if reason is not None:
            raise invalid(f"target {path!r}: {reason}")

    delegations = signed.get("delegations")
    if delegations is None:
        delegations = {}
    if not isinstance(delegations, dict):
        raise invalid("delegations must be an object")
    keys = _parse_keys(delegations.get("keys", {}), "delegations.keys", invalid)
    entries = delegations.get("roles")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise invalid("delegations.roles must be a list")
    declared: dict[str, RoleKeys] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise invalid("each delegation role must be an object with a string name")
        name: str = entry["name"]
        if not roles.is_delegation(name) or roles.parent_of(name) != role:
            raise invalid(f"delegation role {name} invalid")
        if name in declared:
            raise invalid(f"delegation role {name} is listed more than once")
        paths = entry.get("paths")
        if paths is not None and not (isinstance(paths, list) and all(isinstance(p, str) for p in paths)):
            raise invalid(f"paths of delegation role {name} must be a list of strings")
        declared[name] = _role_keys(name, entry, keys, invalid)
    return TargetsInfo(metadata=metadata, keys=keys, delegations=declared)


# ----------------------------------------------------------------------------------------- snapshot


def check_snapshot(
    metadata: SignedMetadata, root: RootInfo, loaded: Mapping[str, bytes], now: datetime
) -> None:
    """Validate an uploaded snapshot against ``root`` and the exact bytes of every file in ``loaded``.

    ``loaded`` maps role name to the bytes of each file uploaded or read from the store in this
    validation; each must be recorded in ``meta`` with matching hashes (and length, if given).
    """
    _require_aware(now)
    role = roles.SNAPSHOT
    if not meets_threshold(metadata, root.keys, root.roles[role]):
        raise BadSnapshotError(f"valid signatures did not meet threshold for {role}")

    def invalid(msg: str) -> BadSnapshotError:
        return BadSnapshotError(f"{role} type metadata invalid: {msg}")

    signed = metadata.signed
    _check_type_and_version(signed, role, invalid, min_version_text="one")
    meta = signed.get("meta")
    if not isinstance(meta, dict):
        raise invalid("meta must be an object")
    for name, entry in meta.items():
        reason = _file_meta_problem(entry, require_fields=False)
        if reason is not None:
            raise invalid(f"invalid {name} checksum information, {reason}")
    for name in (roles.ROOT, roles.TARGETS):
        hashes = _hashes_of(meta.get(name))
        if "sha256" not in hashes:
            raise invalid(f"missing {name} sha256 checksum information")
        for algorithm, digest in hashes.items():
            if len(digest) != _HASH_SIZES[algorithm]:
                raise invalid(f"invalid {name} checksum information, {algorithm} checksum invalid")

    _check_expiry(metadata, role, now, BadSnapshotError)

    for name in sorted(loaded, key=lambda n: (roles.depth(n), n)):
        if name in roles.SERVER_ROLES:
            continue  # snapshot and timestamp are not recorded in a snapshot
        _check_recorded(name, loaded[name], meta.get(name), invalid)


def _check_recorded(name: str, raw: bytes, entry: object, invalid: _ErrorFactory) -> None:
    hashes = _hashes_of(entry)
    if not hashes:
        raise BadSnapshotError(f"no checksums for supported algorithms were provided for {name}")
    if "sha256" not in hashes:
        # Files are stored and served by sha256, so a snapshot without it would break the repository.
        raise invalid(f"missing {name} sha256 checksum information")
    for algorithm in _HASH_SIZES:
        expected = hashes.get(algorithm)
        if expected is not None and not hmac.compare_digest(hashlib.new(algorithm, raw).digest(), expected):
            raise BadSnapshotError(
                f"{algorithm} checksum for {name} did not match: expected {expected.hex()}"
            )
    length = entry.get("length") if isinstance(entry, dict) else None
    if length is not None and length != len(raw):
        raise BadSnapshotError(f"length for {name} did not match: expected {length}, got {len(raw)}")


def _hashes_of(entry: object) -> dict[str, bytes]:
    """The supported hashes (sha256, sha512) of a structurally checked file meta entry, decoded."""
    if not isinstance(entry, dict):
        return {}
    hashes = entry.get("hashes")
    if not isinstance(hashes, dict):
        return {}
    return {
        algorithm: base64.b64decode(value)
        for algorithm, value in hashes.items()
        if algorithm in _HASH_SIZES and isinstance(value, str)
    }


# ---------------------------------------------------------------------------------------- helpers


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


def _check_type_and_version(
    signed: dict[str, Any], role: str, invalid: _ErrorFactory, min_version_text: str
) -> None:
    expected = TYPES[role]
    if signed.get("_type") != expected:
        raise invalid(f"expected type {expected}, not {signed.get('_type')}")
    version = signed.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise invalid(f"version cannot be less than {min_version_text}")


def _check_expiry(metadata: SignedMetadata, role: str, now: datetime, error: type[ValidationError]) -> None:
    if metadata.expires < now:
        raise error(f"{role} expired at {go_expiry_text(metadata.expires)}")


def go_expiry_text(moment: datetime) -> str:
    """A time as notary prints an expiry: Go's ``Mon Jan 2 15:04:05 MST 2006`` layout, in UTC."""
    utc = moment.astimezone(UTC)
    return (
        f"{_WEEKDAYS[utc.weekday()]} {_MONTHS[utc.month - 1]} {utc.day} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} UTC {utc.year:04d}"
    )


def _parse_keys(value: object, what: str, invalid: _ErrorFactory) -> dict[str, PublicKey]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"{what} must be an object")
    keys: dict[str, PublicKey] = {}
    for key_id, data in value.items():
        try:
            keys[key_id] = PublicKey.from_dict(data)
        except InvalidKeyError as exc:
            raise invalid(f"invalid key {key_id}: {exc}") from None
    try:
        check_key_ids(keys)
    except ValueError as exc:
        raise invalid(str(exc)) from None
    return keys


def _role_keys(name: str, entry: object, keys: Mapping[str, PublicKey], invalid: _ErrorFactory) -> RoleKeys:
    """A role's ``keyids`` and ``threshold`` (notary's ``isValidRootRoleStructure``)."""
    if not isinstance(entry, dict):
        raise invalid(f"{name} role specification must be an object")
    threshold = entry.get("threshold")
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        raise invalid(f"invalid threshold specified for {name}: {threshold}")
    keyids = entry.get("keyids")
    if keyids is None:
        keyids = []
    if not isinstance(keyids, list) or not all(isinstance(k, str) for k in keyids):
        raise invalid(f"keyids of {name} must be a list of strings")
    for key_id in keyids:
        if key_id not in keys:
            raise invalid(f"key ID {key_id} specified in {name} without corresponding key")
    return RoleKeys(keyids=tuple(dict.fromkeys(keyids)), threshold=threshold)


def _file_meta_problem(entry: object, *, require_fields: bool) -> str | None:
    """Why ``entry`` is not a ``{"length": n, "hashes": {alg: base64}}`` object, or None."""
    if not isinstance(entry, dict):
        return "must be an object"
    length = entry.get("length")
    if length is None and require_fields:
        return "length is missing"
    if length is not None and (not isinstance(length, int) or isinstance(length, bool) or length < 0):
        return "length must be a non-negative integer"
    hashes = entry.get("hashes")
    if hashes is None and require_fields:
        return "hashes are missing"
    if hashes is not None:
        if not isinstance(hashes, dict):
            return "hashes must be an object"
        for algorithm, value in hashes.items():
            if not isinstance(value, str):
                return f"{algorithm} hash must be a base64 string"
            try:
                base64.b64decode(value, validate=True)
            except binascii.Error:
                return f"{algorithm} hash is not valid base64"
    return None
