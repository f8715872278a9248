"""Policy rows: what a role may do on a resource, as generated from the spec's `policies`."""

from __future__ import annotations

from dataclasses import dataclass

READ = "read"
PUBLIC = "public"


@dataclass(frozen=True)
class Permission:
    """`role` may perform `action` (a command name, or `read`) on `resource` (domain.aggregate).

    With `scope`, only on rows whose `scope` field equals the caller's id (the token's `sub`).
    """

    role: str
    resource: str
    action: str
    scope: str | None = None
