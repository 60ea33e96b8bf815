"""The route table: every controller registers here, so enumerating the app's routes finds them all."""

from __future__ import annotations

from abacus.web import auth, dashboard, health

ROUTE_HANDLERS = [
    health.healthz,
    auth.sign_in_page,
    auth.login,
    auth.callback,
    auth.logout,
    dashboard.dashboard,
]
