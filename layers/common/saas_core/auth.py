"""Who is calling, and may they call this route (API.md, "Who may call").

Credentials:
- `Authorization: Bearer <JWT>`: RS256/ES256 verified against the JWKS URL,
  or HS256 with a shared secret (local use); exact issuer and audience;
  `exp`, `iat` and `sub` required; a small leeway for clock skew.
- `X-Api-Key: <admin key>`: the seed-000 secret, compared in constant time.
  Never accepted from the query string, which lands in access logs.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import urllib.request
from collections.abc import Mapping
from typing import Any

import jwt

from saas_core import secrets
from saas_core.access import ANONYMOUS, Principal
from saas_core.errors import Unauthorized
from saas_core.settings import Settings, get_settings

ADMIN_ROLES = frozenset({"admin", "system_admin"})
ADMIN_GROUP_CLAIMS = ("groups", "roles", "cognito:groups")
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
SYMMETRIC_ALGORITHMS = ("HS256",)
REQUIRED_CLAIMS = ["exp", "iat", "sub"]
API_KEY_HEADER = "x-api-key"
API_KEY_QUERY_NAMES = frozenset({"x-api-key", "api_key", "apikey", "api-key", "admin_key", "lepton_api_secret"})
JWKS_FETCH_TIMEOUT_SECONDS = 3


# --------------------------------------------------------------------- JWKS


class JwksKeyStore:
    """Signing keys of one JWKS URL, kept across invocations.

    An unknown `kid` triggers a refetch (keys rotate), but at most once per
    cooldown, so a flood of tokens with made-up kids cannot hammer the
    identity provider or slow every request down.
    """

    def __init__(self, url: str, cooldown_seconds: float) -> None:
        self.url = url
        self.cooldown_seconds = cooldown_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        self.fetch_count = 0

    def key_for(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            if kid not in self._keys and self._may_refetch():
                self._refetch()
            key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("Token signed with an unknown key")
        return key

    def _may_refetch(self) -> bool:
        return self._fetched_at is None or time.monotonic() - self._fetched_at >= self.cooldown_seconds

    def _refetch(self) -> None:
        self.fetch_count += 1
        try:
            with urllib.request.urlopen(self.url, timeout=JWKS_FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 - URL from configuration
                document = json.loads(response.read())
            key_set = jwt.PyJWKSet.from_dict(document)
        except (OSError, ValueError, jwt.PyJWKSetError):
            # Keep the keys we had: a flaky IdP must not log everyone out. And a
            # failed fetch starts no cooldown: the next token tries again, else
            # an IdP hiccup at cold start would refuse every token for minutes.
            return
        self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
        self._fetched_at = time.monotonic()


_key_stores: dict[str, JwksKeyStore] = {}


def key_store(settings: Settings) -> JwksKeyStore:
    store = _key_stores.get(settings.jwks_url)
    if store is None:
        store = JwksKeyStore(settings.jwks_url, settings.jwks_refetch_cooldown_seconds)
        _key_stores[settings.jwks_url] = store
    return store


# -------------------------------------------------------------- verification


def verify_token(token: str, settings: Settings) -> dict[str, Any]:
    """The token's claims, or Unauthorized saying what is wrong with it."""
    if not settings.jwt_issuer or not settings.jwt_audience:
        raise Unauthorized("Bearer tokens are not accepted: no issuer and audience are configured")
    try:
        # PyJWT also checks the header here: a non-string `kid`, an unknown `crit`.
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthorized("Malformed bearer token") from None
    algorithm = header.get("alg")
    key = _verification_key(algorithm, header.get("kid"), settings)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[str(algorithm)],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            options={"require": REQUIRED_CLAIMS, "strict_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Token has expired") from None
    except jwt.InvalidAudienceError:
        raise Unauthorized("Token audience is not accepted") from None
    except jwt.InvalidIssuerError:
        raise Unauthorized("Token issuer is not accepted") from None
    except jwt.MissingRequiredClaimError as missing:
        raise Unauthorized(f"Token is missing the '{missing.claim}' claim") from None
    except jwt.InvalidSignatureError:
        raise Unauthorized("Token signature is invalid") from None
    except jwt.PyJWTError:
        raise Unauthorized("Invalid bearer token") from None
    except (ValueError, TypeError, OverflowError):
        # Claims PyJWT cannot even compare (an `exp` of 1e400, say): as invalid as any other.
        raise Unauthorized("Invalid bearer token") from None
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise Unauthorized("Token subject must be a non-empty string")
    return claims


