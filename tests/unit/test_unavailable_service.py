"""Which errors mean "a backing service is out of reach" (503 temporarily unavailable) and which stay a 500."""

from __future__ import annotations

import socket

import pytest
import redis.exceptions
import sqlalchemy.exc
from asyncpg import exceptions as pg

from abacus.web.errors import unavailable_service


def _caused_by(outer: Exception, cause: BaseException) -> Exception:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("error", "service"),
    [
        (redis.exceptions.ConnectionError("Error 111 connecting"), "Redis"),
        (redis.exceptions.TimeoutError("Timeout reading from socket"), "Redis"),
        (ConnectionRefusedError(111, "Connect call failed"), "PostgreSQL"),
        (socket.gaierror(-2, "Name or service not known"), "PostgreSQL"),
        (pg.CannotConnectNowError("the database system is starting up"), "PostgreSQL"),
        (pg.AdminShutdownError("terminating connection due to administrator command"), "PostgreSQL"),
        (pg.TooManyConnectionsError("too many clients"), "PostgreSQL"),
        (pg.ConnectionDoesNotExistError("connection was closed in the middle of operation"), "PostgreSQL"),
        (sqlalchemy.exc.TimeoutError("QueuePool limit reached"), "PostgreSQL"),
        (sqlalchemy.exc.DBAPIError("SELECT 1", None, Exception("gone"), connection_invalidated=True), "PostgreSQL"),
        (_caused_by(RuntimeError("wrapped"), redis.exceptions.ConnectionError("down")), "Redis"),
        (ExceptionGroup("task group", [ValueError("x"), ConnectionResetError()]), "PostgreSQL"),
        (_caused_by(RuntimeError("after start"), ExceptionGroup("g", [redis.exceptions.ConnectionError()])), "Redis"),
        # bugs and bad data stay 500s
        (ValueError("bad"), None),
        (KeyError("missing"), None),
        (sqlalchemy.exc.DBAPIError("SELECT 1", None, Exception("syntax"), connection_invalidated=False), None),
        (pg.UniqueViolationError("duplicate key"), None),
        (redis.exceptions.ResponseError("WRONGTYPE"), None),
        (ExceptionGroup("task group", [ValueError("x")]), None),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_unavailable_service(error: BaseException, service: str | None) -> None:
    assert unavailable_service(error) == service


def test_a_cause_cycle_ends() -> None:
    a, b = RuntimeError("a"), RuntimeError("b")
    a.__cause__, b.__cause__ = b, a
    assert unavailable_service(a) is None
