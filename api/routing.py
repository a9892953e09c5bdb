"""The ``/v2`` route table of notary-server.

Falcon's router cannot express notary's routes: a GUN may contain ``/`` and sits in the middle of the path.
So ``/v2`` is one sink that matches the (URL-decoded) path against these patterns in order, as gorilla/mux
does, after cleaning it (``//`` and ``..`` are answered with a 301 to the clean path, like notary).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

GUN = r"(?P<gun>[^*]+)"
ROLE = r"(?P<role>root|snapshot|timestamp|targets(?:/[^\s]+)?)"
TUF = "/_trust/tuf/"


@dataclass(frozen=True)
class Route:
    name: str  # notary's operation name, also the metrics label
    template: str
    pattern: re.Pattern[str]


def _route(name: str, template: str, regex: str) -> Route:
    return Route(name, template, re.compile(regex))


# Order matters: the checksum and version forms must be tried before the plain ``{role}.json``.
ROUTES: tuple[Route, ...] = (
    _route("Ping", "/v2/", r"^/v2/$"),
    _route("GlobalChangefeed", "/v2/_trust/changefeed", r"^/v2/_trust/changefeed$"),
    _route("UpdateTUF", "/v2/{gun}/_trust/tuf/", rf"^/v2/{GUN}{TUF}$"),
    _route(
        "GetKey", "/v2/{gun}/_trust/tuf/{role}.key", rf"^/v2/{GUN}{TUF}(?P<role>snapshot|timestamp)\.key$"
    ),
    _route(
        "GetRoleByHash",
        "/v2/{gun}/_trust/tuf/{role}.{checksum}.json",
        rf"^/v2/{GUN}{TUF}{ROLE}\.(?P<checksum>[a-fA-F0-9]{{64}}|[a-fA-F0-9]{{96}}|[a-fA-F0-9]{{128}})\.json$",
    ),
    _route(
        "GetRoleByVersion",
        "/v2/{gun}/_trust/tuf/{version}.{role}.json",
        rf"^/v2/{GUN}{TUF}(?P<version>[1-9]*[0-9]+)\.{ROLE}\.json$",
    ),
    _route("GetRole", "/v2/{gun}/_trust/tuf/{role}.json", rf"^/v2/{GUN}{TUF}{ROLE}\.json$"),
    _route("Changefeed", "/v2/{gun}/_trust/changefeed", rf"^/v2/{GUN}/_trust/changefeed$"),
)
NOT_FOUND = Route("NotFound", "/v2/*", re.compile(""))


# A GUN is at most 255 characters and a role name under 256, so no valid path comes near this; the cap also
# bounds the regular expressions' backtracking, which grows with the square of the path length.
MAX_PATH_LENGTH = 2048


def match(path: str) -> tuple[Route, dict[str, str]]:
    if len(path) > MAX_PATH_LENGTH:
        return NOT_FOUND, {}
    for route in ROUTES:
        found = route.pattern.match(path)
        if found:
            return route, found.groupdict()
    # Like gorilla/mux's catch-all, a GUN-shaped path still names its GUN (for prefix checks and auth).
    gun = re.match(rf"^/v2/{GUN}/_trust/", path)
    return NOT_FOUND, ({"gun": gun["gun"]} if gun else {})


def clean_path(path: str) -> str:
    """Go's path.Clean, keeping a trailing slash as gorilla/mux does."""
    if not path:
        return "/"
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned
