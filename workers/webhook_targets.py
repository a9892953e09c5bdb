"""Where a webhook may be delivered: by default never to loopback, private, link-local (cloud metadata),
multicast or reserved addresses, so that a callback_url cannot make our workers reach internal services.
``webhooks.allow_private_targets`` lifts that for deployments (and tests) whose receivers are internal."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit


class RefusedTarget(Exception):
    """The URL resolves to an address webhooks may not reach; carries no secret."""


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def resolve(url: str, allow_private: bool) -> tuple[str, dict[str, str]]:
    """The URL to connect to and extra headers. Plain http is pinned to the checked address (so DNS cannot
    change between check and connect); https keeps the name, which certificate verification then binds."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise RefusedTarget(f"cannot resolve {host}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not allow_private and not all(_public(address) for address in addresses):
        raise RefusedTarget(f"{host} resolves to a private, loopback or reserved address")
    if parts.scheme != "http":
        return url, {}
    pinned = addresses[0]
    literal = f"[{pinned}]" if pinned.version == 6 else str(pinned)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    return urlunsplit(parts._replace(netloc=netloc)), {"Host": parts.netloc.rsplit("@", 1)[-1]}


def loggable(url: str) -> str:
    """The URL without its query and fragment, which may carry tokens."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
