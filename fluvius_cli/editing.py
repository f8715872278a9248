"""Editing fluvius.yaml in place: comments, order and formatting stay as the user wrote them.

Every edit works on ruamel's round-trip tree and yields the new text; the caller validates
that text with the spec checker before anything is written.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.util import load_yaml_guess_indent

from fluvius.domain.rules import EventFieldRef
from fluvius_cli.spec.language import written
from fluvius_cli.spec.names import snake


class EditError(ValueError):
    """The edit cannot be made (a missing domain, a name already taken...)."""


@dataclass(frozen=True)
class FieldArgument:
    """A field given on the command line as `name:type`."""

    name: str
    type: str

    @classmethod
    def parse(cls, text: str) -> FieldArgument:
        name, colon, kind = text.partition(":")
        if not colon or not name or not kind:
            raise EditError(f"write a field as name:type (like amount:decimal), not {text!r}")
        return cls(name.strip(), kind.strip())


class SpecEditor:
    """The spec as an editable tree."""

    def __init__(self, text: str) -> None:
        self.yaml = YAML(typ="rt")
        self.yaml.preserve_quotes = True
        self.yaml.width = 4096  # never re-wrap the user's lines
        _, indent, sequence_indent = load_yaml_guess_indent(text)
        self.data = self.yaml.load(text)
        if not isinstance(self.data, CommentedMap):
            raise EditError("fluvius.yaml is not a mapping; fix it before adding to it")
        sequence = sequence_indent or 4
        self.yaml.indent(mapping=indent or 2, sequence=sequence, offset=max(sequence - 2, 0))

    def text(self) -> str:
        buffer = io.StringIO()
        self.yaml.dump(self.data, buffer)
        return buffer.getvalue()

    # Edits ----------------------------------------------------------------------------------

    def add_domain(self, name: str, description: str | None) -> None:
        domains = self._child(self.data, "domains")
        self._absent(domains, name, "domain")
        domain = CommentedMap()
        if description:
            domain["description"] = description
        domain["aggregates"] = CommentedMap()
        domains[name] = domain

    def add_aggregate(self, qualified: str, fields: Sequence[FieldArgument]) -> None:
        """An aggregate with a creating command and its event, carrying `fields` into the state."""
        domain_name, name = _split(qualified, "domain.aggregate")
        aggregates = self._child(self._domain(domain_name), "aggregates")
        self._absent(aggregates, name, "aggregate")
        event_name = f"{_kebab(name)}-created"
        aggregate = CommentedMap()
        aggregate["fields"] = _fields(fields)
        create = CommentedMap()
        create["create"] = True
        if fields:
            create["fields"] = _fields(fields)
        create["emits"] = event_name
        aggregate["commands"] = CommentedMap([(creating_command(name), create)])
        event = CommentedMap()
        if fields:
            event["fields"] = _fields(fields)
            copied = {f.name: written(EventFieldRef(f.name)) for f in fields}
            event["apply"] = _flow({"set": _flow(copied)})
        aggregate["events"] = CommentedMap([(event_name, event if event else _flow({}))])
        aggregates[name] = aggregate

    def add_field(self, qualified: str, field: dict[str, Any], name: str) -> None:
        fields = self._child(self._aggregate(qualified), "fields")
        self._absent(fields, name, "field")
        fields[name] = _flow(field) if len(field) > 1 else field["type"]

    def add_command(
        self,
        qualified: str,
        name: str,
        fields: Sequence[FieldArgument],
        emits: str,
        requires: dict[str, Any],
        create: bool,
    ) -> None:
        """A command; its event is added too when the aggregate does not declare it yet."""
        aggregate = self._aggregate(qualified)
        commands = self._child(aggregate, "commands")
        self._absent(commands, name, "command")
        command = CommentedMap()
        if create:
            command["create"] = True
        if fields:
            command["fields"] = _fields(fields)
        if requires:
            command["requires"] = _flow(requires)
        command["emits"] = emits
        commands[name] = command
        events = self._child(aggregate, "events")
        if emits not in events:
            events[emits] = _flow({"fields": _fields(fields)}) if fields else _flow({})

    def add_event(
        self, qualified: str, name: str, fields: Sequence[FieldArgument], apply: dict[str, Any]
    ) -> None:
        events = self._child(self._aggregate(qualified), "events")
        self._absent(events, name, "event")
        event = CommentedMap()
        if fields:
            event["fields"] = _fields(fields)
        if apply:
            event["apply"] = _flow({op: _flow(changes) for op, changes in apply.items()})
        events[name] = event if event else _flow({})

    def add_policy(self, qualified: str, role: str, allow: list[str], scope: str | None) -> None:
        policies = self._child(self._aggregate(qualified), "policies")
        self._absent(policies, role, "policy")
        policy: dict[str, Any] = {"allow": _flow_list(allow)}
        if scope:
            policy["scope"] = scope
        policies[role] = _flow(policy)

    def add_worker(
        self, domain_name: str, name: str, on: str | None, cron: str | None, retries: int | None
    ) -> None:
        workers = self._child(self._domain(domain_name), "workers")
        self._absent(workers, name, "worker")
        worker: dict[str, Any] = {"on": on} if on is not None else {"cron": cron}
        if retries is not None:
            worker["retries"] = retries
        workers[name] = _flow(worker)

    # Navigation -----------------------------------------------------------------------------

    def _domain(self, name: str) -> CommentedMap:
        domains = self._child(self.data, "domains")
        if name not in domains:
            raise EditError(f"there is no domain '{name}'; add it with `fluvius add domain {name}`")
        return self._child(domains, name)

    def _aggregate(self, qualified: str) -> CommentedMap:
        domain_name, name = _split(qualified, "domain.aggregate")
        aggregates = self._child(self._domain(domain_name), "aggregates")
        if name not in aggregates:
            raise EditError(
                f"there is no aggregate '{qualified}'; "
                f"add it with `fluvius add aggregate {qualified}`"
            )
        return self._child(aggregates, name)

    @staticmethod
    def _child(parent: CommentedMap, key: str) -> CommentedMap:
        child = parent.get(key)
        if child is None:
            child = parent[key] = CommentedMap()
        if not isinstance(child, CommentedMap):
            raise EditError(f"`{key}` is not a mapping in fluvius.yaml")
        return child

    @staticmethod
    def _absent(parent: CommentedMap, name: str, kind: str) -> None:
        if name in parent:
            raise EditError(f"the {kind} '{name}' exists already")


def creating_command(aggregate: str) -> str:
    """The name of the creating command `add_aggregate` gives `aggregate`."""
    return f"create-{_kebab(aggregate)}"


def _split(qualified: str, form: str) -> tuple[str, str]:
    first, dot, second = qualified.partition(".")
    if not dot or not first or not second:
        raise EditError(f"write {form}, not {qualified!r}")
    return first, second


def _kebab(name: str) -> str:
    return snake(name).replace("_", "-")


def _fields(fields: Sequence[FieldArgument]) -> CommentedMap:
    return _flow({field.name: field.type for field in fields})


def _flow(values: dict[str, Any]) -> CommentedMap:
    """A mapping written on one line: `{type: string, max_length: 80}`."""
    mapping = CommentedMap(values)
    mapping.fa.set_flow_style()
    return mapping


def _flow_list(values: list[str]) -> CommentedSeq:
    sequence = CommentedSeq(values)
    sequence.fa.set_flow_style()
    return sequence
