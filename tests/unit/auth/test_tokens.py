"""notary.auth.tokens and notary.auth.trust: every check of a token, and the attacks, each refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from notary.auth.access import Access, repository
from notary.auth.tokens import InvalidTokenError, Token, TokenPolicy, TokenVerifier, verify_token
from notary.auth.trust import TrustBundle, libtrust_key_id
from tests.support.certificates import certificate, ec_key, pem, resign
from tests.support.token_issuer import ISSUER, SERVICE, TokenIssuer, grants, x5c

GUN = "example.com/app"
PULL = grants(f"repository:{GUN}:pull")


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer()


@pytest.fixture(scope="module")
def policy(issuer: TokenIssuer) -> TokenPolicy:
    return TokenPolicy(ISSUER, SERVICE, TrustBundle.from_pem(issuer.bundle_pem()))


def verify(token: str, policy: TokenPolicy, now: float | None = None) -> Token:
    return verify_token(token, policy, time.time() if now is None else now)


def refused(token: str, policy: TokenPolicy, why: str, now: float | None = None) -> None:
    with pytest.raises(InvalidTokenError, match=why):
        verify(token, policy, now)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    parts = [json.dumps(header).encode(), json.dumps(claims).encode()]
    return ".".join([*(b64url(part) for part in parts), b64url(signature)])


# --- what a good token grants


def test_a_token_with_an_x5c_chain_grants_its_access(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    token = verify(issuer.mint(grants(f"repository:{GUN}:push,pull registry:catalog:*")), policy)
    assert token.subject == "alice"
    assert token.missing([*repository(GUN, "push", "pull"), Access("registry", "catalog", "*")]) == ()


def test_a_token_for_another_gun_lacks_the_scope(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    token = verify(issuer.mint(grants("repository:example.com/other:push,pull,*")), policy)
    assert token.missing(repository(GUN, "pull")) == repository(GUN, "pull")


def test_the_wildcard_action_grants_any_action(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    token = verify(issuer.mint(grants(f"repository:{GUN}:*")), policy)
    assert token.missing(repository(GUN, "push", "pull", "*")) == ()
    pull_only = verify(issuer.mint(PULL), policy)
    assert pull_only.missing(repository(GUN, "push", "pull", "*")) == repository(GUN, "push", "*")


def test_an_access_entry_of_a_resource_class_grants_nothing(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    token = verify(
        issuer.mint([{"type": "repository", "class": "plugin", "name": GUN, "actions": ["*"]}]), policy
    )
    assert token.missing(repository(GUN, "pull"))


@pytest.mark.parametrize(
    "access",
    [
        "pull",
        [{"type": "repository", "name": GUN}],
        [{"type": "repository", "name": GUN, "actions": "pull"}],
        ["x"],
    ],
)
def test_a_malformed_access_claim_is_invalid(issuer: TokenIssuer, policy: TokenPolicy, access: Any) -> None:
    refused(issuer.mint(access), policy, "access")


# --- where the signing key comes from


def test_a_chain_ending_at_a_bundle_certificate_is_trusted(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    with_root = issuer.mint(PULL, header={"x5c": [*issuer.chain(), *x5c(issuer.root)]})
    assert verify(with_root, policy).subject == "alice"


def test_a_chain_missing_its_intermediate_is_refused(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    refused(issuer.mint(PULL, header={"x5c": x5c(issuer.leaf)}), policy, "untrusted chain")


def test_a_self_signed_certificate_in_the_bundle_signs_directly() -> None:
    key = ec_key()
    self_signed = certificate("token signer", key)
    policy = TokenPolicy(ISSUER, SERVICE, TrustBundle.from_pem(pem(self_signed)))
    token = TokenIssuer().mint(PULL, key=key, header={"x5c": x5c(self_signed)})
    assert verify(token, policy).missing(repository(GUN, "pull")) == ()


def test_a_chain_to_a_foreign_ca_is_refused(policy: TokenPolicy) -> None:
    foreign = TokenIssuer()  # same subject names, other keys
    refused(foreign.mint(PULL), policy, "untrusted chain")
    refused(
        foreign.mint(PULL, header={"x5c": [*foreign.chain(), *x5c(foreign.root)]}), policy, "untrusted chain"
    )


def test_a_leaf_forged_under_the_real_intermediates_name_is_refused(
    issuer: TokenIssuer, policy: TokenPolicy
) -> None:
    forger = ec_key()
    fake_ca = certificate("test token intermediate CA", forger, (issuer.root, forger), ca=True)
    leaf_key = ec_key()
    leaf = certificate("test token signer", leaf_key, (fake_ca, forger))
    refused(issuer.mint(PULL, key=leaf_key, header={"x5c": x5c(leaf, fake_ca)}), policy, "untrusted chain")


def test_an_issuer_that_is_no_ca_is_refused(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    not_ca_key = ec_key()
    not_ca = certificate("not a CA", not_ca_key, (issuer.root, issuer.root_key), ca=False)
    leaf_key = ec_key()
    leaf = certificate("signer", leaf_key, (not_ca, not_ca_key))
    refused(issuer.mint(PULL, key=leaf_key, header={"x5c": x5c(leaf, not_ca)}), policy, "not a CA")


def test_a_path_length_constraint_is_enforced() -> None:
    root_key, middle_key, lower_key, leaf_key = ec_key(), ec_key(), ec_key(), ec_key()
    root = certificate("root", root_key, ca=True, path_length=0)
    middle = certificate("middle", middle_key, (root, root_key), ca=True)
    lower = certificate("lower", lower_key, (middle, middle_key), ca=True)
    leaf = certificate("leaf", leaf_key, (lower, lower_key))
    policy = TokenPolicy(ISSUER, SERVICE, TrustBundle.from_pem(pem(root)))
    refused(
        TokenIssuer().mint(PULL, key=leaf_key, header={"x5c": x5c(leaf, lower, middle)}),
        policy,
        "path length",
    )
    direct = certificate("leaf", leaf_key, (root, root_key))
    assert verify(TokenIssuer().mint(PULL, key=leaf_key, header={"x5c": x5c(direct)}), policy)


@pytest.mark.parametrize("which", ["leaf", "intermediate", "root"])
def test_every_certificate_must_be_valid_now(which: str) -> None:
    past = datetime.now(UTC) - timedelta(days=10)
    keys = {name: ec_key() for name in ("root", "intermediate", "leaf")}
    dates = {name: {} for name in keys}
    dates[which] = {"valid_from": past, "valid_until": past + timedelta(days=1)}
    root = certificate("root", keys["root"], ca=True, **dates["root"])
    intermediate = certificate(
        "inter", keys["intermediate"], (root, keys["root"]), ca=True, **dates["intermediate"]
    )
    leaf = certificate("leaf", keys["leaf"], (intermediate, keys["intermediate"]), **dates["leaf"])
    policy = TokenPolicy(ISSUER, SERVICE, TrustBundle.from_pem(pem(root)))
    refused(
        TokenIssuer().mint(PULL, key=keys["leaf"], header={"x5c": x5c(leaf, intermediate)}),
        policy,
        "not valid now",
    )


def test_a_sha1_signed_certificate_is_refused(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    rsa_ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_ca = certificate("rsa CA", rsa_ca_key, (issuer.root, issuer.root_key), ca=True)
    leaf_key = ec_key()
    leaf = certificate("signer", leaf_key, (rsa_ca, rsa_ca_key))
    sha1_leaf = resign(leaf, rsa_ca_key, "sha1_rsa")
    assert verify(issuer.mint(PULL, key=leaf_key, header={"x5c": x5c(leaf, rsa_ca)}), policy)
    refused(issuer.mint(PULL, key=leaf_key, header={"x5c": x5c(sha1_leaf, rsa_ca)}), policy, "SHA-1")


def test_kid_of_a_bundle_key_is_trusted_and_any_other_is_not() -> None:
    key = ec_key()
    policy = TokenPolicy(ISSUER, SERVICE, TrustBundle.from_pem(pem(certificate("kid signer", key))))
    minter = TokenIssuer()
    assert verify(minter.mint(PULL, key=key, header={"kid": libtrust_key_id(key.public_key())}), policy)
    other = ec_key()
    refused(minter.mint(PULL, key=other, header={"kid": libtrust_key_id(other.public_key())}), policy, "kid")
    # The right kid does not make another key's signature good.
    refused(
        minter.mint(PULL, key=other, header={"kid": libtrust_key_id(key.public_key())}), policy, "signature"
    )


def test_a_jwk_is_trusted_only_through_its_own_chain(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(issuer.signing_key.public_key()))
    assert verify(issuer.mint(PULL, header={"jwk": {**jwk, "x5c": issuer.chain()}}), policy)
    refused(issuer.mint(PULL, header={"jwk": jwk}), policy, "own x5c")
    stranger = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key().public_key()))
    refused(issuer.mint(PULL, header={"jwk": {**stranger, "x5c": issuer.chain()}}), policy, "not the key")


# --- the algorithm is pinned to the key


def test_alg_none_is_refused(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    claims = issuer.claims(PULL)
    header = {"alg": "none", "typ": "JWT", "x5c": issuer.chain()}
    refused(compact(header, claims, b""), policy, "compact")  # the unsigned form: nothing after the dot
    refused(compact(header, claims, b"x"), policy, "algorithm 'none'")
    refused(compact({"alg": "none"}, claims, b"x"), policy, "kid")


def test_hs256_signed_with_the_public_key_is_refused(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    header = {"alg": "HS256", "typ": "JWT", "x5c": issuer.chain()}
    claims = issuer.claims(PULL)
    secret = issuer.leaf.public_bytes(serialization.Encoding.PEM)
    signing_input = ".".join(b64url(json.dumps(part).encode()) for part in (header, claims))
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    refused(f"{signing_input}.{b64url(mac)}", policy, "algorithm 'HS256'")
    spki = issuer.signing_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    mac = hmac.new(spki, signing_input.encode(), hashlib.sha256).digest()
    refused(f"{signing_input}.{b64url(mac)}", policy, "algorithm 'HS256'")


def test_the_alg_must_match_the_curve(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    token = issuer.mint(PULL)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    relabelled = compact({**header, "alg": "ES384"}, issuer.claims(PULL), b"x" * 96)
    refused(relabelled, policy, "algorithm 'ES384'")
    p384 = ec_key(ec.SECP384R1())
    leaf = certificate("p384", p384, (issuer.intermediate, issuer.intermediate_key))
    chain = {"x5c": x5c(leaf, issuer.intermediate)}
    assert verify(issuer.mint(PULL, key=p384, algorithm="ES384", header=chain), policy)
    refused(compact({**chain, "alg": "ES256"}, issuer.claims(PULL), b"x" * 64), policy, "algorithm 'ES256'")


def test_rsa_keys_sign_with_rs_algorithms_only(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = certificate("rsa", rsa_key, (issuer.intermediate, issuer.intermediate_key))
    chain = {"x5c": x5c(leaf, issuer.intermediate)}
    for algorithm in ("RS256", "RS384", "RS512"):
        assert verify(issuer.mint(PULL, key=rsa_key, algorithm=algorithm, header=chain), policy)
    refused(issuer.mint(PULL, key=rsa_key, algorithm="PS256", header=chain), policy, "algorithm 'PS256'")


# --- the signature


def test_a_truncated_signature_is_refused(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    token = issuer.mint(PULL)
    signing_input, _, signature = token.rpartition(".")
    raw_signature = base64.urlsafe_b64decode(signature + "==")
    refused(f"{signing_input}.{b64url(raw_signature[:-8])}", policy, "signature")
    with pytest.raises(InvalidTokenError):
        verify(token[:-5], policy)
    refused(token.rsplit(".", 1)[0] + ".", policy, "compact")


def test_a_changed_payload_is_refused(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    header, _, signature = issuer.mint(PULL).split(".")
    payload = b64url(json.dumps(issuer.claims(grants(f"repository:{GUN}:*"))).encode())
    refused(f"{header}.{payload}.{signature}", policy, "signature")


@pytest.mark.parametrize("garbage", ["", "a.b", "a.b.c.d", "a.b.c d", "a.b.c=", "é.b.c"])
def test_malformed_tokens_are_refused(policy: TokenPolicy, garbage: str) -> None:
    with pytest.raises(InvalidTokenError):
        verify(garbage, policy)


def test_an_oversized_token_is_refused_before_parsing(policy: TokenPolicy) -> None:
    refused("a" * 20_000 + ".b.c", policy, "compact")


# --- the claims


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"aud": "another-service"}, "audience"),
        ({"aud": [SERVICE]}, "audience"),
        ({"aud": None}, "audience"),
        ({"iss": "someone-else"}, "issuer"),
        ({"iss": None}, "issuer"),
        ({"exp": None}, "exp"),
        ({"exp": "tomorrow"}, "exp"),
        ({"exp": True}, "exp"),
    ],
)
def test_bad_claims_are_refused(
    issuer: TokenIssuer, policy: TokenPolicy, claims: dict[str, Any], why: str
) -> None:
    refused(issuer.mint(PULL, **claims), policy, why)


def test_expiry_has_sixty_seconds_of_leeway(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    now = time.time()
    assert verify(issuer.mint(PULL, exp=int(now) - 30), policy, now)
    refused(issuer.mint(PULL, exp=int(now) - 61), policy, "expired", now)
    refused(issuer.mint(PULL, exp=int(now) - 3600), policy, "expired", now)


def test_not_before_has_sixty_seconds_of_leeway(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    now = time.time()
    assert verify(issuer.mint(PULL, nbf=int(now) + 30), policy, now)
    refused(issuer.mint(PULL, nbf=int(now) + 61), policy, "not valid yet", now)


# --- the per-process cache


def test_the_cache_keeps_a_token_until_it_expires(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    now = [time.time()]
    verifier = TokenVerifier(policy, clock=lambda: now[0])
    raw = issuer.mint(PULL, exp=int(now[0]) + 100)
    first = verifier.verify(raw)
    assert verifier.verify(raw) is first  # served from the cache
    now[0] += 100 + 60 + 1
    with pytest.raises(InvalidTokenError, match="expired"):
        verifier.verify(raw)


def test_the_cache_is_bounded(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    verifier = TokenVerifier(policy, max_cached=2)
    tokens = [issuer.mint(PULL) for _ in range(3)]
    first = [verifier.verify(raw) for raw in tokens]
    assert len(verifier._cache) == 2
    assert verifier.verify(tokens[2]) is first[2]
    assert verifier.verify(tokens[0]) is not first[0]  # forgotten, so verified again


def test_refused_tokens_are_not_cached(issuer: TokenIssuer, policy: TokenPolicy) -> None:
    verifier = TokenVerifier(policy)
    with pytest.raises(InvalidTokenError):
        verifier.verify(issuer.mint(PULL, aud="other"))
    assert len(verifier._cache) == 0


def test_a_bundle_without_certificates_is_refused() -> None:
    with pytest.raises(ValueError):
        TrustBundle.from_pem(b"not a certificate\n")
