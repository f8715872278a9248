"""Misspelt overrides: a public method of an aggregate class that looks like one of its command
handlers, apply methods or upcasters, but is none of them, so it would never run.

`withdrawl` beside the command method `withdraw`, or `apply_mony_deposited`, is such a method:
close to an expected name (difflib), or named with the `apply_` or `upcast_` prefix. The
service refuses to start with one (`check_methods`), and `fluvius generate` reports it, located
in the user's module, from the same rule.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from fluvius.domain.aggregate import Aggregate

CUTOFF = 0.8  # difflib's similarity from which a name reads as a misspelling of another
PREFIXES = ("apply_", "upcast_")


@dataclass(frozen=True)
class Lookalike:
    """A method named like an expected one; `suggestion` is the nearest expected name."""

    method: str
    suggestion: str | None

    def message(self, aggregate: str) -> str:
        """What is wrong, for `aggregate` (`domain.aggregate`)."""
        return (
            f"method '{self.method}' of {aggregate} looks like a command handler, apply method "
            "or upcaster but matches none, so it never runs (a helper's name starts with _)"
        )

    def explain(self, aggregate: str) -> str:
        """The message, with its "did you mean" when there is one."""
        hint = f"; did you mean '{self.suggestion}'?" if self.suggestion else ""
        return self.message(aggregate) + hint


def lookalike(method: str, expected: Collection[str]) -> Lookalike | None:
    """Whether the public method `method` looks like one of the `expected` method names."""
    if method.startswith("_") or method in expected:
        return None
    close = difflib.get_close_matches(method, expected, n=1, cutoff=CUTOFF)
    if close:
        return Lookalike(method, close[0])
    prefix = next((prefix for prefix in PREFIXES if method.startswith(prefix)), None)
    if prefix is None:
        return None
    alike = [name for name in expected if name.startswith(prefix)]
    nearest = difflib.get_close_matches(method, alike, n=1, cutoff=0.5)
    return Lookalike(method, nearest[0] if nearest else None)


def expected_methods(aggregate: type[Aggregate[Any]]) -> set[str]:
    """The names of the aggregate's command handlers, apply methods and upcasters."""
    return (
        {handler.method for handler in aggregate.commands.values()}
        | {projector.method for projector in aggregate.events.values()}
        | set(aggregate.upcasters.values())
    )


class MisnamedMethod(TypeError):
    """An aggregate class defines methods that look like handlers but match none."""


def check_methods(aggregate: type[Aggregate[Any]]) -> None:
    """Refuse the lookalike methods that `aggregate` and its bases up to `Aggregate` define."""
    expected = expected_methods(aggregate)
    found = []
    for klass in aggregate.__mro__[: aggregate.__mro__.index(Aggregate)]:
        for name, member in vars(klass).items():
            function = getattr(member, "__func__", member)
            if inspect.isfunction(function) and (found_one := lookalike(name, expected)):
                where = f"{inspect.getsourcefile(function)}:{function.__code__.co_firstlineno}"
                found.append(f"{where}: {found_one.explain(aggregate.qualified_name())}")
    if found:
        raise MisnamedMethod("\n".join(found))
