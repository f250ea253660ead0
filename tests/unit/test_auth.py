"""Token verification and credentials (API.md, Who may call)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from saas_core.access import ANONYMOUS, Access, Principal, Role, authorize
from saas_core.auth import authenticate, verify_token
from saas_core.errors import Forbidden, Unauthorized
from saas_core.settings import Settings

ISSUER = "https://idp.example.com/realms/test"
AUDIENCE = "billing-api"
SECRET = "a-long-enough-shared-secret-for-hs256!"


def hs_settings(**overrides: Any) -> Settings:
    return Settings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwt_secret=SECRET, admin_api_key="k3y",
                    **overrides)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "user-1", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, **overrides}


def hs_token(**overrides: Any) -> str:
    return jwt.encode(claims(**overrides), SECRET, algorithm="HS256")


def test_a_valid_hs256_token_names_its_subject() -> None:
    token = hs_token(email="a@b.co", email_verified=True)
    principal = authenticate({"Authorization": f"Bearer {token}"}, None, hs_settings())
    assert principal.subject == "user-1"
    assert principal.identity_email == "a@b.co"
    assert not principal.is_admin


@pytest.mark.parametrize("admin_claims", [
    {"role": "admin"}, {"role": "system_admin"}, {"is_admin": True}, {"is_superuser": True},
    {"groups": ["staff", "admin"]}, {"roles": ["system_admin"]}, {"cognito:groups": ["admin"]},
    {"realm_access": {"roles": ["offline_access", "admin"]}},
])
def test_every_admin_claim_of_the_seeds_makes_an_admin(admin_claims: dict[str, Any]) -> None:
    assert authenticate({"authorization": f"Bearer {hs_token(**admin_claims)}"}, None, hs_settings()).is_admin


@pytest.mark.parametrize("not_admin", [{"role": "member"}, {"is_admin": "true"}, {"groups": "admin"}, {}])
def test_lookalike_claims_do_not_make_an_admin(not_admin: dict[str, Any]) -> None:
    assert not authenticate({"Authorization": f"Bearer {hs_token(**not_admin)}"}, None, hs_settings()).is_admin


@pytest.mark.parametrize(("token", "message"), [
    (lambda: hs_token(exp=int(time.time()) - 120), "expired"),
    (lambda: hs_token(iss="https://evil.example.com"), "issuer"),
    (lambda: hs_token(aud="another-api"), "audience"),
    (lambda: jwt.encode(claims(), "some-other-secret-of-enough-length", algorithm="HS256"), "signature"),
    (lambda: jwt.encode({k: v for k, v in claims().items() if k != "sub"}, SECRET, algorithm="HS256"), "'sub'"),
    (lambda: jwt.encode({k: v for k, v in claims().items() if k != "exp"}, SECRET, algorithm="HS256"), "'exp'"),
    (lambda: jwt.encode({k: v for k, v in claims().items() if k != "iat"}, SECRET, algorithm="HS256"), "'iat'"),
    (lambda: jwt.encode(claims(), "", algorithm="none"), "not accepted"),
    (lambda: "not.a.jwt", "Malformed"),
])
def test_bad_tokens_are_refused_with_a_reason(token: Any, message: str) -> None:
    with pytest.raises(Unauthorized, match=message):
        verify_token(token(), hs_settings())


def test_a_few_seconds_of_clock_skew_are_tolerated() -> None:
    assert verify_token(hs_token(exp=int(time.time()) - 5), hs_settings())["sub"] == "user-1"


def test_tokens_are_refused_when_no_issuer_is_configured() -> None:
    with pytest.raises(Unauthorized, match="not accepted"):
        verify_token(hs_token(), Settings(jwt_secret=SECRET))


def test_the_admin_key_is_refused_in_the_query_string() -> None:
    with pytest.raises(Unauthorized, match="X-Api-Key header"):
        authenticate({}, {"x-api-key": "k3y"}, hs_settings())


def test_the_admin_key_header_is_compared_exactly() -> None:
    assert authenticate({"X-API-KEY": "k3y"}, None, hs_settings()).is_admin
    with pytest.raises(Unauthorized, match="Invalid API key"):
        authenticate({"x-api-key": "k3y "}, None, hs_settings())


def test_no_admin_key_configured_refuses_every_key() -> None:
    with pytest.raises(Unauthorized):
        authenticate({"x-api-key": ""}, None, Settings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE))


def test_no_credentials_is_anonymous_and_anonymous_is_refused_off_public_routes() -> None:
    assert authenticate({}, None, hs_settings()) is ANONYMOUS
    assert authorize(Access.PUBLIC, ANONYMOUS, None, lambda *_: None) is ANONYMOUS
    with pytest.raises(Unauthorized):
        authorize(Access.MEMBER, ANONYMOUS, "tnt_x", lambda *_: Role.OWNER)


def test_owners_members_and_strangers() -> None:
    user = Principal(subject="u", is_admin=False)
    assert authorize(Access.OWNER, user, "tnt_x", lambda *_: Role.OWNER) is user
    assert authorize(Access.MEMBER, user, "tnt_x", lambda *_: Role.MEMBER) is user
    with pytest.raises(Forbidden, match="owner"):
        authorize(Access.OWNER, user, "tnt_x", lambda *_: Role.MEMBER)
    with pytest.raises(Forbidden, match="not a member"):
        authorize(Access.MEMBER, user, "tnt_x", lambda *_: None)
    with pytest.raises(Forbidden, match="Admin"):
        authorize(Access.ADMIN, user, None, lambda *_: Role.OWNER)


@pytest.mark.parametrize("verified", [False, "false", "False", 0, 1, "True", "yes", None, ["true"], {"v": True}])
def test_only_json_true_or_the_string_true_vouch_for_an_email(verified: Any) -> None:
    token = hs_token(email="a@b.co", email_verified=verified)
    assert authenticate({"Authorization": f"Bearer {token}"}, None, hs_settings()).identity_email is None


def test_an_absent_email_verified_speaks_for_nobody() -> None:
    principal = authenticate({"Authorization": f"Bearer {hs_token(email='a@b.co')}"}, None, hs_settings())
    assert principal.identity_email is None


@pytest.mark.parametrize("verified", [True, "true"])
def test_a_verified_email_speaks_for_its_member(verified: Any) -> None:
    token = hs_token(email="A@B.co", email_verified=verified)
    assert authenticate({"Authorization": f"Bearer {token}"}, None, hs_settings()).identity_email == "a@b.co"


# Every JSON type a misconfigured identity provider could put in a claim.
_ODD_VALUES = [["admin"], {"admin": True}, 1, 1.5, True, None, "", ["admin", 1, None, {"x": 1}], [["admin"]],
               {"roles": "admin"}, 10**40]
_CLAIM_NAMES = ["role", "is_admin", "is_superuser", "groups", "roles", "cognito:groups", "realm_access", "email",
                "email_verified"]


@pytest.mark.parametrize("name", _CLAIM_NAMES)
@pytest.mark.parametrize("value", _ODD_VALUES, ids=repr)
def test_no_claim_of_any_type_crashes_authentication(name: str, value: Any) -> None:
    principal = authenticate({"Authorization": f"Bearer {hs_token(**{name: value})}"}, None, hs_settings())
    assert principal.subject == "user-1"
    assert principal.identity_email is None or isinstance(principal.identity_email, str)


def test_a_role_that_is_a_list_grants_nothing() -> None:
    principal = authenticate({"Authorization": f"Bearer {hs_token(role=['admin'])}"}, None, hs_settings())
    assert principal.is_admin is False


@pytest.mark.parametrize("header", [{"kid": 7}, {"kid": ["k1"]}, {"crit": ["exp"]}, {"crit": "b64"},
                                    {"alg": ["HS256"]}], ids=repr)
def test_odd_token_headers_are_refused_not_crashed_on(header: dict[str, Any]) -> None:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', **header}).encode())}." \
                    f"{b64(json.dumps(claims()).encode())}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(Unauthorized):
        authenticate({"Authorization": f"Bearer {signing_input}.{b64(signature)}"}, None, hs_settings())


@pytest.mark.parametrize("claim", [{"exp": 1e400}, {"exp": "soon"}, {"iat": [1]}, {"nbf": {"x": 1}},
                                   {"aud": 5}, {"iss": ["x"]}, {"sub": 12}], ids=repr)
def test_claims_pyjwt_cannot_compare_are_a_401(claim: dict[str, Any]) -> None:
    payload = json.dumps(claims(**claim)).replace("Infinity", "1e400")
    token = jwt.api_jws.encode(payload.encode(), SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized):
        authenticate({"Authorization": f"Bearer {token}"}, None, hs_settings())


def test_a_bad_token_next_to_a_good_admin_key_is_refused() -> None:
    with pytest.raises(Unauthorized):
        authenticate({"Authorization": "Bearer not-a-jwt", "X-Api-Key": "k3y"}, None, hs_settings())


def test_a_good_token_next_to_a_bad_admin_key_is_refused() -> None:
    with pytest.raises(Unauthorized, match="API key"):
        authenticate({"Authorization": f"Bearer {hs_token()}", "X-Api-Key": "wrong"}, None, hs_settings())


def test_a_good_token_and_a_good_key_together_are_the_admin_key() -> None:
    principal = authenticate({"Authorization": f"Bearer {hs_token()}", "X-Api-Key": "k3y"}, None, hs_settings())
    assert principal.is_admin
    assert principal.via == "api_key"


# ------------------------------------------------------------------ JWKS


class JwksServer:
    """A tiny identity provider serving a JWKS document, counting fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self.failures_left = 0  # answer this many fetches with a 503 first
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                if server.failures_left:
                    server.failures_left -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps({"keys": server.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def publish(self, public_jwk: dict[str, Any]) -> None:
        self.keys.append(public_jwk)


@pytest.fixture
def idp() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.httpd.shutdown()


def rsa_key(kid: str) -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**public, "kid": kid, "alg": "RS256", "use": "sig"}


def jwks_settings(url: str, cooldown: int = 300) -> Settings:
    return Settings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwks_url=url, jwks_refetch_cooldown_seconds=cooldown)


