"""``notary-sign``: sign one request with a shared key and send it (like Turnstile's ``turnt``).

    NOTARY_SECRET=... notary-sign --identity ID --secret-env NOTARY_SECRET \\
        -X POST -d '{"a": 1}' -H 'Content-Type: application/json' https://svc.internal/v1/things?x=1

Prints the status line and the body; exits 0 for a 2xx answer, 1 otherwise (2 for a usage error).
``--dry-run`` prints the request line and the headers it would send, and sends nothing.

The secret comes from an environment variable (``--secret-env``) or a file (``--secret-file``, surrounding
whitespace stripped), never from the command line, where other users could read it in the process list. It is
never printed: the Authorization header carries only the identity and the signature.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import requests

from notary.client.auth import NotaryRequestsAuth

PROG = "notary-sign"
_HTTP_VERSIONS = {9: "HTTP/0.9", 10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Sign one HTTP request with a Notary shared key (Rapid7-HMAC-V1-SHA256) and send it.",
    )
    parser.add_argument("--identity", required=True, help="the key's identity")
    secret = parser.add_mutually_exclusive_group(required=True)
    secret.add_argument("--secret-env", metavar="VAR", help="read the secret from this environment variable")
    secret.add_argument("--secret-file", metavar="PATH", type=Path, help="read the secret from this file")
    parser.add_argument("-X", "--request", metavar="METHOD", help="method (default: GET, or POST with data)")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("-d", "--data", help="request body (sent as UTF-8)")
    data.add_argument("--data-file", metavar="PATH", help="request body from a file ('-' for stdin)")
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'Name: value'",
        help="extra header (repeatable)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds (default: 30)")
    parser.add_argument("--dry-run", action="store_true", help="print the signed headers, send nothing")
    parser.add_argument("url", help="http:// or https:// URL, query included")
    return parser


def _fail(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    parser.error(message)


def _secret(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    if args.secret_env is not None:
        value = os.environ.get(args.secret_env, "").strip()
        if not value:
            _fail(parser, f"environment variable {args.secret_env} is not set or empty")
        return value
    path: Path = args.secret_file
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        _fail(parser, f"cannot read the secret file {str(path)!r}: {type(error).__name__}")
    if not value:
        _fail(parser, f"the secret file {str(path)!r} is empty")
    return value


def _body(parser: argparse.ArgumentParser, args: argparse.Namespace) -> bytes | None:
    if args.data is not None:
        return str(args.data).encode("utf-8")
    if args.data_file is None:
        return None
    if args.data_file == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(args.data_file).read_bytes()
    except OSError as error:
        _fail(parser, f"cannot read {args.data_file!r}: {error.strerror or type(error).__name__}")


def _headers(parser: argparse.ArgumentParser, raw: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in raw:
        name, sep, value = item.partition(":")
        if not sep or not name.strip() or any(c in item for c in "\r\n"):
            _fail(parser, f"a header is 'Name: value', got {item!r}")
        headers[name.strip()] = value.strip()
    return headers


def _write_body(content: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(content)
    if content and not content.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")
    sys.stdout.buffer.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not str(args.url).startswith(("http://", "https://")):
        _fail(parser, "the URL must start with http:// or https://")
    try:
        auth = NotaryRequestsAuth(args.identity, _secret(parser, args))
    except ValueError as error:
        _fail(parser, str(error))  # the messages never contain the secret
    body = _body(parser, args)
    method = (args.request or ("POST" if body is not None else "GET")).upper()

    with requests.Session() as session:
        request = requests.Request(
            method, args.url, headers=_headers(parser, args.header), data=body, auth=auth
        )
        try:
            prepared = session.prepare_request(request)
        except (ValueError, TypeError, requests.RequestException) as error:
            print(f"{PROG}: cannot prepare the request: {error}", file=sys.stderr)
            return 1
        if args.dry_run:
            print(f"{prepared.method} {prepared.path_url}")
            for name, value in prepared.headers.items():
                print(f"{name}: {value.decode('latin-1') if isinstance(value, bytes) else value}")
            return 0
        settings = session.merge_environment_settings(args.url, {}, None, None, None)
        try:
            response = session.send(prepared, timeout=args.timeout, allow_redirects=False, **settings)
        except requests.RequestException as error:
            print(f"{PROG}: request failed: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
        version = _HTTP_VERSIONS.get(getattr(response.raw, "version", 11), "HTTP/1.1")
        print(f"{version} {response.status_code} {response.reason or ''}".rstrip())
        _write_body(response.content)
        return 0 if 200 <= response.status_code < 300 else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
