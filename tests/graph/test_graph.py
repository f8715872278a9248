"""`fluvius graph`: the event model's nodes and edges are the spec's, in every format."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fluvius_cli.app import app
from fluvius_cli.generate.regions import EVENT_MODEL
from fluvius_cli.generate.render import README_PATH, Owner, render_project
from fluvius_cli.generate.view import ProjectView
from fluvius_cli.graph import EventModel, Kind, event_model, markdown
from fluvius_cli.graph.formats import dot, mermaid
from fluvius_cli.spec import load_spec

SPEC = """\
fluvius: 1
project: {name: clinic}
domains:
  care:
    aggregates:
      visit:
        commands:
          book-visit: {create: true, emits: visit-booked}
          close-visit: {emits: [visit-closed, invoice-due]}
        events:
          visit-booked: {}
          visit-closed: {}
          invoice-due: {}
      note:
        commands:
          add-note: {create: true, emits: visit-booked}
        events:
          visit-booked: {}
    workers:
      remind-patient: {on: visit.visit-booked}
      bill-patient: {on: invoice-due}
      file-invoice: {on: invoice-due}
      nightly-report: {cron: "0 2 * * *"}
  stock:
    aggregates:
      item:
        commands:
          receive: {create: true, emits: received}
        events:
          received: {}
"""
runner = CliRunner()


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "fluvius.yaml"
    path.write_text(SPEC)
    return path


@pytest.fixture
def model(spec_file: Path) -> EventModel:
    return event_model(ProjectView(load_spec(spec_file)))


def test_the_nodes_are_the_spec_s_by_domain_and_aggregate(model: EventModel) -> None:
    care, stock = model.domains
    assert (care.label, stock.label) == ("care", "stock")
    visit, note = care.groups
    assert [(node.kind, node.label) for node in visit.nodes] == [
        (Kind.COMMAND, "book-visit"),
        (Kind.COMMAND, "close-visit"),
        (Kind.EVENT, "visit-booked"),
        (Kind.EVENT, "visit-closed"),
        (Kind.EVENT, "invoice-due"),
    ]
    assert [(node.kind, node.label) for node in note.nodes] == [
        (Kind.COMMAND, "add-note"),
        (Kind.EVENT, "visit-booked"),
    ]
    assert [(node.label, node.detail) for node in care.nodes] == [
        ("remind-patient", None),
        ("bill-patient", None),
        ("file-invoice", None),
        ("nightly-report", "cron 0 2 * * *"),
    ]
    assert [node.label for node in stock.all_nodes()] == ["receive", "received"]
    ids = [node.id for node in model.nodes()]
    assert len(ids) == len(set(ids)) == 13
    assert all(re.fullmatch("[a-z0-9_]+", node_id) for node_id in ids)


def test_the_edges_are_emits_and_triggers(model: EventModel) -> None:
    label = {node.id: f"{node.kind.value} {node.label}" for node in model.nodes()}
    owner = {  # which aggregate each event node belongs to
        node.id: group.label
        for domain in model.domains
        for group in domain.groups
        for node in group.nodes
    }
    edges = {
        (label[edge.source], edge.relation, label[edge.target], owner.get(edge.source, ""))
        for edge in model.edges
    }
    assert edges == {
        ("command book-visit", "emits", "event visit-booked", "visit"),
        ("command close-visit", "emits", "event visit-closed", "visit"),
        ("command close-visit", "emits", "event invoice-due", "visit"),
        ("command add-note", "emits", "event visit-booked", "note"),
        ("event visit-booked", "triggers", "worker remind-patient", "visit"),
        ("event invoice-due", "triggers", "worker bill-patient", "visit"),
        ("event invoice-due", "triggers", "worker file-invoice", "visit"),
        ("command receive", "emits", "event received", "item"),
    }
    assert len(model.edges) == len(edges)


def test_mermaid_and_dot_draw_every_node_and_edge(model: EventModel) -> None:
    drawings = {"mermaid": mermaid(model), "dot": dot(model)}
    edge_lines = {"mermaid": "  {} --> {}", "dot": "  {} -> {};"}
    for name, drawing in drawings.items():
        for node in model.nodes():
            assert re.search(rf"^\s+{node.id}\W.*{re.escape(node.label)}", drawing, re.M), name
        lines = drawing.splitlines()
        for edge in model.edges:
            assert edge_lines[name].format(edge.source, edge.target) in lines, name
    assert drawings["mermaid"].startswith("flowchart LR\n")
    assert '[["nightly-report<br/>cron 0 2 * * *"]]:::worker' in drawings["mermaid"]
    assert 'label="nightly-report\\ncron 0 2 * * *" shape=component' in drawings["dot"]


def test_the_cli_prints_mermaid_and_writes_dot(spec_file: Path, model: EventModel) -> None:
    printed = runner.invoke(app, ["graph", str(spec_file)])
    assert printed.exit_code == 0
    assert printed.stdout == mermaid(model)
    target = spec_file.parent / "model.dot"
    written = runner.invoke(app, ["graph", str(spec_file), "-f", "DOT", "-o", str(target)])
    assert written.exit_code == 0
    assert target.read_text() == dot(model)
    wrong = runner.invoke(app, ["graph", str(spec_file), "--format", "png"])
    assert wrong.exit_code == 2


def test_an_invalid_spec_is_reported_located(tmp_path: Path) -> None:
    path = tmp_path / "fluvius.yaml"
    path.write_text(SPEC.replace("on: invoice-due}", "on: invoice-lost}", 1))
    result = runner.invoke(app, ["graph", str(path)])
    assert result.exit_code == 1
    assert f"{path}:21:26: FV301 'invoice-lost' is not an event" in result.stderr


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_svg_is_dot_s_layout_of_every_node(spec_file: Path, model: EventModel) -> None:
    result = runner.invoke(app, ["graph", str(spec_file), "--format", "svg"])
    assert result.exit_code == 0
    assert "<svg" in result.stdout
    for node in model.nodes():
        assert f"<title>{node.id}</title>" in result.stdout
    for edge in model.edges:
        assert f"<title>{edge.source}&#45;&gt;{edge.target}</title>" in result.stdout
    check = subprocess.run(
        ["dot", "-Tpng", "-o", "/dev/null"], input=dot(model), text=True, check=False
    )
    assert check.returncode == 0


def test_svg_without_graphviz_says_so_in_one_line(
    spec_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    result = runner.invoke(app, ["graph", str(spec_file), "--format", "svg"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "Graphviz's `dot`" in result.stderr


def test_the_generated_readme_embeds_the_event_model(spec_file: Path) -> None:
    spec = load_spec(spec_file)
    [region] = [file for file in render_project(spec) if file.path == README_PATH]
    assert (region.owner, region.markers) == (Owner.REGION, EVENT_MODEL)
    assert region.content == markdown(event_model(ProjectView(spec)))
    assert region.content == f"```mermaid\n{mermaid(event_model(ProjectView(spec)))}```\n"
