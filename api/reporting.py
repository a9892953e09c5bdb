"""The optional Bugsnag hook (``reporting.bugsnag``): unexpected errors only, with the request id and route
but no headers, query string or body, so nothing secret can reach it."""

from __future__ import annotations

import logging
from collections.abc import Callable

import falcon.asgi

from notary.settings import Settings

log = logging.getLogger("notary.reporting")
Reporter = Callable[[BaseException, falcon.asgi.Request], None]


def _ignore(error: BaseException, req: falcon.asgi.Request) -> None:
    return None


def make_reporter(settings: Settings) -> Reporter:
    api_key = settings["reporting.bugsnag.api_key"]
    if not api_key:
        return _ignore
    import bugsnag

    options = {
        "api_key": api_key,
        "release_stage": settings["reporting.bugsnag.release_stage"] or "production",
        "send_environment": False,
        "auto_capture_sessions": False,
    }
    endpoint = settings["reporting.bugsnag.endpoint"]
    if endpoint:
        options["endpoint"] = endpoint
    client = bugsnag.Client(**options)

    def report(error: BaseException, req: falcon.asgi.Request) -> None:
        try:
            client.notify(
                error,
                context=f"{req.method} {getattr(req.context, 'route_template', None) or req.uri_template}",
                metadata={
                    "request": {"request_id": getattr(req.context, "request_id", None), "method": req.method}
                },
            )
        except Exception:
            log.warning("could not report the error to Bugsnag")

    return report