def _verification_key(algorithm: object, kid: object, settings: Settings) -> Any:
    # The allow-list depends on what is configured: an HS256 token is refused
    # when only JWKS is set up (the classic public-key-as-HMAC-secret attack),
    # and `none` is never on it.
    if algorithm in SYMMETRIC_ALGORITHMS and settings.jwt_secret:
        return settings.jwt_secret
    if algorithm in ASYMMETRIC_ALGORITHMS and settings.jwks_url:
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("Token header has no 'kid'")
        jwk = key_store(settings).key_for(kid)
        if jwk.algorithm_name != algorithm:
            raise Unauthorized("Token algorithm does not match its signing key")
        return jwk.key
    raise Unauthorized(f"Token algorithm '{algorithm}' is not accepted")


# Claims come from whoever configured the identity provider: each is read
# only when it has the expected type. Anything else grants nothing, and
# never raises.

def _is_admin_group_list(groups: object) -> bool:
    return isinstance(groups, list) and any(isinstance(group, str) and group in ADMIN_ROLES for group in groups)


def has_admin_claim(claims: Mapping[str, Any]) -> bool:
    role = claims.get("role")
    if isinstance(role, str) and role in ADMIN_ROLES:
        return True
    if claims.get("is_admin") is True or claims.get("is_superuser") is True:
        return True
    group_lists = [claims.get(name) for name in ADMIN_GROUP_CLAIMS]
    realm_access = claims.get("realm_access")
    if isinstance(realm_access, Mapping):
        group_lists.append(realm_access.get("roles"))
    return any(_is_admin_group_list(groups) for groups in group_lists)


def email_is_verified(claims: Mapping[str, Any]) -> bool:
    """Only JSON true or the string "true" (as API Gateway passes claims) vouch for the address."""
    verified = claims.get("email_verified")
    return verified is True or verified == "true"


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    email = claims.get("email")
    return Principal(
        subject=str(claims["sub"]),
        is_admin=has_admin_claim(claims),
        email=email if isinstance(email, str) else None,
        email_verified=email_is_verified(claims),
        claims=claims,
    )


# ------------------------------------------------------------ credentials


def _lower_keys(values: Mapping[str, Any] | None) -> dict[str, Any]:
    return {name.lower(): value for name, value in (values or {}).items()}


def authenticate(headers: Mapping[str, str] | None, query: Mapping[str, str] | None,
                 settings: Settings | None = None) -> Principal:
    """The caller's identity from the request; ANONYMOUS when it sent none.

    Every credential presented must be valid: a bad bearer token next to a
    good admin key is refused, not quietly ignored.
    """
    s = settings or get_settings()
    if API_KEY_QUERY_NAMES & set(_lower_keys(query)):
        raise Unauthorized("The admin key must be sent in the X-Api-Key header, never in the query string")
    lowered = _lower_keys(headers)
    authorization = lowered.get("authorization")
    token_principal = None if authorization is None else _bearer_principal(str(authorization), s)
    if API_KEY_HEADER in lowered:
        return _admin_key_principal(str(lowered[API_KEY_HEADER]), s)
    return token_principal or ANONYMOUS


def _bearer_principal(authorization: str, settings: Settings) -> Principal:
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return principal_from_claims(verify_token(token.strip(), settings))


def _admin_key_principal(provided: str, settings: Settings) -> Principal:
    expected = secrets.admin_api_key(settings)
    # compare_digest on bytes: constant time whatever the contents.
    if not expected or not hmac.compare_digest(provided.encode(), expected.encode()):
        raise Unauthorized("Invalid API key")
    return Principal(subject="api-key", is_admin=True, via="api_key")
