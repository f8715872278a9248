"""The event model of a spec as a graph: per domain, each aggregate's commands, the events they
emit, and the workers each event triggers.

Each kind of thing is a `Kind`; a new one (a view that an event feeds, a stream that publishes
it) is a member there, its style in `formats`, and the nodes and edges it adds below.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fluvius_cli.generate.view import AggregateView, ProjectView, WorkerView


class Kind(Enum):
    """What a node, or a group of nodes, stands for."""

    DOMAIN = "domain"
    AGGREGATE = "aggregate"
    COMMAND = "command"
    EVENT = "event"
    WORKER = "worker"


@dataclass(frozen=True)
class Node:
    """One thing of the model; `id` is unique in the graph and made of [a-z0-9_]."""

    id: str
    kind: Kind
    label: str
    detail: str | None = None  # a second line: a cron worker's schedule


@dataclass(frozen=True)
class Edge:
    """`source` leads to `target`: a command emits an event, an event triggers a worker."""

    source: str
    target: str
    relation: str


@dataclass(frozen=True)
class Group:
    """A box of nodes and boxes: a domain, an aggregate."""

    id: str
    kind: Kind
    label: str
    nodes: tuple[Node, ...] = ()
    groups: tuple[Group, ...] = ()

    def all_nodes(self) -> Iterator[Node]:
        yield from self.nodes
        for group in self.groups:
            yield from group.all_nodes()


@dataclass(frozen=True)
class EventModel:
    """The whole graph: one group per domain, and the edges between their nodes."""

    name: str
    domains: tuple[Group, ...]
    edges: tuple[Edge, ...]

    def nodes(self) -> Iterator[Node]:
        for domain in self.domains:
            yield from domain.all_nodes()


def event_model(project: ProjectView) -> EventModel:
    """The event model of the project's spec, in the spec's order."""
    domains: list[Group] = []
    edges: list[Edge] = []
    for domain in project.domains:
        groups = tuple(_aggregate(aggregate, edges) for aggregate in domain.aggregates)
        workers = tuple(_worker(worker, edges) for worker in domain.workers)
        domains.append(
            Group(_id(Kind.DOMAIN, domain.name), Kind.DOMAIN, domain.name, workers, groups)
        )
    return EventModel(project.package, tuple(domains), tuple(edges))


def _aggregate(aggregate: AggregateView, edges: list[Edge]) -> Group:
    domain = aggregate.domain.name
    commands = []
    for command in aggregate.commands:
        node = Node(
            _id(Kind.COMMAND, domain, aggregate.name, command.name), Kind.COMMAND, command.name
        )
        commands.append(node)
        for event in command.emits:
            edges.append(
                Edge(node.id, _id(Kind.EVENT, domain, aggregate.name, event.name), "emits")
            )
    events = [
        Node(_id(Kind.EVENT, domain, aggregate.name, event.name), Kind.EVENT, event.name)
        for event in aggregate.events
    ]
    return Group(
        _id(Kind.AGGREGATE, domain, aggregate.name),
        Kind.AGGREGATE,
        aggregate.name,
        (*commands, *events),
    )


def _worker(worker: WorkerView, edges: list[Edge]) -> Node:
    domain = worker.domain
    node_id = _id(Kind.WORKER, domain.name, worker.name)
    event = worker.event
    if event is not None:
        source = _id(Kind.EVENT, domain.name, event.aggregate.name, event.name)
        edges.append(Edge(source, node_id, "triggers"))
    schedule = f"cron {worker.spec.cron}" if worker.spec.cron is not None else None
    return Node(node_id, Kind.WORKER, worker.name, schedule)


def _id(kind: Kind, *names: str) -> str:
    """A node's id: its kind and qualified name (snake_case and kebab-case names never clash,
    as each kind uses one of the two)."""
    return "__".join((kind.value, *names)).replace("-", "_")
