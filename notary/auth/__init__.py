"""Docker registry v2 bearer-token auth, as notary-server does it: accesses and scope strings
(``access``), the accesses each request needs (``access``), the trust bundle and its certificate chains
(``trust``), token verification (``tokens``) and the ``WWW-Authenticate`` challenge (``challenge``)."""
