"""The built-in token service, for development and small deployments: it mints the Docker registry v2
bearer tokens that the rest of ``notary.auth`` verifies, for the scopes of ``notary.auth.access``.

- ``grants``: the grants file, which maps users to scope patterns with ``*`` globs, and the intersection of
  a request with a user's grants;
- ``users``: the htpasswd users file (bcrypt only) and constant-time password checks;
- ``minting``: signing tokens with a PEM key and its certificate chain (``x5c``);
- ``token_service``: the pieces above loaded from the settings, for ``GET /auth/token``;
- ``dev_cert``: a self-signed signing certificate for development;
- ``cli``: the ``notary-token`` command.
"""
