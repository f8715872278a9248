"""Render a spec into the files of a service project (in memory; nothing is written here)."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from enum import Enum
from typing import Any

import jinja2

from fluvius_cli.generate.event_versions import LOCK_PATH, EventVersions
from fluvius_cli.generate.http_samples import HttpTests
from fluvius_cli.generate.imports import Import, Imports
from fluvius_cli.generate.read_models import ReadModelView, read_models
from fluvius_cli.generate.regions import EVENT_MODEL, Markers
from fluvius_cli.generate.samples import ContractTests, Subject
from fluvius_cli.generate.view import AggregateView, DomainView, ProjectView
from fluvius_cli.graph import event_model, markdown
from fluvius_cli.resources import templates_dir
from fluvius_cli.spec.model import Spec
from fluvius_cli.spec.schema import spec_json_schema

LINE_LENGTH = 100
SCHEMA_PATH = ".fluvius/fluvius.schema.json"
README_PATH = "README.md"


class Owner(Enum):
    """Who owns a file: fluvius rewrites its files; user files are created once, then left alone,
    but for their regions (between markers) that fluvius keeps."""

    FLUVIUS = "fluvius"
    USER = "user"
    REGION = "region"


@dataclass(frozen=True)
class Section:
    """A function a user file must define (a method of `container`, when given), with the
    imports it needs."""

    name: str
    code: str
    imports: tuple[str, ...]
    container: str | None = None


@dataclass(frozen=True)
class RenderedFile:
    """A file of the project, as the spec says it should be.

    A user file with `sections` grows: when it exists already, the sections it lacks are
    added to it (their functions appended, their imports added), and nothing else changes.
    """

    path: str
    content: str
    owner: Owner
    sections: tuple[Section, ...] = ()
    markers: Markers | None = None  # a REGION's: `content` goes between them


def render_project(spec: Spec, versions: EventVersions | None = None) -> list[RenderedFile]:
    """Every file of the project described by `spec`, sorted by path.

    `versions` are the event schema versions recorded so far; events whose fields changed since
    get a new version, and the upcasters that bridge versions go into the user's modules.
    """
    project = ProjectView(spec, (versions or EventVersions({})).advanced(spec))
    renderer = _Renderer(project)
    files = renderer.package() + [
        file for domain in project.domains for file in renderer.domain(domain)
    ]
    files.append(
        RenderedFile(SCHEMA_PATH, json.dumps(spec_json_schema(), indent=2) + "\n", Owner.FLUVIUS)
    )
    files.append(RenderedFile(LOCK_PATH, project.versions.dump(), Owner.FLUVIUS))
    files += region_files(project)
    return sorted(files, key=lambda file: file.path)


def region_files(project: ProjectView) -> list[RenderedFile]:
    """The regions fluvius keeps in user files: the README's drawing of the event model."""
    drawing = markdown(event_model(project))
    return [RenderedFile(README_PATH, drawing, Owner.REGION, markers=EVENT_MODEL)]