def test_rs256_tokens_verify_against_the_jwks(idp: JwksServer) -> None:
    private, public = rsa_key("k1")
    idp.publish(public)
    token = jwt.encode(claims(), private, algorithm="RS256", headers={"kid": "k1"})
    assert verify_token(token, jwks_settings(idp.url))["sub"] == "user-1"


def test_es256_tokens_verify_against_the_jwks(idp: JwksServer) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    idp.publish({**json.loads(ECAlgorithm.to_jwk(private.public_key())), "kid": "ec1", "alg": "ES256"})
    token = jwt.encode(claims(), private, algorithm="ES256", headers={"kid": "ec1"})
    assert verify_token(token, jwks_settings(idp.url))["sub"] == "user-1"


def test_an_hs256_token_is_refused_when_only_jwks_is_configured(idp: JwksServer) -> None:
    _, public = rsa_key("k1")
    idp.publish(public)
    # The classic confusion attack: HMAC-sign with the public key as the secret.
    # PyJWT refuses to build such a token, so it is assembled by hand.
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims()).encode())}"
    signature = hmac.new(json.dumps(public).encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(signature)}"
    with pytest.raises(Unauthorized, match="HS256"):
        verify_token(forged, jwks_settings(idp.url))


def test_unknown_kids_refetch_at_most_once_per_cooldown(idp: JwksServer) -> None:
    private, public = rsa_key("k1")
    idp.publish(public)
    settings = jwks_settings(idp.url, cooldown=3600)
    verify_token(jwt.encode(claims(), private, algorithm="RS256", headers={"kid": "k1"}), settings)
    assert idp.fetches == 1
    for attempt in range(5):
        with pytest.raises(Unauthorized, match="unknown key"):
            verify_token(jwt.encode(claims(), private, algorithm="RS256", headers={"kid": f"made-up-{attempt}"}),
                         settings)
    assert idp.fetches == 1, "a flood of unknown kids must not refetch the JWKS each time"


