"""Authorization: policy rows from the spec, enforced with Casbin (RBAC with domains)."""

from fluvius.casbin.enforcer import Decision, Enforcer
from fluvius.casbin.permission import PUBLIC, READ, Permission

__all__ = ["PUBLIC", "READ", "Decision", "Enforcer", "Permission"]
