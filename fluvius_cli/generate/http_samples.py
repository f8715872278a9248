"""The HTTP contract tests of an aggregate: who may do what, and its query routes.

For every action (each command, and `read`), every role of the aggregate's policies plus a role
that has none: whether the service lets it through (any answer but 401/403) or refuses it. A
scoped role calls as the id that the aggregate's scope field holds, so its scope is met.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fluvius.casbin.permission import PUBLIC, READ
from fluvius.domain.files import FileInfo
from fluvius_cli.generate.imports import Import, Imports
from fluvius_cli.generate.samples import ContractTests, State
from fluvius_cli.generate.view import AggregateView, CommandView

STRANGER = "stranger"  # a role no policy mentions
DEFAULT_SUB = "user-1"
_FILTERABLE = ("string", "enum", "integer", "boolean", "uuid", "ref", "date")


@dataclass(frozen=True)
class Caller:
    """A role calling as `sub`, and whether the policies let it through."""

    role: str
    sub: str
    allowed: bool


@dataclass(frozen=True)
class PermissionCase:
    """One action, and every caller of the matrix. `path` holds `{aggregate_id}` when the
    action needs an existing aggregate."""

    action: str
    test_name: str
    method: str
    path: str
    payload: dict[str, Any] | None
    callers: tuple[Caller, ...]

    @property
    def seeded(self) -> bool:
        return "{aggregate_id}" in self.path

    @property
    def path_code(self) -> str:
        """The path as Python: an f-string when it names the aggregate."""
        return f'f"{self.path}"' if self.seeded else f'"{self.path}"'

    @property
    def payload_code(self) -> str | None:
        return _python(self.payload) if self.payload is not None else None


@dataclass(frozen=True)
class QueryCase:
    """Listing, fetching and reading the history of a seeded aggregate."""

    reader: Caller | None
    query: str
    history: tuple[str, ...]


class HttpTests:
    """The HTTP contract tests of one aggregate."""

    def __init__(self, contract: ContractTests) -> None:
        self.contract = contract
        self.aggregate: AggregateView = contract.aggregate
        self.roles = sorted({p.role for p in self.aggregate.permissions} | {STRANGER})

    @property
    def base(self) -> str:
        return f"/{self.aggregate.domain.name}.{self.aggregate.name}"

    @functools.cached_property
    def seeded_state(self) -> State:
        """The state of the aggregate the tests seed: its creation history's."""
        return self.contract.creation_history()[1]

    @functools.cached_property
    def permissions(self) -> list[PermissionCase]:
        cases = [self._command_case(command) for command in self.aggregate.commands]
        cases.append(
            PermissionCase(
                READ,
                "test_read_permissions",
                "get",
                f"{self.base}/{{aggregate_id}}",
                None,
                self._callers(READ, self.seeded_state),
            )
        )
        return cases

    @functools.cached_property
    def query(self) -> QueryCase:
        readers = [c for c in self._callers(READ, self.seeded_state) if c.allowed]
        unscoped = [c for c in readers if not self._scope_of(c.role, READ)]
        reader = next(iter(unscoped or readers), None)
        field, value = self._filter()
        history = tuple(event.name for event, _ in self.contract.creation_history()[0])
        return QueryCase(reader, json.dumps({field: value}), history)

    def imports(self) -> Imports:
        """What the HTTP test module imports."""
        imports = Imports([Import("pytest"), Import("fluvius.testing", "Api")])
        imports.update(self.contract.imports([]))
        for call in self.contract.history_calls():
            imports.update(call.imports)
        return imports

    # Cases ----------------------------------------------------------------------------------

    def _command_case(self, command: CommandView) -> PermissionCase:
        values = self.contract.values(command, large=command.spec.create)
        route = f"/{self.aggregate.domain.name}:{command.name}/{self.aggregate.name}"
        if command.spec.create:
            state = self.contract.created_state(command, values)
            path = f"{route}/:new"
        else:
            state = self.seeded_state
            path = f"{route}/{{aggregate_id}}"
        return PermissionCase(
            command.name,
            f"test_{command.method}_permissions",
            "post",
            path,
            _json_ready(values) if values else None,
            self._callers(command.name, state),
        )

    def _callers(self, action: str, state: State) -> tuple[Caller, ...]:
        callers = []
        public = self._allows(PUBLIC, action)
        for role in self.roles:
            scope = self._scope_of(role, action)
            sub = str(_json_ready(state.get(scope))) if scope and state.get(scope) else DEFAULT_SUB
            callers.append(Caller(role, sub, public or self._allows(role, action)))
        return tuple(callers)

    def _allows(self, role: str, action: str) -> bool:
        policy = self.aggregate.spec.policies.get(role)
        return policy is not None and action in policy.allow

    def _scope_of(self, role: str, action: str) -> str | None:
        policy = self.aggregate.spec.policies.get(role)
        if policy is None or action not in policy.allow or self._allows(PUBLIC, action):
            return None
        return policy.scope

    def _filter(self) -> tuple[str, Any]:
        for field in self.aggregate.fields:
            value = self.seeded_state.get(field.name)
            if field.spec.type in _FILTERABLE and value is not None:
                return field.name, _json_ready(value)
        return "version", 1


def _json_ready(value: Any) -> Any:
    """A sample value as JSON carries it."""
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, FileInfo):
        return value.id  # a command's file field takes the upload's id
    return value


def _python(value: Any) -> str:
    """A JSON-ready value written as a Python literal."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_python(k)}: {_python(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_python(item) for item in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)
