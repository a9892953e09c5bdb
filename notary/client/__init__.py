"""What users of the shared-key scheme import (shared-keys.md section 8).

- ``notary.client.auth``: sign outgoing requests (``Rapid7-HMAC-V1-SHA256``, section 5) from ``requests``
  (``NotaryRequestsAuth``) or ``httpx`` (``NotaryHttpxAuth``).
- ``notary.client.verifier``: ask Notary's ``POST /v1/verify`` whether a received request is signed
  (section 6).
- ``notary.client.middleware``: WSGI and Falcon middleware that verify every incoming request through Notary,
  with the digest checked locally against the body.
- ``notary.client.cli``: ``notary-sign``, sign and send one request (like Turnstile's ``turnt``).
- ``notary.client.publish``: ``notary-publish``, publish a directory of repositories as one bulk job and
  follow it (or any job) with a progress display.

The signature itself is ``notary.keys.signature``; nothing here re-implements it. Layering: ``notary`` may not
import httpx or falcon (tests/unit/test_layering.py), so the httpx auth and the Falcon middleware follow those
libraries' documented duck-typed hooks (an httpx ``auth`` callable, a Falcon middleware object) without
importing them; HTTP calls made from here go through ``requests``.
"""
