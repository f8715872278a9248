"""What a stream's event reference (`domain.event` or `domain.aggregate.event`) names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fluvius_cli.spec.model import DomainSpec
from fluvius_cli.spec.suggest import closest


@dataclass(frozen=True)
class StreamEvent:
    """An event a stream carries, fully qualified."""

    domain: str
    aggregate: str
    event: str


class UnresolvedEvent(LookupError):
    """The reference names no event, or several; `suggestion` is the name it may have meant."""

    def __init__(
        self, message: str, suggestion: str | None = None, *, ambiguous: bool = False
    ) -> None:
        super().__init__(message)
        self.suggestion = suggestion
        self.ambiguous = ambiguous


def resolve_from(domains: Mapping[str, DomainSpec], home: str, reference: str) -> StreamEvent:
    """The event a view of domain `home` names: `event` or `aggregate.event` in its own domain,
    `domain.event` or `domain.aggregate.event` in another (a name that is a domain is one)."""
    first, dot, _ = reference.partition(".")
    if dot and first in domains:
        return resolve(domains, reference)
    return resolve(domains, f"{home}.{reference}")


def resolve(domains: Mapping[str, DomainSpec], reference: str) -> StreamEvent:
    """The event `reference` names; raise UnresolvedEvent when it names none or several."""
    domain_name, dot, rest = reference.partition(".")
    domain = domains.get(domain_name)
    if not dot or domain is None:
        raise UnresolvedEvent(
            f"'{reference}' is not domain.event (or domain.aggregate.event): "
            f"'{domain_name}' is not a domain",
            closest(domain_name, domains),
        )
    aggregate_name, dot, event_name = rest.rpartition(".")
    if dot:
        aggregate = domain.aggregates.get(aggregate_name)
        owners = (
            [aggregate_name] if aggregate is not None and event_name in aggregate.events else []
        )
        candidates = list(aggregate.events) if aggregate is not None else []
    else:
        owners = [a for a, spec in domain.aggregates.items() if event_name in spec.events]
        candidates = [e for spec in domain.aggregates.values() for e in spec.events]
    if len(owners) > 1:
        qualified = ", ".join(f"{domain_name}.{owner}.{event_name}" for owner in owners)
        raise UnresolvedEvent(
            f"event '{event_name}' is declared by several aggregates; name one of: {qualified}",
            ambiguous=True,
        )
    if not owners:
        raise UnresolvedEvent(
            f"'{rest}' is not an event of domain '{domain_name}'",
            closest(event_name, candidates),
        )
    return StreamEvent(domain_name, owners[0], event_name)
