"""Which addresses webhooks may reach (IP literals, so no resolver is involved)."""

from __future__ import annotations

import pytest

from workers.webhook_targets import RefusedTarget, loggable, resolve


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "https://172.16.0.1/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_internal_addresses_are_refused(url: str) -> None:
    with pytest.raises(RefusedTarget):
        resolve(url, allow_private=False)


def test_public_http_is_pinned_to_the_checked_address() -> None:
    assert resolve("http://93.184.216.34:8080/hook?x=1", allow_private=False) == (
        "http://93.184.216.34:8080/hook?x=1",
        {"Host": "93.184.216.34:8080"},
    )


def test_internal_addresses_are_allowed_when_configured() -> None:
    assert resolve("http://127.0.0.1:9/h", allow_private=True)[0] == "http://127.0.0.1:9/h"


def test_https_keeps_the_name_for_certificate_checks() -> None:
    assert resolve("https://93.184.216.34/hook", allow_private=False) == ("https://93.184.216.34/hook", {})


def test_logged_urls_lose_their_query() -> None:
    assert loggable("https://hooks.example/a/b?token=secret#frag") == "https://hooks.example/a/b"
