"""Who may reach a route: a signed-in session for everything not marked public, an admin email for writes."""

from __future__ import annotations

import time
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

IDLE_SECONDS = 7 * 24 * 3600
ABSOLUTE_SECONDS = 30 * 24 * 3600


class NotSignedIn(Exception):
    """No valid session: pages redirect to /sign-in, /api answers 401, htmx gets HX-Redirect."""


def session_user(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any] | None:
    """The signed-in user of this request, or None (also when the session passed its absolute lifetime)."""
    session = connection.scope.get("session")
    if not isinstance(session, dict):
        return None
    user = session.get("user")
    if not isinstance(user, dict) or "email" not in user:
        return None
    if time.time() - float(user.get("signed_in_at", 0)) > ABSOLUTE_SECONDS:
        connection.clear_session()
        return None
    return user


def require_session(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    if handler.opt.get("public"):
        return
    if session_user(connection) is None:
        raise NotSignedIn()


def require_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    user = session_user(connection)
    settings = connection.app.state.settings
    if user is None:
        raise NotSignedIn()
    if not settings.sign_in.is_admin(user["email"]):
        raise PermissionDeniedException("Only Abacus admins may change this.")


def require_full_view(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Pages that list every person's identities (Mappings): anyone when ABACUS_VISIBILITY is `everyone`, else
    admins only (docs/security.md §6)."""
    user = session_user(connection)
    settings = connection.app.state.settings
    if user is None:
        raise NotSignedIn()
    if settings.sign_in.visibility != "everyone" and not settings.sign_in.is_admin(user["email"]):
        raise PermissionDeniedException("Only Abacus admins see identity mappings here.")
