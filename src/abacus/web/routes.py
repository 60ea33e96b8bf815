"""The route table: every controller registers here, so enumerating the app's routes finds them all."""

from __future__ import annotations

from abacus.web import api_usage as usage_api
from abacus.web import auth, dashboard, health, mappings, status, tips, webhooks
from abacus.web import exports as usage_exports
from abacus.web import team as team_pages
from abacus.web import usage as usage_pages

ROUTE_HANDLERS = [
    health.healthz,
    webhooks.github_webhook,
    auth.sign_in_page,
    auth.login,
    auth.callback,
    auth.logout,
    dashboard.dashboard,
    tips.tips_index,
    status.status_page,
    status.sync_now,
    mappings.mappings_page,
    mappings.save_mapping,
    mappings.accept_all,
    mappings.remove_mapping,
    mappings.import_csv,
    tips.tip_guide,
    usage_exports.export_usage,
    usage_pages.usage_page,
    usage_api.api_stats,
    usage_api.api_stats_lifetime,
    usage_api.api_trends,
    usage_api.api_models,
    usage_api.api_models_trends,
    team_pages.team,
    team_pages.users_redirect,
]
