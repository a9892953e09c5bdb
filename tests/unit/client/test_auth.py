"""notary.client.auth: requests and httpx sign what actually goes on the wire.

Every request goes to a real http.server on 127.0.0.1 (a non-default port) that captures the raw request line,
Host, headers and body; the test then runs ``notary.keys.signature.verify`` over what was captured.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import requests

from notary.client.auth import (
    BearerTokenAuth,
    NotaryHttpxAuth,
    NotaryRequestsAuth,
    NotarySigner,
    host_from_url,
)
from notary.keys.signature import (
    DIGEST_MISMATCH,
    EMPTY_BODY_DIGEST,
    INVALID_SIGNATURE,
    SignatureError,
    body_digest,
)
from tests.unit.client.servers import CLIENT, CaptureServer

SendFn = Callable[..., int]  # (method, url, body=None, json=None) -> status


def send_requests(method: str, url: str, body: bytes | None = None, json: Any = None) -> int:
    auth = NotaryRequestsAuth(CLIENT.identity, CLIENT.secret)
    with requests.Session() as session:
        return session.request(method, url, data=body, json=json, auth=auth, timeout=10).status_code


def send_httpx(method: str, url: str, body: bytes | None = None, json: Any = None) -> int:
    auth = NotaryHttpxAuth(CLIENT.identity, CLIENT.secret)
    with httpx.Client(timeout=10) as client:
        return client.request(method, url, content=body, json=json, auth=auth).status_code


CLIENTS = [pytest.param(send_requests, id="requests"), pytest.param(send_httpx, id="httpx")]


@pytest.mark.parametrize("send", CLIENTS)
def test_get_without_body_verifies(send: SendFn, capture: CaptureServer) -> None:
    assert send("GET", capture.url + "/v1/things") == 200
    got = capture.last
    assert got.request_line == "GET /v1/things HTTP/1.1"
    assert got.headers["Host"] == f"127.0.0.1:{capture.port}"  # the non-default port is in Host
    assert got.headers["Digest"] == EMPTY_BODY_DIGEST
    assert got.headers["Date"].isdigit()
    assert got.body == b""
    assert got.verify() == CLIENT.identity


@pytest.mark.parametrize("send", CLIENTS)
def test_post_json_body_verifies(send: SendFn, capture: CaptureServer) -> None:
    document = {"name": "caf\u00e9", "n": [1, 2, 3]}
    assert send("POST", capture.url + "/v1/things", json=document) == 200
    got = capture.last
    assert json.loads(got.body) == document
    assert got.headers["Digest"] == body_digest(got.body)
    assert got.verify() == CLIENT.identity


@pytest.mark.parametrize("send", CLIENTS)
def test_query_string_is_signed_raw(send: SendFn, capture: CaptureServer) -> None:
    assert send("GET", capture.url + "/v1/search?a=1&b=%20x&c=%2Fd") == 200
    got = capture.last
    assert got.target == "/v1/search?a=1&b=%20x&c=%2Fd"  # neither decoded nor reordered on the wire
    assert got.verify() == CLIENT.identity


@pytest.mark.parametrize("send", CLIENTS)
def test_encoded_path_is_signed_raw(send: SendFn, capture: CaptureServer) -> None:
    assert send("DELETE", capture.url + "/v1/keys/a%2Fb%20c") == 200
    assert capture.last.target == "/v1/keys/a%2Fb%20c"
    assert capture.last.verify() == CLIENT.identity


@pytest.mark.parametrize("send", CLIENTS)
def test_empty_post_body_has_the_empty_digest(send: SendFn, capture: CaptureServer) -> None:
    assert send("POST", capture.url + "/v1/things", body=b"") == 200
    assert capture.last.headers["Digest"] == EMPTY_BODY_DIGEST
    assert capture.last.verify() == CLIENT.identity


@pytest.mark.parametrize("send", CLIENTS)
def test_a_tampered_body_fails(send: SendFn, capture: CaptureServer) -> None:
    assert send("PUT", capture.url + "/v1/things/1", body=b'{"amount": 10}') == 200
    assert capture.last.verify() == CLIENT.identity
    with pytest.raises(SignatureError) as caught:
        capture.last.verify(body=b'{"amount": 1000}')
    assert caught.value.code == DIGEST_MISMATCH


def test_a_body_changed_after_signing_is_refused_by_the_server(capture: CaptureServer) -> None:
    auth = NotaryRequestsAuth(CLIENT.identity, CLIENT.secret)
    with requests.Session() as session:
        prepared = session.prepare_request(
            requests.Request("POST", capture.url + "/v1/pay", data=b'{"amount": 10}', auth=auth)
        )
        prepared.body = b'{"amount": 99}'
        assert session.send(prepared, timeout=10).status_code == 401
    assert capture.last.error == DIGEST_MISMATCH


def test_a_wrong_secret_is_refused(capture: CaptureServer) -> None:
    auth = NotaryRequestsAuth(CLIENT.identity, "not-the-secret")
    assert requests.get(capture.url + "/v1/things", auth=auth, timeout=10).status_code == 401
    assert capture.last.error == INVALID_SIGNATURE


# --- streaming bodies are read and signed whole -------------------------------------------------------------


def test_requests_file_and_iterator_bodies_are_signed(capture: CaptureServer) -> None:
    auth = NotaryRequestsAuth(CLIENT.identity, CLIENT.secret)
    payload = b"x" * 70_000
    response = requests.post(capture.url + "/up", data=io.BytesIO(payload), auth=auth, timeout=10)
    assert response.status_code == 200
    assert capture.last.body == payload
    assert capture.last.verify() == CLIENT.identity

    def chunks() -> Iterator[bytes]:
        yield b"one,"
        yield b"two"

    response = requests.post(capture.url + "/up", data=chunks(), auth=auth, timeout=10)
    assert response.status_code == 200
    assert capture.last.body == b"one,two"
    assert "Transfer-Encoding" not in capture.last.headers
    assert capture.last.verify() == CLIENT.identity


def test_requests_text_body_is_signed_as_utf8(capture: CaptureServer) -> None:
    auth = NotaryRequestsAuth(CLIENT.identity, CLIENT.secret)
    response = requests.post(capture.url + "/t", data="na\u00efve \u2603", auth=auth, timeout=10)
    assert response.status_code == 200
    assert capture.last.body == "na\u00efve \u2603".encode()
    assert capture.last.verify() == CLIENT.identity


def test_httpx_sync_streaming_body_is_signed(capture: CaptureServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"streamed "
        yield b"body"

    auth = NotaryHttpxAuth(CLIENT.identity, CLIENT.secret)
    response = httpx.post(capture.url + "/up", content=chunks(), auth=auth, timeout=10)
    assert response.status_code == 200
    assert capture.last.body == b"streamed body"
    assert capture.last.verify() == CLIENT.identity


def test_httpx_async_client_is_signed(capture: CaptureServer) -> None:
    import asyncio

    async def go() -> int:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(
                capture.url + "/a?q=%20", json={"k": 1}, auth=NotaryHttpxAuth(CLIENT.identity, CLIENT.secret)
            )
            return response.status_code

    assert asyncio.run(go()) == 200
    assert capture.last.verify() == CLIENT.identity


def test_httpx_async_streaming_body_asks_to_be_read_first() -> None:
    async def chunks() -> Any:
        yield b"x"

    request = httpx.Request("POST", "http://example.com/", content=chunks())
    with pytest.raises(TypeError, match="aread"):
        NotaryHttpxAuth(CLIENT.identity, CLIENT.secret)(request)


# --- what is signed, without a server -----------------------------------------------------------------------

TURNSTILE = {  # shared-keys.md section 5's test vector, from Turnstile's own test suite
    "identity": "7bf9708aa51b7f7859d0e68b6b62b8ab",
    "secret": "6jzQ+NyqY7PwOFpipttvbp53baOI/bqGdn4DMc2ALN2v3+rcNYWz/T4r+jORJHBq",
    "authorization": "Rapid7-HMAC-V1-SHA256 "
    "N2JmOTcwOGFhNTFiN2Y3ODU5ZDBlNjhiNmI2MmI4YWI6R1JpbGM1eVhtN05PN2grWEYwS2hqaWZJZ3RFK2RKbis5VU9vdE1JRVlabz0=",
}


def test_requests_auth_reproduces_the_turnstile_vector() -> None:
    auth = NotaryRequestsAuth(TURNSTILE["identity"], TURNSTILE["secret"], clock=lambda: 1458793077.0)
    prepared = requests.Request("GET", "http://localhost/after/it", auth=auth).prepare()
    assert prepared.headers["Host"] == "localhost"
    assert prepared.headers["Date"] == "1458793077000"
    assert prepared.headers["Digest"] == EMPTY_BODY_DIGEST
    assert prepared.headers["Authorization"] == TURNSTILE["authorization"]


def test_httpx_auth_reproduces_the_turnstile_vector() -> None:
    auth = NotaryHttpxAuth(TURNSTILE["identity"], TURNSTILE["secret"], clock=lambda: 1458793077.0)
    request = auth(httpx.Request("GET", "http://localhost:80/after/it"))
    assert request.headers["Host"] == "localhost"
    assert request.headers["Date"] == "1458793077000"
    assert request.headers["Authorization"] == TURNSTILE["authorization"]


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://example.com/x", "example.com"),
        ("http://example.com:80/x", "example.com"),
        ("https://example.com:443/x", "example.com"),
        ("https://example.com:80/x", "example.com:80"),
        ("http://example.com:8080/x?y=1", "example.com:8080"),
        ("http://user:pw@example.com:8080/", "example.com:8080"),
        ("http://[::1]:8443/", "[::1]:8443"),
        ("https://[::1]/", "[::1]"),
    ],
)
def test_host_is_what_the_client_sends(url: str, host: str) -> None:
    assert host_from_url(url) == host
    assert httpx.Request("GET", url).headers["Host"] == host


def test_an_explicit_host_header_is_signed_as_given() -> None:
    auth = NotaryRequestsAuth(CLIENT.identity, CLIENT.secret)
    prepared = requests.Request(
        "GET", "http://127.0.0.1:9/x", headers={"Host": "svc.internal"}, auth=auth
    ).prepare()
    assert prepared.headers["Host"] == "svc.internal"


def test_date_is_integer_milliseconds_from_the_clock() -> None:
    auth = NotaryRequestsAuth(CLIENT.identity, CLIENT.secret, clock=lambda: 1700000000.1239)
    prepared = requests.Request("GET", "http://h/", auth=auth).prepare()
    assert prepared.headers["Date"] == "1700000000123"


# --- the secret stays secret --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [
        NotaryRequestsAuth(CLIENT.identity, CLIENT.secret),
        NotaryHttpxAuth(CLIENT.identity, CLIENT.secret),
        NotarySigner(CLIENT.identity, CLIENT.secret),
    ],
    ids=["requests", "httpx", "signer"],
)
def test_repr_never_shows_the_secret(auth: NotarySigner) -> None:
    assert CLIENT.secret not in repr(auth)
    assert CLIENT.secret not in str(auth)
    assert CLIENT.identity in repr(auth)
    assert "redacted" in repr(auth)


def test_bearer_token_auth_hides_the_token() -> None:
    auth = BearerTokenAuth("tok-123")
    assert "tok-123" not in repr(auth)
    assert requests.Request("GET", "http://h/", auth=auth).prepare().headers["Authorization"] == (
        "Bearer tok-123"
    )


@pytest.mark.parametrize("identity", ["", "a:b", "has space", "caf\u00e9"])
def test_a_bad_identity_is_refused_without_echoing_the_secret(identity: str) -> None:
    with pytest.raises(ValueError) as caught:
        NotaryRequestsAuth(identity, CLIENT.secret)
    assert CLIENT.secret not in str(caught.value)


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        NotaryHttpxAuth(CLIENT.identity, "")


def test_of_converts_a_signer_to_a_requests_auth(capture: CaptureServer) -> None:
    converted = NotaryRequestsAuth.of(NotaryHttpxAuth(CLIENT.identity, CLIENT.secret))
    assert isinstance(converted, NotaryRequestsAuth)
    assert requests.get(capture.url + "/c", auth=converted, timeout=10).status_code == 200
    same = NotaryRequestsAuth(CLIENT.identity, CLIENT.secret)
    assert NotaryRequestsAuth.of(same) is same
