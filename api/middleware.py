"""Request id, JSON access log and Prometheus HTTP metrics, for every request."""

from __future__ import annotations

import logging
import re
import secrets
import time

import falcon.asgi
from prometheus_client import Counter, Histogram

from notary import logs

log = logging.getLogger("notary.access")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

REQUESTS = Counter(
    "notary_http_requests_total",
    "HTTP requests by route template, method and status",
    ["route", "method", "code"],
)
LATENCY = Histogram(
    "notary_http_request_duration_seconds",
    "HTTP request latency by route template and method",
    ["route", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


# The children for each (route, method, code) seen: ``labels()`` validates and locks on every call, which
# costs the hot path more than the increment itself. As many entries as the metrics have label sets.
_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def _metrics_for(route: str, method: str, code: int) -> tuple[Counter, Histogram]:
    key = (route, method, code)
    children = _children.get(key)
    if children is None:
        children = (
            REQUESTS.labels(route=route, method=method, code=str(code)),
            LATENCY.labels(route=route, method=method),
        )
        _children[key] = children
    return children


def route_label(req: falcon.asgi.Request) -> str:
    """The route template, never the raw path: paths carry GUNs and ids, which would explode the label set."""
    template = getattr(req.context, "route_template", None) or req.uri_template
    return template or "unmatched"


def request_id_for(incoming: str | None) -> str:
    """The client's X-Request-ID if it is a sane one, else a fresh id; the id of this request's logs."""
    request_id = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else secrets.token_hex(16)
    logs.request_id.set(request_id)
    return request_id


def record_response(route: str, method: str, code: int, elapsed: float) -> None:
    """Count and time a response, log it, and end its request's log id."""
    requests, latency = _metrics_for(route, method, code)
    requests.inc()
    latency.observe(elapsed)
    if log.isEnabledFor(logging.INFO):
        log.info(
            "response completed",
            extra={"method": method, "route": route, "status": code, "duration_ms": round(elapsed * 1000, 3)},
        )
    logs.request_id.set(None)


class RequestContext:
    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        request_id = request_id_for(req.get_header("X-Request-ID"))
        req.context.request_id = request_id
        req.context.started = time.perf_counter()
        resp.set_header("X-Request-ID", request_id)

    async def process_response(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, resource: object, req_succeeded: bool
    ) -> None:
        elapsed = time.perf_counter() - getattr(req.context, "started", time.perf_counter())
        record_response(route_label(req), req.method, resp.status_code, elapsed)
