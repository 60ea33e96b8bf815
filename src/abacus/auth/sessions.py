"""Server-side sessions in Redis whose id can be rotated (no session fixation at sign-in), stored only when they hold
something: an anonymous request never writes to Redis, whatever cookie it sends."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty, Message, ScopeSession

ROTATE_FLAG = "abacus.rotate_session"
NEW_ID = "abacus.new_session_id"


def rotate_session_id(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Mark the response to store the session under a fresh id and delete the old one."""
    connection.scope[ROTATE_FLAG] = True  # type: ignore[literal-required]


class RotatingSessionBackend(ServerSideSessionBackend):
    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        return connection.scope.get(NEW_ID) or super().get_session_id(connection)  # type: ignore[return-value]

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        if not scope_session and scope_session is not Empty:
            # Nothing was put in the session (Litestar would store `{}` for 7 days under any cookie value sent).
            if connection.cookies.get(self.config.key) in (None, "", "null"):
                return  # no session before, none after: no Redis write, no cookie
            scope_session = Empty  # emptied, or a cookie naming no session: delete it and expire the cookie
        if connection.scope.get(ROTATE_FLAG) and not connection.scope.get(NEW_ID):
            if old := connection.cookies.get(self.config.key):
                await self.delete(old, store=self.config.get_store_from_app(connection.scope["app"]))
            connection.scope[NEW_ID] = self.generate_session_id()  # type: ignore[literal-required]
        await super().store_in_message(scope_session, message, connection)


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend
