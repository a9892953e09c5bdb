"""``notary-publish``: the client side of bulk publishing (issue 5).

- ``layout``: read and check a directory of repositories (the Go client's ``<gun>/metadata/<role>.json``);
- ``payload``: the request body (JSON or tar) and the content-derived Idempotency-Key;
- ``server``: the HTTP calls, with retries, backoff and ``Retry-After``;
- ``follow``: poll a job until it finishes; ``outcome``: a job document and its exit code;
- ``display``: progress on stderr; ``summary``: the result on stdout;
- ``cli``: the command itself.

HTTP goes through ``requests`` (``notary`` may not import httpx: tests/unit/test_layering.py); the terminal
UI is ``rich``.
"""
