"""Authorization decisions with Casbin: RBAC with domains, where the domain is the tenant.

Policy rows come from the spec: `p, role, *, resource, action, scope` (domain `*`: the spec's
policies hold in every tenant). A request is checked once per role of the caller; an allowing
row without scope wins, otherwise the scopes of the allowing rows limit the caller to rows whose
scope field holds its id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import casbin

from fluvius.casbin.permission import PUBLIC, Permission

MODEL = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act, scope

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && (p.dom == "*" || p.dom == r.dom) && r.obj == p.obj && r.act == p.act
"""
ANY_TENANT = "*"
CACHED_DECISIONS = 4096


@dataclass(frozen=True)
class Decision:
    """Whether a caller may act, limited to which scope fields, and the rules that said so."""

    allowed: bool
    scopes: tuple[str, ...] = ()
    rules: tuple[tuple[str, ...], ...] = ()

    @property
    def scoped(self) -> bool:
        return self.allowed and bool(self.scopes)


class Enforcer:
    """Decides from the permissions of a service; decisions are cached until policies reload."""

    def __init__(self, permissions: Iterable[Permission]) -> None:
        model = casbin.model.Model()
        model.load_model_from_text(MODEL)
        self._casbin = casbin.Enforcer(model)
        self._decisions: dict[tuple[tuple[str, ...], str | None, str, str], Decision] = {}
        self.load(permissions)

    def load(self, permissions: Iterable[Permission]) -> None:
        """Replace the policy rows."""
        self._casbin.clear_policy()
        rows = [[p.role, ANY_TENANT, p.resource, p.action, p.scope or ""] for p in permissions]
        if rows:
            self._casbin.add_policies(rows)
        self._decisions.clear()

    def decide(
        self, roles: tuple[str, ...], tenant: str | None, resource: str, action: str
    ) -> Decision:
        """May a caller with `roles` (in `tenant`) perform `action` on `resource`?"""
        key = (roles, tenant, resource, action)
        decision = self._decisions.get(key)
        if decision is None:
            if len(self._decisions) >= CACHED_DECISIONS:
                self._decisions.clear()
            decision = self._decisions[key] = self._decide(roles, tenant, resource, action)
        return decision

    def _decide(
        self, roles: tuple[str, ...], tenant: str | None, resource: str, action: str
    ) -> Decision:
        scopes: list[str] = []
        rules: list[tuple[str, ...]] = []
        for role in (*roles, PUBLIC):
            allowed, rule = self._casbin.enforce_ex(role, tenant or ANY_TENANT, resource, action)
            if not allowed:
                continue
            rules.append(tuple(rule))
            scope = rule[4] if len(rule) > 4 else ""
            if not scope:
                return Decision(True, (), tuple(rules))
            scopes.append(scope)
        return Decision(bool(rules), tuple(dict.fromkeys(scopes)), tuple(rules))
