"""Bearer tokens: HS256 with a secret in development, RS256 from a JWKS URL in production.

Claims: `sub` (the caller), `roles` (list of role names), `tenant` (with tenancy; empty text is
no tenant), and the standard `exp`, `iss`, `aud`, all checked (`exp`, `iat`, `nbf` are numbers).
While the JWKS URL cannot be reached, the keys fetched before keep working until they expire;
a token that needs new keys gets a 503.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import anyio.to_thread
import jwt

from fluvius.fastapi.problems import ProblemError
from fluvius.settings import Settings

DEVELOPMENT_ALGORITHM = "HS256"
PRODUCTION_ALGORITHM = "RS256"
# A verified token is trusted again without checking its signature for this long at most (and
# only between its `iat`/`nbf` and its `exp`, as verifying it would say); no longer than the
# JWKS client keeps the keys it fetched.
VERIFIED_FOR_S = 60.0
VERIFIED_TOKENS = 4096
TIME_CLAIMS = ("exp", "iat", "nbf")
KEYS_RETRY_AFTER_S = 30
KEYS_FETCH_TIMEOUT_S = 5.0  # a JWKS URL that does not answer holds a request no longer


@dataclass(frozen=True)
class Principal:
    """Who calls: an authenticated subject with roles (and a tenant), or nobody."""

    sub: str | None
    roles: tuple[str, ...] = ()
    tenant: str | None = None
    expires_at: float | None = field(default=None, compare=False)  # the token's `exp`

    @property
    def anonymous(self) -> bool:
        return self.sub is None


ANONYMOUS = Principal(None)


class TokenVerifier:
    """Turns an Authorization header into a Principal, or a 401 problem."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks = (
            jwt.PyJWKClient(settings.jwt_jwks_url, timeout=KEYS_FETCH_TIMEOUT_S)
            if settings.jwt_jwks_url
            else None
        )
        # token -> (its principal, and the interval in which it verifies)
        self._verified: dict[str, tuple[Principal, float, float]] = {}

    async def principal(self, token: str | None) -> Principal:
        """The caller of a request bearing `token` (None: no Authorization header)."""
        if token is None:
            return ANONYMOUS
        now = time.time()
        verified = self._verified.get(token)
        if verified is not None and verified[1] <= now < verified[2]:
            return verified[0]
        try:
            claims = await self._claims(token)
        except jwt.ExpiredSignatureError:
            raise _unauthenticated("the token has expired") from None
        except jwt.PyJWKClientConnectionError:
            raise ProblemError(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "keys-unavailable",
                "the keys that check bearer tokens cannot be fetched now; try again later",
                headers={"Retry-After": str(KEYS_RETRY_AFTER_S)},
            ) from None
        except jwt.PyJWTError as error:
            raise _unauthenticated(f"the token is not valid: {error}") from None
        principal = _principal(claims)
        self._remember(token, principal, claims, now)
        return principal

    def _remember(
        self, token: str, principal: Principal, claims: dict[str, Any], now: float
    ) -> None:
        """Keep a verified token's principal for as long as verifying it again would agree."""
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified.clear()
        valid_from = max(int(claims.get(claim, 0)) for claim in ("iat", "nbf"))
        valid_until = min(int(claims["exp"]), now + VERIFIED_FOR_S)
        self._verified[token] = (principal, valid_from, valid_until)

    async def _claims(self, token: str) -> dict[str, Any]:
        options = {"require": ["exp", "sub"]}
        common: dict[str, Any] = {
            "audience": self.settings.jwt_audience,
            "issuer": self.settings.jwt_issuer,
            "options": {**options, "verify_aud": self.settings.jwt_audience is not None},
        }
        if self._jwks is not None:
            signing_key = await anyio.to_thread.run_sync(self._jwks.get_signing_key_from_jwt, token)
            return jwt.decode(token, signing_key.key, algorithms=[PRODUCTION_ALGORITHM], **common)
        if self.settings.jwt_secret is None:
            raise jwt.InvalidKeyError("no FLUVIUS_JWT_SECRET to check the token with")
        return jwt.decode(
            token, self.settings.jwt_secret, algorithms=[DEVELOPMENT_ALGORITHM], **common
        )


def _principal(claims: dict[str, Any]) -> Principal:
    for claim in TIME_CLAIMS:
        value = claims.get(claim)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _unauthenticated(f"the token's `{claim}` claim must be a number of seconds")
    roles = claims.get("roles", [])
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise _unauthenticated("the token's `roles` claim must be a list of role names")
    tenant = claims.get("tenant")
    if tenant is not None and not isinstance(tenant, str):
        raise _unauthenticated("the token's `tenant` claim must be text")
    return Principal(str(claims["sub"]), tuple(roles), tenant or None, float(claims["exp"]))


def _unauthenticated(detail: str) -> ProblemError:
    return ProblemError(
        HTTPStatus.UNAUTHORIZED,
        "unauthenticated",
        detail,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def mint_token(
    settings: Settings,
    sub: str,
    roles: tuple[str, ...],
    *,
    tenant: str | None = None,
    ttl: dt.timedelta = dt.timedelta(hours=1),
) -> str:
    """A development token (HS256 with the service's secret) for `sub` with `roles`."""
    if settings.jwt_secret is None:
        raise ValueError(
            "FLUVIUS_JWT_SECRET is not set: there is no development secret to sign with"
        )
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {"sub": sub, "roles": list(roles), "iat": now, "exp": now + ttl}
    if tenant is not None:
        claims["tenant"] = tenant
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm=DEVELOPMENT_ALGORITHM)
