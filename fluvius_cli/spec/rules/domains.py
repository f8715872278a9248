"""The rules of the project as a whole: its name, its domains, workers and streams, its tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fluvius.cron import CronError, parse_cron
from fluvius_cli.spec import names
from fluvius_cli.spec.diagnostics import Code, Diagnostic
from fluvius_cli.spec.document import Document, Path
from fluvius_cli.spec.model import DomainSpec, StreamSpec
from fluvius_cli.spec.rules.aggregate import AggregateChecker
from fluvius_cli.spec.rules.checker import Checker
from fluvius_cli.spec.rules.view import ViewChecker
from fluvius_cli.spec.streams import StreamEvent, UnresolvedEvent, resolve
from fluvius_cli.spec.structure import describe
from fluvius_cli.spec.suggest import closest


def check_rules(
    document: Document,
    project_name: str | None,
    domains: Mapping[str, DomainSpec],
    dropped: Iterable[Path] = (),
    streams: Mapping[str, StreamSpec] = {},
) -> list[Diagnostic]:
    """Every rule violation in the validated parts of the spec."""
    checker = Checker(document, domains, set(dropped))
    if project_name is not None:
        _project(checker, project_name)
    checker.names_unique(("domains",), list(domains))
    for domain_name, domain in domains.items():
        _domain(checker, domain_name, domain)
    _table_names(checker)
    for stream_name, stream in streams.items():
        _stream(checker, stream_name, stream)
    return checker.diagnostics


def _project(checker: Checker, name: str) -> None:
    path: Path = ("project", "name")
    if not names.SNAKE.fullmatch(name):
        checker.report(
            path, Code.BAD_NAME, "the project name must be snake_case (a Python package)"
        )
    elif problem := names.project_name_problem(name):
        checker.report(path, Code.RESERVED_NAME, f"project name '{name}' {problem}")


def _domain(checker: Checker, name: str, domain: DomainSpec) -> None:
    path: Path = ("domains", name)
    if checker.name_form(path, names.SNAKE, "snake_case"):
        problem = names.identifier_problem(name)
        if problem is None and name in names.DOMAIN_NAMES:
            problem = names.DOMAIN_NAMES[name]
        checker.reserved(path, problem)
    checker.names_unique((*path, "aggregates"), list(domain.aggregates))
    for aggregate_name, aggregate in domain.aggregates.items():
        AggregateChecker(checker, name, aggregate_name, aggregate).check()
    checker.names_unique((*path, "views"), list(domain.views))
    for view_name, view in domain.views.items():
        ViewChecker(checker, name, view_name, view).check()
    checker.names_unique((*path, "workers"), list(domain.workers))
    for worker_name in domain.workers:
        _worker(checker, name, domain, worker_name)


def _worker(checker: Checker, domain_name: str, domain: DomainSpec, worker_name: str) -> None:
    path: Path = ("domains", domain_name, "workers", worker_name)
    worker = domain.workers[worker_name]
    if checker.name_form(path, names.KEBAB, "kebab-case"):
        checker.reserved(path, names.identifier_problem(worker_name))
    if (worker.on is None) == (worker.cron is None):
        checker.report(
            path,
            Code.WORKER_TRIGGER,
            f"{describe(path)} needs exactly one of `on` (an event) and `cron` (a schedule)",
        )
    if worker.on is not None:
        _worker_event(checker, (*path, "on"), domain_name, domain, worker.on)
    if worker.cron is not None:
        try:
            parse_cron(worker.cron)
        except CronError as exc:
            checker.report((*path, "cron"), Code.BAD_CRON, f"cron '{worker.cron}': {exc}")


def _worker_event(
    checker: Checker, path: Path, domain_name: str, domain: DomainSpec, event: str
) -> None:
    aggregate_name, dot, event_name = event.rpartition(".")
    if dot:
        aggregate = domain.aggregates.get(aggregate_name)
        if aggregate is None:
            if checker.missing(("domains", domain_name, "aggregates", aggregate_name)):
                checker.report(
                    path,
                    Code.UNKNOWN_AGGREGATE,
                    f"'{aggregate_name}' is not an aggregate of domain '{domain_name}'",
                    closest(aggregate_name, domain.aggregates),
                )
            return
        owners = [aggregate_name] if event_name in aggregate.events else []
        candidates: list[str] = list(aggregate.events)
    else:
        owners = [a for a, spec in domain.aggregates.items() if event in spec.events]
        candidates = [e for spec in domain.aggregates.values() for e in spec.events]
    if len(owners) > 1:
        qualified = ", ".join(f"{owner}.{event}" for owner in owners)
        checker.report(
            path,
            Code.AMBIGUOUS_EVENT,
            f"event '{event}' is declared by several aggregates; name one of: {qualified}",
        )
    elif not owners and not checker.events_dropped(domain_name):
        checker.report(
            path,
            Code.UNKNOWN_EVENT,
            f"'{event}' is not an event of domain '{domain_name}'",
            closest(event_name, candidates),
        )


def _stream(checker: Checker, name: str, stream: StreamSpec) -> None:
    """A stream's name fits a setting and a subject; it lists declared events, once each."""
    path: Path = ("streams", name)
    checker.name_form(path, names.SNAKE, "snake_case")
    seen: set[StreamEvent] = set()
    for index, reference in enumerate(stream.events):
        event_path = (*path, "events", index)
        try:
            event = resolve(checker.domains, reference)
        except UnresolvedEvent as exc:
            code = Code.AMBIGUOUS_EVENT if exc.ambiguous else Code.UNKNOWN_EVENT
            checker.report(event_path, code, str(exc), exc.suggestion)
            continue
        if event in seen:
            checker.report(event_path, Code.INVALID_VALUE, f"'{reference}' is listed twice")
        seen.add(event)


def _table_names(checker: Checker) -> None:
    """Each aggregate's and view's table, `<domain>_<name>`, must have a name of its own."""
    owners: dict[str, str] = {}
    for domain_name, domain in checker.domains.items():
        declared = [("aggregates", name) for name in domain.aggregates]
        declared += [("views", name) for name in domain.views]
        for kind, part_name in declared:
            table = names.normalised(f"{domain_name}_{part_name}")
            qualified = f"{kind[:-1]} '{domain_name}.{part_name}'"
            if table in owners:
                checker.report(
                    ("domains", domain_name, kind, part_name),
                    Code.NAME_COLLISION,
                    f"{qualified} would share the table {table} with {owners[table]}",
                    key=True,
                )
            else:
                owners[table] = qualified
