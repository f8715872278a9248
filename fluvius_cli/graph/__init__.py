"""`fluvius graph`: the event model of a spec, drawn in Mermaid, Graphviz DOT or SVG."""

from fluvius_cli.graph.formats import FORMATS, GraphvizMissing, markdown, render
from fluvius_cli.graph.model import Edge, EventModel, Group, Kind, Node, event_model

__all__ = [
    "FORMATS",
    "Edge",
    "EventModel",
    "GraphvizMissing",
    "Group",
    "Kind",
    "Node",
    "event_model",
    "markdown",
    "render",
]