class _Renderer:
    def __init__(self, project: ProjectView) -> None:
        self.project = project
        self.package_dir = project.package
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir() / "code"),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # Python source, not HTML
        )
        self.environment.filters["docstring"] = docstring
        self.environment.filters["string"] = lambda text: json.dumps(text, ensure_ascii=False)

    def file(self, path: str, template: str, owner: Owner, **context: Any) -> RenderedFile:
        content = self.environment.get_template(template).render(project=self.project, **context)
        return RenderedFile(path, content, owner)

    def package(self) -> list[RenderedFile]:
        package = self.package_dir
        user, fluvius = Owner.USER, Owner.FLUVIUS
        return [
            self.file(f"{package}/__init__.py", "package/__init__.py.j2", user),
            self.file(f"{package}/app.py", "package/app.py.j2", user),
            self.file(f"{package}/services.py", "package/services.py.j2", user),
            self.file(f"{package}/_generated/__init__.py", "generated_init.py.j2", fluvius),
            self.file(f"{package}/_generated/metadata.py", "package/metadata.py.j2", fluvius),
            self.file(f"{package}/_generated/service.py", "package/service.py.j2", fluvius),
            self.file(f"{package}/_generated/schema.py", "package/schema.py.j2", fluvius),
            self.file("tests/conftest.py", "tests/conftest.py.j2", user),
        ]

    def domain(self, domain: DomainView) -> list[RenderedFile]:
        base = f"{self.package_dir}/{domain.name}"
        user, fluvius = Owner.USER, Owner.FLUVIUS
        views = read_models(domain)
        files = [
            self.file(f"{base}/__init__.py", "domain/__init__.py.j2", user, domain=domain),
            self.file(f"{base}/_generated/__init__.py", "generated_init.py.j2", fluvius),
            self.file(
                f"{base}/_generated/tables.py",
                "domain/tables.py.j2",
                fluvius,
                domain=domain,
                views=views,
                imports=_table_imports(domain, views).lines(),
            ),
            self.file(
                f"{base}/_generated/policies.py",
                "domain/policies.py.j2",
                fluvius,
                domain=domain,
                views=views,
            ),
            self.file(
                f"{base}/_generated/domain.py",
                "domain/domain.py.j2",
                fluvius,
                domain=domain,
                views=views,
            ),
        ]
        if views:
            imports = Imports()
            for view in views:
                imports.update(view.imports())
            files.append(
                self.file(
                    f"{base}/views.py", "domain/user_views.py.j2", user, domain=domain, views=views
                )
            )
            files.append(
                self.file(
                    f"{base}/_generated/views.py",
                    "domain/views.py.j2",
                    fluvius,
                    domain=domain,
                    views=views,
                    imports=imports.lines(),
                )
            )
        if domain.workers:
            files.append(self.workers(f"{base}/workers.py", domain))
        for aggregate in domain.aggregates:
            files += self.aggregate(base, aggregate)
        return files

    def workers(self, path: str, domain: DomainView) -> RenderedFile:
        sections = []
        for worker in domain.workers:
            imports = Imports([Import("logging"), Import("fluvius.worker", "WorkerContext")])
            if (event := worker.event) is not None:
                template = "domain/event_worker.py.j2"
                imports.add(Import("fluvius.domain", "RecordedEvent"))
                module = f"{self.package_dir}.{domain.name}._generated.{event.aggregate.module}"
                imports.add(Import(module, event.class_name))
            else:
                template = "domain/cron_worker.py.j2"
            code = self.environment.get_template(template).render(worker=worker)
            sections.append(Section(worker.function, code.strip(), tuple(imports.lines())))
        all_imports = sorted({line for section in sections for line in section.imports})
        file = self.file(
            path,
            "domain/workers.py.j2",
            Owner.USER,
            domain=domain,
            imports=all_imports,
            functions=[section.code for section in sections],
        )
        return RenderedFile(file.path, file.content, file.owner, tuple(sections))

    def user_aggregate(
        self, path: str, aggregate: AggregateView, example: list[str]
    ) -> RenderedFile:
        """The user's aggregate module, with an upcaster for every version step of its events."""
        steps = [
            step
            for event in aggregate.events
            for step in self.project.versions.steps(aggregate.qualified_name, event.name)
        ]
        template = self.environment.get_template("domain/upcaster.py.j2")
        upcasters = [template.render(step=step).rstrip() for step in steps]
        base_module = f"{self.package_dir}.{aggregate.domain.name}._generated.{aggregate.module}"
        imports = [f"from {base_module} import {aggregate.base_class}"]
        section_imports = ("from typing import Any", "from fluvius.domain import upcasts")
        file = self.file(
            path,
            "domain/user_aggregate.py.j2",
            Owner.USER,
            aggregate=aggregate,
            example=example,
            upcasters=upcasters,
            imports=imports + (list(section_imports) if steps else []),
        )
        sections = tuple(
            Section(step.upcaster, code, section_imports, container=aggregate.class_name)
            for step, code in zip(steps, upcasters, strict=True)
        )
        return RenderedFile(file.path, file.content, file.owner, sections)

    def aggregate(self, base: str, aggregate: AggregateView) -> list[RenderedFile]:
        user, fluvius = Owner.USER, Owner.FLUVIUS
        tests = ContractTests(aggregate)
        user_tests = ContractTests(aggregate, base=False)
        neighbour = _neighbour(aggregate)
        user_imports = user_tests.imports([user_tests.creation])
        user_imports.update(_world_imports(neighbour))
        http = HttpTests(tests)
        test_name = f"test_{aggregate.domain.name}_{aggregate.name}"
        return [
            self.file(
                f"{base}/_generated/{aggregate.module}.py",
                "domain/aggregate.py.j2",
                fluvius,
                aggregate=aggregate,
                imports=aggregate.model_imports().lines(),
            ),
            self.user_aggregate(f"{base}/{aggregate.module}.py", aggregate, tests.rule_example()),
            self.file(
                f"tests/_generated/{test_name}_contract.py",
                "tests/contract.py.j2",
                fluvius,
                aggregate=aggregate,
                tests=tests,
                imports=tests.imports().lines(),
            ),
            self.file(
                f"tests/_generated/{test_name}_http.py",
                "tests/http.py.j2",
                fluvius,
                aggregate=aggregate,
                contract=tests,
                http=http,
                imports=http.imports().lines(),
            ),
            self.file(
                f"tests/{test_name}.py",
                "tests/user.py.j2",
                user,
                aggregate=aggregate,
                tests=user_tests,
                neighbour=neighbour,
                imports=user_imports.lines(),
            ),
        ]


def _neighbour(aggregate: AggregateView) -> AggregateView:
    """The aggregate whose state the user's tests show `self.read` returning: the project's
    first other aggregate, else the aggregate itself."""
    others = [a for d in aggregate.domain.project.domains for a in d.aggregates]
    return next((other for other in others if other.name != aggregate.name), aggregate)


def _world_imports(neighbour: AggregateView) -> list[Import]:
    """What the user's test of a caller, an instant, another aggregate's state and the services
    imports."""
    subject = Subject(neighbour, base=False)
    return [
        Import("datetime", alias="dt"),
        Import("fluvius.ids", "uuid7"),
        subject.source,
        Import(subject.generated_module, neighbour.state_class),
        neighbour.domain.project.services_import,
    ]


def _table_imports(domain: DomainView, views: list[ReadModelView]) -> Imports:
    imports = Imports([Import("fluvius.data", "domain_log")])
    if domain.aggregates:
        imports.update([Import("fluvius.data", "state_table")])
    if views:
        imports.update([Import("fluvius.data", "view_table")])
    for fields in [aggregate.fields for aggregate in domain.aggregates] + [v.fields for v in views]:
        for field in fields:
            imports.update(field.column.imports)
    return imports


def docstring(text: str, indent: int = 4) -> str:
    """`text` as the body of a docstring: escaped, and wrapped to fit the line length."""
    escaped = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    width = LINE_LENGTH - indent - 3
    paragraphs = [textwrap.fill(p, width=width) for p in escaped.split("\n\n")]
    return textwrap.indent("\n\n".join(paragraphs), " " * indent).lstrip()
