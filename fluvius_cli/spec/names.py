"""Name forms, reserved words, and the identifiers generated from spec names."""

from __future__ import annotations

import keyword
import re
import sys

SNAKE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
KEBAB = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
ROLE = re.compile(r"[a-z][a-z0-9]*([-_][a-z0-9]+)*")
MAX_LENGTH = 40

PYTHON_KEYWORDS = frozenset(keyword.kwlist)

# Reserved words of PostgreSQL and SQLite that cannot name a column unquoted.
SQL_KEYWORDS = frozenset(
    """
    all alter analyse analyze and any array as asc asymmetric begin between both by case cast
    check collate column commit constraint create cross current_catalog current_date current_role
    current_time current_timestamp current_user default deferrable delete desc distinct do drop
    else end except exists false fetch for foreign from full grant group having in index
    initially inner insert intersect into is join lateral leading left like limit localtime
    localtimestamp natural not null offset on only or order outer placing primary references
    returning right rollback select session_user set some symmetric table then to trailing
    transaction true union unique update user using values variadic when where window with
    """.split()
)

# Columns every state table already has.
RUNTIME_COLUMNS = frozenset({"id", "version", "tenant_id", "created_at", "updated_at"})

# Attributes of pydantic models and of the runtime's message classes; every field becomes one.
MODEL_ATTRIBUTES = frozenset(
    {
        "command_name", "construct", "copy", "dict", "event_name", "evolve", "from_orm", "json",
        "parse_file", "parse_obj", "parse_raw", "schema", "schema_json", "schema_version",
        "update_forward_refs", "validate",
    }
)  # fmt: skip

# Attributes of the runtime's Aggregate class; a command becomes a method beside them.
AGGREGATE_ATTRIBUTES = frozenset(
    {
        "apply", "commands", "context", "decide", "domain", "events", "fold", "handler_for", "id",
        "initial_state", "load_event", "log", "name", "qualified_name", "read", "services",
        "state", "state_type", "table", "upcasters", "version",
    }
)  # fmt: skip

# Module names a generated project already uses.
PROJECT_MODULES = frozenset({"app", "migrations", "settings", "tests", "fluvius"})
# Domain names taken in a generated project, with the reason.
DOMAIN_NAMES = {
    "fluvius": "is the prefix of fluvius's own tables",
    "app": "is the module of the service's HTTP app (app.py)",
    "services": "is the module of the service's dependencies (services.py)",
}
# Modules of a domain's package that user code fills, with the reason a name may not take them.
DOMAIN_MODULES = {
    "workers": "is the name of the domain's workers module",
    "views": "is the name of the domain's views module",
}
LOG_TABLES = frozenset({"event", "command"})  # <domain>_event and <domain>_command exist


def snake(name: str) -> str:
    """`open-account` -> `open_account`."""
    return name.replace("-", "_")


def pascal(name: str) -> str:
    """`open-account` -> `OpenAccount`."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", name) if part)


def normalised(name: str) -> str:
    """The identity of a name once case and separators are ignored."""
    return name.replace("-", "_").lower()


def field_name_problem(name: str) -> str | None:
    """Why `name` cannot be a field name, or None."""
    if name in PYTHON_KEYWORDS:
        return "is a Python keyword"
    if name in SQL_KEYWORDS:
        return "is an SQL keyword"
    if name in RUNTIME_COLUMNS:
        return "is a column every state table already has"
    if name in MODEL_ATTRIBUTES or name.startswith("model_"):
        return "is already an attribute of the generated models"
    return None


def identifier_problem(name: str) -> str | None:
    """Why `name`, as a Python identifier, cannot be used, or None."""
    return "is a Python keyword" if snake(name) in PYTHON_KEYWORDS else None


def project_name_problem(name: str) -> str | None:
    """Why `name` cannot be the generated package's name, or None."""
    if name in PYTHON_KEYWORDS:
        return "is a Python keyword"
    if name in sys.stdlib_module_names:
        return "is a module of Python's standard library"
    if name in PROJECT_MODULES:
        return "is a name fluvius uses"
    return None
