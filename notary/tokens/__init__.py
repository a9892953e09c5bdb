"""A token service for development and small deployments: Docker registry v2 bearer tokens, for the scopes
of ``notary.auth.access``.

- ``grants``: the grants file, which maps users to scope patterns with ``*`` globs, and the intersection of
  a request with a user's grants;
- ``users``: the htpasswd users file (bcrypt only) and constant-time password checks;
- ``minting``: signing tokens with a PEM key and its certificate chain (``x5c``);
- ``service``: the pieces above loaded from the settings, for ``GET /auth/token``;
- ``dev_cert``: a self-signed signing certificate for development;
- ``cli``: the ``notary-token`` command.
"""
