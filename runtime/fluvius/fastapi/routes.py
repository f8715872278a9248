"""The route class of a service's routes: it tells a path it cannot match at a glance.

A request is matched against the routes in order, and a service has several routes per
aggregate: with 50 aggregates a request for the last one tried some 350 regular expressions,
each behind a few calls, before its own. A route's path regex starts with the literal text of its
path up to the first parameter, perhaps behind a mount or include prefix; a path that does not
contain that text cannot match, and is refused without the regex.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope


class ServiceRoute(APIRoute):
    """An APIRoute that refuses paths without its literal part before trying its regex."""

    def __init__(self, path: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(path, *args, **kwargs)
        self._literal = path.split("{", 1)[0]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and self._literal not in scope["path"]:
            return Match.NONE, {}
        return super().matches(scope)
