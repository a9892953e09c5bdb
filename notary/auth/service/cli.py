"""``notary-token``: mint a bearer token from a local key, add a users-file entry, make a dev signing cert.

    notary-token -key token.key -cert token.crt -issuer I -service S -subject alice \\
        -scope 'repository:example.com/app:push,pull' [-scope ...] [-ttl 300]      # prints the JWT
    notary-token passwd alice [-file users.htpasswd] [-cost 12]   # password from stdin, or prompted twice
    notary-token dev-cert -out DIR [-cn NAME] [-days 365] [-rsa]  # DIR/token.key (0600) and DIR/token.crt

Minting grants whatever ``-scope`` says: whoever holds the key can sign anything, so keep it as a secret.
A password is never taken from the command line, where other users could read it in the process list.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from notary.auth.access import ScopeError, parse_scope
from notary.auth.service.dev_cert import DEFAULT_COMMON_NAME, DEFAULT_DAYS, make_dev_certificate
from notary.auth.service.minting import MAX_TTL, SigningKeyError, TokenSigner
from notary.auth.service.users import DEFAULT_COST, PasswordError, UsersFileError, hash_password, with_entry

PROG = "notary-token"
COMMANDS = ("mint", "passwd", "dev-cert")
KEY_NAME, CERT_NAME = "token.key", "token.crt"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Docker registry v2 bearer tokens for Notary: mint, users, dev certificate."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    mint = commands.add_parser("mint", help="print a signed token (the default command)")
    mint.add_argument("-key", "--key", type=Path, required=True, help="PEM private key (EC P-256 or RSA)")
    mint.add_argument("-cert", "--cert", type=Path, required=True, help="PEM certificate, then intermediates")
    mint.add_argument("-issuer", "--issuer", required=True, help="iss: the verifier's auth.options.issuer")
    mint.add_argument("-service", "--service", required=True, help="aud: the verifier's auth.options.service")
    mint.add_argument("-subject", "--subject", required=True, help="sub: the account the token is for")
    mint.add_argument(
        "-scope",
        "--scope",
        action="append",
        default=[],
        help="e.g. 'repository:foo/bar:push,pull' (repeatable)",
    )
    mint.add_argument(
        "-ttl", "--ttl", type=int, default=300, help="seconds the token is valid (default: 300)"
    )

    passwd = commands.add_parser("passwd", help="hash a password (stdin or prompt) into a users-file line")
    passwd.add_argument("user")
    passwd.add_argument("-file", "--file", type=Path, help="add or replace the user's line in this file")
    passwd.add_argument("-cost", "--cost", type=int, default=DEFAULT_COST, help="bcrypt cost (default: 12)")

    dev_cert = commands.add_parser("dev-cert", help="write a self-signed signing key and certificate")
    dev_cert.add_argument("-out", "--out", type=Path, required=True, help="folder for token.key, token.crt")
    dev_cert.add_argument("-cn", "--cn", default=DEFAULT_COMMON_NAME, help="the certificate's common name")
    dev_cert.add_argument("-days", "--days", type=int, default=DEFAULT_DAYS, help="validity (default: 365)")
    dev_cert.add_argument("-rsa", "--rsa", action="store_true", help="RSA 2048 (RS256) instead of P-256")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] not in (*COMMANDS, "-h", "--help"):
        arguments.insert(0, "mint")
    parser = build_parser()
    args = parser.parse_args(arguments)
    handlers = {"mint": _mint, "passwd": _passwd, "dev-cert": _dev_cert}
    try:
        return handlers[args.command](parser, args)
    except OSError as error:
        print(f"{PROG}: {error.filename}: {error.strerror}", file=sys.stderr)
        return 1


def _mint(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not 0 < args.ttl <= MAX_TTL:
        parser.error(f"-ttl must be between 1 and {MAX_TTL} seconds")
    try:
        access = parse_scope(" ".join(args.scope))
    except ScopeError as bad:
        parser.error(str(bad))
    try:
        signer = TokenSigner.from_files(args.key, args.cert)
    except SigningKeyError as bad:
        print(f"{PROG}: {bad}", file=sys.stderr)
        return 1
    minted = signer.mint(
        issuer=args.issuer, service=args.service, subject=args.subject, access=access, ttl=args.ttl
    )
    print(minted.token)
    return 0


def _passwd(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        entry_hash = hash_password(_read_password(), args.cost)
        if args.file is None:
            print(with_entry("", args.user, entry_hash), end="")
            return 0
        current = args.file.read_text(encoding="utf-8") if args.file.exists() else ""
        _write_private(args.file, with_entry(current, args.user, entry_hash))
    except (PasswordError, UsersFileError) as bad:
        print(f"{PROG}: {bad}", file=sys.stderr)
        return 1
    print(f"{args.user} written to {args.file}", file=sys.stderr)
    return 0


def _read_password() -> bytes:
    if not sys.stdin.isatty():
        return sys.stdin.buffer.readline().rstrip(b"\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise PasswordError("the passwords differ")
    return first.encode("utf-8")


def _dev_cert(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.days < 1:
        parser.error("-days must be at least 1")
    key_path, cert_path = args.out / KEY_NAME, args.out / CERT_NAME
    existing = [str(path) for path in (key_path, cert_path) if path.exists()]
    if existing:
        print(f"{PROG}: not overwriting {', '.join(existing)}", file=sys.stderr)
        return 1
    made = make_dev_certificate(args.cn, args.days, rsa_key=args.rsa)
    args.out.mkdir(parents=True, exist_ok=True)
    _write_private(key_path, made.key_pem.decode("ascii"))
    cert_path.write_bytes(made.cert_pem)
    print(f"wrote {key_path} (private, 0600) and {cert_path}", file=sys.stderr)
    return 0


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, readable by the owner only."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
