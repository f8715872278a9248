"""The event model drawn as text: Mermaid (rendered by GitHub and GitLab Markdown), Graphviz
DOT, and SVG through Graphviz's `dot`. The colours are event storming's."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fluvius_cli.graph.model import EventModel, Group, Kind, Node


@dataclass(frozen=True)
class Style:
    """How a kind of node is drawn: Mermaid's brackets around the label, DOT's shape, a fill."""

    opening: str
    closing: str
    shape: str
    fill: str


STYLES = {
    Kind.COMMAND: Style("[", "]", "box", "#a7c7e7"),
    Kind.EVENT: Style("([", "])", "box", "#ffb86b"),
    Kind.WORKER: Style("[[", "]]", "component", "#d7bdf2"),
}
GROUP_FILLS = {Kind.DOMAIN: "#f7f7f7", Kind.AGGREGATE: "#fff7c2"}


def mermaid(model: EventModel) -> str:
    """A Mermaid flowchart, left to right, a subgraph per domain and per aggregate."""
    lines = ["flowchart LR"]
    for domain in model.domains:
        lines.extend(_mermaid_group(domain, "  "))
    lines.extend(f"  {edge.source} --> {edge.target}" for edge in model.edges)
    for kind, style in STYLES.items():
        lines.append(f"  classDef {kind.value} fill:{style.fill},stroke:#555,color:#111")
    for kind, fill in GROUP_FILLS.items():
        groups = [group.id for group in _groups(model) if group.kind is kind]
        if groups:
            lines.append(f"  style {','.join(groups)} fill:{fill},stroke:#999")
    return "\n".join(lines) + "\n"


def _mermaid_group(group: Group, indent: str) -> Iterator[str]:
    yield f'{indent}subgraph {group.id}["{_mermaid_text(_group_label(group))}"]'
    for inner in group.groups:
        yield from _mermaid_group(inner, indent + "  ")
    for node in group.nodes:
        style = STYLES[node.kind]
        label = "<br/>".join(_mermaid_text(line) for line in _lines(node))
        yield f'{indent}  {node.id}{style.opening}"{label}"{style.closing}:::{node.kind.value}'
    yield f"{indent}end"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def dot(model: EventModel) -> str:
    """A Graphviz digraph, left to right, a cluster per domain and per aggregate."""
    lines = [
        f"digraph {_dot_text(model.name)} {{",
        "  rankdir=LR;",
        '  fontname="Helvetica"; fontsize=12;',
        '  node [fontname="Helvetica" fontsize=11 style=filled color="#555555"];',
        '  edge [color="#555555"];',
    ]
    for domain in model.domains:
        lines.extend(_dot_group(domain, "  "))
    lines.extend(f"  {edge.source} -> {edge.target};" for edge in model.edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_group(group: Group, indent: str) -> Iterator[str]:
    yield f"{indent}subgraph cluster_{group.id} {{"
    yield f"{indent}  label={_dot_text(_group_label(group))};"
    yield f'{indent}  style=filled; fillcolor="{GROUP_FILLS[group.kind]}"; color="#999999";'
    for inner in group.groups:
        yield from _dot_group(inner, indent + "  ")
    for node in group.nodes:
        style = STYLES[node.kind]
        rounded = ' style="rounded,filled"' if node.kind is Kind.EVENT else ""
        label = _dot_text("\n".join(_lines(node)))
        yield (
            f'{indent}  {node.id} [label={label} shape={style.shape} fillcolor="{style.fill}"'
            f"{rounded}];"
        )
    yield f"{indent}}}"


def _dot_text(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def markdown(model: EventModel) -> str:
    """The Mermaid drawing as a fenced Markdown block: what a generated project's README shows."""
    return f"```mermaid\n{mermaid(model)}```\n"


class GraphvizMissing(RuntimeError):
    """SVG was asked for, and Graphviz's `dot` is not installed."""


def svg(model: EventModel) -> str:
    """The DOT graph laid out by Graphviz's `dot`, as SVG."""
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing(
            "SVG needs Graphviz's `dot` (apt-get install graphviz, brew install graphviz);"
            " --format mermaid or dot need nothing"
        )
    result = subprocess.run(
        [program, "-Tsvg"], input=dot(model), capture_output=True, text=True, check=True
    )
    return result.stdout


FORMATS: dict[str, Callable[[EventModel], str]] = {"mermaid": mermaid, "dot": dot, "svg": svg}


def render(model: EventModel, output_format: str) -> str:
    """The model in one of FORMATS."""
    return FORMATS[output_format](model)


def _groups(model: EventModel) -> Iterator[Group]:
    def walk(group: Group) -> Iterator[Group]:
        yield group
        for inner in group.groups:
            yield from walk(inner)

    for domain in model.domains:
        yield from walk(domain)


def _group_label(group: Group) -> str:
    return f"{group.kind.value} {group.label}"


def _lines(node: Node) -> list[str]:
    return [node.label] if node.detail is None else [node.label, node.detail]