def test_a_rotated_key_is_picked_up_once_the_cooldown_has_passed(idp: JwksServer) -> None:
    old_private, old_public = rsa_key("old")
    idp.publish(old_public)
    settings = jwks_settings(idp.url, cooldown=1)
    verify_token(jwt.encode(claims(), old_private, algorithm="RS256", headers={"kid": "old"}), settings)
    new_private, new_public = rsa_key("new")
    idp.publish(new_public)
    time.sleep(1.05)
    token = jwt.encode(claims(), new_private, algorithm="RS256", headers={"kid": "new"})
    assert verify_token(token, settings)["sub"] == "user-1"
    assert idp.fetches == 2


def test_a_failed_jwks_fetch_does_not_start_the_cooldown(idp: JwksServer) -> None:
    private, public = rsa_key("k1")
    idp.publish(public)
    idp.failures_left = 1  # the identity provider hiccups at cold start
    settings = jwks_settings(idp.url, cooldown=3600)
    token = jwt.encode(claims(), private, algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(Unauthorized):
        verify_token(token, settings)
    assert verify_token(token, settings)["sub"] == "user-1", "the next token must fetch again at once"
    assert idp.fetches == 2


def test_a_key_cannot_sign_with_another_algorithm(idp: JwksServer) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    idp.publish({**json.loads(ECAlgorithm.to_jwk(private.public_key())), "kid": "ec1", "alg": "ES256"})
    rsa_private, _ = rsa_key("unused")
    token = jwt.encode(claims(), rsa_private, algorithm="RS256", headers={"kid": "ec1"})
    with pytest.raises(Unauthorized):
        verify_token(token, jwks_settings(idp.url))
