"""``notary-publish``: publish a directory of repositories as one bulk job and follow it; follow any job.

    notary-publish push ~/.notary/tuf --server https://notary.example.com:4443
    notary-publish wait JOB_ID --timeout 600
    notary-publish status JOB_ID --json

Progress goes to stderr (a bar on a terminal, plain lines otherwise), results to stdout (a summary and a
table of failures, or with ``--json`` the job document as the server sent it, or an error envelope).
Exit codes: 0 every repository published, 1 some failed, 2 usage or input error (also an unknown job id or a
request the server refused as invalid), 3 the server could not be reached or refused us, 4 the job itself
failed, 5 the job had not finished when we stopped waiting, 130 interrupted (the job goes on).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from rich.console import Console
from rich.text import Text

from notary.client.auth import BearerTokenAuth
from notary.client.publish.display import display_for
from notary.client.publish.errors import ExitCode, PublishError, RequestRefusedError, ServerError
from notary.client.publish.follow import follow
from notary.client.publish.layout import Repository, scan
from notary.client.publish.outcome import JobReport
from notary.client.publish.payload import JSON_TYPE, TAR_TYPE, idempotency_key, json_body, write_tar
from notary.client.publish.server import Backoff, Server, Submitted
from notary.client.publish.summary import json_document, json_error, render_error, render_report

PROG: Final = "notary-publish"
DEFAULT_SERVER: Final = "http://127.0.0.1:4443"
SERVER_ENV: Final = "NOTARY_PUBLISH_SERVER"
TOKEN_ENV: Final = "NOTARY_TOKEN"  # noqa: S105 (the variable's name, not a token)
# Past this many bytes of metadata, "auto" sends a tar streamed from a temporary file instead of JSON.
TAR_THRESHOLD: Final = 8 * 1024 * 1024
INTERRUPTED: Final = 130
_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _idempotency_key(text: str) -> str:
    if not 0 < len(text) <= 255 or not text.isascii() or not text.isprintable():
        raise argparse.ArgumentTypeError("must be 1 to 255 printable ASCII characters")
    return text


def _attempts(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError("must be 1 to 100")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-s",
        "--server",
        metavar="URL",
        help=f"the Notary server (default: ${SERVER_ENV} or {DEFAULT_SERVER})",
    )
    common.add_argument(
        "--token",
        help=f"bearer token for a server with token auth (better: ${TOKEN_ENV}, hidden from other users)",
    )
    common.add_argument(
        "--tlscacert", metavar="FILE", help="trust only this CA (PEM) for the server's certificate"
    )
    common.add_argument("--tlscert", metavar="FILE", help="client certificate (PEM) for mutual TLS")
    common.add_argument("--tlskey", metavar="FILE", help="the client certificate's private key (PEM)")
    common.add_argument(
        "--retries",
        type=_attempts,
        default=Backoff.attempts,
        metavar="N",
        help=f"attempts at a request that fails to connect or gets 429/5xx (default: {Backoff.attempts})",
    )
    common.add_argument(
        "--json",
        action="store_true",
        dest="json_output",
        help="no progress display; print the job document (or an error envelope) as JSON on stdout",
    )

    parser = argparse.ArgumentParser(
        prog=PROG, description="Publish many Notary repositories as one bulk job, and follow jobs."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    push = commands.add_parser(
        "push",
        parents=[common],
        help="publish DIR/<gun>/metadata/<role>.json (the Go client's ~/.notary/tuf layout)",
        description="Publish every repository under DIR (DIR/<gun>/metadata/<role>.json) as one bulk job.",
    )
    push.add_argument("directory", type=Path, metavar="DIR")
    push.add_argument(
        "--idempotency-key",
        type=_idempotency_key,
        metavar="KEY",
        help="default: derived from the content, so re-running after a failure never publishes twice",
    )
    push.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="follow the job until it finishes (default), or print its id and exit 0",
    )
    push.add_argument("--timeout", type=_seconds, metavar="S", help="stop waiting after S seconds (exit 5)")
    push.add_argument("--callback-url", metavar="URL", help="a webhook for the job's end")
    push.add_argument(
        "--format",
        choices=("auto", "json", "tar"),
        default="auto",
        help=f"request body (auto: tar past {TAR_THRESHOLD // 2**20} MiB if the server takes it, else JSON)",
    )

    wait = commands.add_parser("wait", parents=[common], help="follow a job until it finishes")
    wait.add_argument("job_id", metavar="JOB_ID")
    wait.add_argument("--timeout", type=_seconds, metavar="S", help="stop waiting after S seconds (exit 5)")

    status = commands.add_parser("status", parents=[common], help="show a job's state once")
    status.add_argument("job_id", metavar="JOB_ID")
    return parser


class Command:
    """One run: the parsed arguments, the server, and the two consoles."""

    def __init__(self, args: argparse.Namespace, server: Server, out: Console, err: Console) -> None:
        self.args = args
        self.server = server
        self.out = out
        self.err = err

    @property
    def json_output(self) -> bool:
        return bool(self.args.json_output)

    def note(self, text: str) -> None:
        if not self.json_output:
            self.err.print(Text(text))

    def push(self) -> ExitCode:
        repositories = scan(self.args.directory)
        key = self.args.idempotency_key or idempotency_key(repositories, self.args.callback_url)
        submitted = self._submit(repositories, key)
        report = JobReport.parse(submitted.document)
        if submitted.created:
            self.note(
                f"Submitted {len(repositories)} repositories as job {report.id} (Idempotency-Key {key})."
            )
        else:
            self.note(f"These {len(repositories)} repositories were already submitted as job {report.id}.")
        if not self.args.wait:
            print(json_document(report.document) if self.json_output else report.id)
            return ExitCode.OK
        return self._follow(report.id, self.args.timeout)

    def wait(self) -> ExitCode:
        return self._follow(self.args.job_id, self.args.timeout)

    def status(self) -> ExitCode:
        report = JobReport.parse(self.server.job(self.args.job_id).document)
        self._show(report)
        return report.exit_code

    def _submit(self, repositories: list[Repository], key: str) -> Submitted:
        fmt = self.args.format
        callback_url = self.args.callback_url
        if fmt == "tar" or (fmt == "auto" and sum(r.size for r in repositories) > TAR_THRESHOLD):
            with tempfile.TemporaryFile() as body:
                write_tar(repositories, body)
                params = {"callback_url": callback_url} if callback_url else None
                try:
                    return self.server.submit(body, TAR_TYPE, key, params)
                except RequestRefusedError as error:
                    if fmt == "tar" or error.status != 415:
                        raise
            self.note("The server takes no tar upload; sending JSON instead.")
        return self.server.submit(json_body(repositories, callback_url), JSON_TYPE, key)

    def _follow(self, job_id: str, timeout: float | None) -> ExitCode:
        display = display_for(self.err, self.json_output)
        try:
            with contextlib.closing(display):
                report = follow(self.server, job_id, display.update, timeout=timeout)
        except ServerError as error:
            error.job_id = job_id  # the job goes on without us: say how to pick it up again
            raise
        except KeyboardInterrupt:
            self.note(f"Interrupted; the job goes on on the server: {PROG} wait {job_id}")
            raise
        self._show(report)
        return report.exit_code

    def _show(self, report: JobReport) -> None:
        if self.json_output:
            print(json_document(report.document))
        else:
            render_report(report, self.out)


def _server(parser: argparse.ArgumentParser, args: argparse.Namespace, err: Console) -> Server:
    url = args.server or os.environ.get(SERVER_ENV) or DEFAULT_SERVER
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        parser.error(f"the server must be an http:// or https:// URL, got {url!r}")
    if (args.tlscert is None) != (args.tlskey is None):
        parser.error("--tlscert and --tlskey go together")
    for option in ("tlscacert", "tlscert", "tlskey"):
        path = getattr(args, option)
        if path is not None and not Path(path).is_file():
            parser.error(f"--{option}: {path} is not a readable file")
    token = args.token or os.environ.get(TOKEN_ENV)
    auth = None
    if token:
        try:
            auth = BearerTokenAuth(token)
        except ValueError as error:
            parser.error(str(error))
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK and not args.json_output:
            err.print(Text(f"{PROG}: warning: sending the token over plain http to {parts.hostname}"))
    return Server(
        url,
        auth=auth,
        verify=args.tlscacert or True,
        cert=(args.tlscert, args.tlskey) if args.tlscert else None,
        backoff=Backoff(attempts=args.retries),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    err = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    server = _server(parser, args, err)
    command = Command(args, server, out, err)
    run: Callable[[], ExitCode] = {"push": command.push, "wait": command.wait, "status": command.status}[
        args.command
    ]
    try:
        return int(run())
    except PublishError as error:
        if command.json_output:
            print(json_error(error))
        else:
            render_error(error, err)
        return int(error.exit_code)
    except KeyboardInterrupt:
        return INTERRUPTED
    finally:
        server.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
