"""Docker registry v2 bearer-token auth, as notary-server does it: accesses and scope strings
(``access``), the accesses each request needs (``access``), the trust bundle, its certificate chains and the
libtrust key id (``trust``), token verification (``tokens``) and the ``WWW-Authenticate`` challenge
(``challenge``). ``service`` is the optional token service that mints such tokens."""
