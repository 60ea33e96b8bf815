"""The route table: every controller registers here, so enumerating the app's routes finds them all."""

from __future__ import annotations

from abacus.web import auth, dashboard, health, webhooks
from abacus.web import exports as usage_exports

ROUTE_HANDLERS = [
    health.healthz,
    webhooks.github_webhook,
    auth.sign_in_page,
    auth.login,
    auth.callback,
    auth.logout,
    dashboard.dashboard,
    usage_exports.export_usage,
]
