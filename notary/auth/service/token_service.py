"""The token service's state, loaded once from the settings: signer, users, grants, issuer, service, ttl.

The files are read at start-up; a change to the users or grants file takes effect on the next restart.
Any problem with them is a ``ConfigError`` naming the option, so the server refuses to start.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from notary.auth.access import Access
from notary.auth.service.grants import Grants, GrantsFileError, granted
from notary.auth.service.minting import (
    MintedToken,
    SigningKeyError,
    TokenSigner,
    load_chain,
    load_signing_key,
)
from notary.auth.service.users import Users, UsersFileError
from notary.errors import ConfigError
from notary.settings import Settings


@dataclass(frozen=True)
class TokenService:
    signer: TokenSigner
    users: Users
    grants: Grants
    issuer: str
    service: str
    ttl: int

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenService | None:
        """The service when ``token_service.enabled``, else None."""
        if not settings["token_service.enabled"]:
            return None
        with _blamed_on(settings, "token_service.key_file") as path:
            key = load_signing_key(path.read_bytes())
        with _blamed_on(settings, "token_service.cert_file") as path:
            signer = TokenSigner(key, load_chain(path.read_bytes()))
        with _blamed_on(settings, "token_service.users_file") as path:
            users = Users.parse(path.read_text(encoding="utf-8"))
        with _blamed_on(settings, "token_service.grants_file") as path:
            grants = Grants.parse(path.read_text(encoding="utf-8"))
        return cls(
            signer=signer,
            users=users,
            grants=grants,
            issuer=settings["auth.options.issuer"],
            service=settings["auth.options.service"],
            ttl=settings["token_service.ttl"],
        )

    def issue(self, user: str | None, requested: Iterable[Access]) -> MintedToken:
        """A token for ``user`` (None: anonymous) with what was both requested and granted."""
        access = granted(requested, self.grants.of(user))
        return self.signer.mint(
            issuer=self.issuer, service=self.service, subject=user or "", access=access, ttl=self.ttl
        )


@contextmanager
def _blamed_on(settings: Settings, key: str) -> Iterator[Path]:
    """The path of option ``key``; a problem reading or parsing it becomes a ConfigError naming ``key``."""
    path = settings.path(key)
    assert path is not None  # required when the service is enabled (settings._check_combinations)
    try:
        yield path
    except OSError as exc:
        raise ConfigError(key, settings.source(key), f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(key, settings.source(key), f"{path} is not UTF-8 text") from None
    except (SigningKeyError, UsersFileError, GrantsFileError) as bad:
        raise ConfigError(key, settings.source(key), f"{path}: {bad}") from None
