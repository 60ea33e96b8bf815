"""Errors a request can cause by itself (bad query parameters) — always a 400 naming the parameter — and the
recognition of a backing service that cannot be reached (PostgreSQL, Redis) — a 503 "temporarily unavailable"."""

from __future__ import annotations

import socket

import redis.exceptions
import sqlalchemy.exc
from asyncpg import exceptions as pg

UNAVAILABLE_MESSAGE = (
    "Abacus is temporarily unavailable: it cannot reach its database or session store right now. "
    "Please try again in a minute."
)
RETRY_AFTER_SECONDS = 30

_PG_UNREACHABLE = (
    pg.PostgresConnectionError,  # class 08: connection failures
    pg.CannotConnectNowError,  # starting up or shutting down
    pg.AdminShutdownError,  # pg_terminate_backend, a fast shutdown
    pg.CrashShutdownError,
    pg.TooManyConnectionsError,
    pg.ConnectionDoesNotExistError,  # the connection was closed under the query
)


class BadParameter(Exception):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


def unavailable_service(exc: BaseException) -> str | None:
    """ "Redis" or "PostgreSQL" when `exc`, or an exception that caused it, means that server cannot be reached or
    refused the connection; None for any other error (a bug stays a 500)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
            return "Redis"
        if isinstance(current, (*_PG_UNREACHABLE, sqlalchemy.exc.TimeoutError)):
            return "PostgreSQL"  # (sqlalchemy's TimeoutError: no pooled connection came free in time)
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return "PostgreSQL"
        if isinstance(current, (ConnectionError, TimeoutError, socket.gaierror)):
            # asyncpg's connect raises the socket's own error; Redis wraps its own in redis.exceptions
            return "PostgreSQL"
        if isinstance(current, BaseExceptionGroup):  # a streamed body's task group
            return next((s for sub in current.exceptions if (s := unavailable_service(sub))), None)
        current = current.__cause__ or current.__context__
    return None
