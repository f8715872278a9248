"""Who may call what: authenticate the bearer token, then ask the enforcer, before any work."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import ColumnElement, Table, Uuid, false, or_

from fluvius.application.processor import Scope
from fluvius.casbin.enforcer import Decision, Enforcer
from fluvius.fastapi.auth import Principal, TokenVerifier
from fluvius.fastapi.problems import ProblemError

bearer = HTTPBearer(
    auto_error=False, description="A JWT: `fluvius token` mints one in development."
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@dataclass(frozen=True)
class Access:
    """An authorized caller, and how far its permission reaches."""

    principal: Principal
    decision: Decision


class Gate:
    """Authentication and authorization of one service's requests."""

    def __init__(self, verifier: TokenVerifier, enforcer: Enforcer, *, tenancy: bool) -> None:
        self.verifier = verifier
        self.enforcer = enforcer
        self.tenancy = tenancy

    def require(self, resource: str, action: str) -> Callable[..., Awaitable[Access]]:
        """A FastAPI dependency that admits callers allowed `action` on `resource`."""

        async def admit(credentials: Credentials) -> Access:
            token = credentials.credentials if credentials is not None else None
            return await self.admit(token, resource, action)

        return admit

    async def admit(self, token: str | None, resource: str, action: str) -> Access:
        """The caller bearing `token` (None: anonymous), if allowed `action` on `resource`."""
        return self.authorize(await self.verifier.principal(token), resource, action)

    def authorize(self, principal: Principal, resource: str, action: str) -> Access:
        """`principal`, already authenticated, if allowed `action` on `resource`."""
        decision = self.enforcer.decide(principal.roles, principal.tenant, resource, action)
        if not decision.allowed and principal.anonymous:
            raise ProblemError(
                HTTPStatus.UNAUTHORIZED,
                "unauthenticated",
                f"{resource}:{action} needs a bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not decision.allowed:
            roles = ", ".join(principal.roles) or "none"
            raise ProblemError(
                HTTPStatus.FORBIDDEN,
                "forbidden",
                f"the permission {resource}:{action} is not granted to the roles of the caller "
                f"({roles})",
            )
        self._require_tenant(principal)
        return Access(principal, decision)

    async def identify(self, token: str | None, purpose: str) -> Principal:
        """The authenticated caller bearing `token`, for what needs no permission but a caller
        (`purpose` says what, in the 401)."""
        principal = await self.verifier.principal(token)
        if principal.anonymous:
            raise ProblemError(
                HTTPStatus.UNAUTHORIZED,
                "unauthenticated",
                f"{purpose} needs a bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        self._require_tenant(principal)
        return principal

    def _require_tenant(self, principal: Principal) -> None:
        if self.tenancy and principal.tenant is None:
            raise ProblemError(
                HTTPStatus.FORBIDDEN,
                "tenant-required",
                "this service keeps each tenant's data apart: the token needs a `tenant` claim",
            )

    def scope(self, access: Access) -> Scope | None:
        """The command scope of a scoped permission."""
        if not access.decision.scoped or access.principal.sub is None:
            return None
        return Scope(access.decision.scopes, access.principal.sub)

    def row_conditions(self, access: Access, table: Table) -> list[ColumnElement[bool]]:
        """SQL conditions confining reads to the caller's tenant and scope."""
        conditions: list[ColumnElement[bool]] = []
        if self.tenancy:
            conditions.append(table.c.tenant_id == access.principal.tenant)
        if access.decision.scoped:
            conditions.append(
                or_(
                    *(
                        _holds(table, field, access.principal.sub)
                        for field in access.decision.scopes
                    )
                )
            )
        return conditions

    def sees(self, access: Access, row: Mapping[str, Any], tenant: str | None) -> bool:
        """Whether the caller may read `row` of `tenant`: what `row_conditions` ask in SQL."""
        if self.tenancy and tenant != access.principal.tenant:
            return False
        if not access.decision.scoped:
            return True
        sub = access.principal.sub
        return any(_is(row.get(field), sub) for field in access.decision.scopes)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an Authorization header, as the `bearer` dependency reads it."""
    scheme, credentials = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and credentials) or scheme.lower() != "bearer":
        return None
    return credentials


def _is(value: object, sub: str | None) -> bool:
    if value is None or sub is None:
        return False
    if isinstance(value, uuid.UUID):
        try:
            return value == uuid.UUID(sub)
        except ValueError:
            return False
    return value == sub


def _holds(table: Table, field: str, sub: str | None) -> ColumnElement[bool]:
    column = table.c[field]
    if sub is None:
        return false()
    if isinstance(column.type, Uuid):
        try:
            return column == uuid.UUID(sub)
        except ValueError:
            return false()
    return column == sub
