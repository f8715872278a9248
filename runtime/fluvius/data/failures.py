"""What a database error says about the server: busy (no connection to give), or lost."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATEs of a server that has no connection for us: too_many_connections; and of one that
# dropped or refused it: connection exceptions (class 08), shutting down or starting up.
_BUSY_STATES = ("53300",)
_LOST_STATES = ("08", "57P01", "57P02", "57P03")


def database_busy(error: BaseException) -> bool:
    """True when `error` says no connection was free: the pool's wait ran out, or the server
    has no connection left to give."""
    return isinstance(error, PoolTimeout) or _sqlstate(error) in _BUSY_STATES


def connection_lost(error: BaseException) -> bool:
    """True when `error` says the server dropped, or will not take, the connection."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    state = _sqlstate(error)
    return state is not None and state.startswith(_LOST_STATES)


def server_unreachable(error: BaseException) -> bool:
    """True when `error` says the server cannot be used now: the connection was lost, or could
    not be made (refused, timed out, or refused by the server itself, as while it starts)."""
    if connection_lost(error) or isinstance(error, (OSError, TimeoutError)):
        return True
    state = getattr(error, "sqlstate", None)  # asyncpg's own, raised while connecting
    return isinstance(state, str) and state.startswith(_LOST_STATES)


def _sqlstate(error: BaseException) -> str | None:
    state = getattr(getattr(error, "orig", None), "sqlstate", None)
    return state if isinstance(state, str) else None
