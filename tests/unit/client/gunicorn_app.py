"""A WSGI app behind ``VerifyingMiddleware`` for gunicorn (``tests.unit.client.gunicorn_app:app``): gunicorn
gives the raw target in ``RAW_URI``. ``NOTARY_TEST_URL`` names the Notary stand-in."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIEnvironment

from notary.client.auth import NotaryRequestsAuth
from notary.client.middleware import VerifyingMiddleware
from tests.unit.client.servers import CALLER


def echo(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    payload = {
        "identity": environ["notary.identity"],
        "roles": list(environ["notary.roles"]),
        "raw_uri": environ.get("RAW_URI"),
        "body": body.decode("latin-1"),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(payload).encode()]


app = VerifyingMiddleware(
    echo,
    os.environ["NOTARY_TEST_URL"],
    caller_auth=NotaryRequestsAuth(CALLER.identity, CALLER.secret),
    required_roles=("billing:read",),
)
