"""The route table: every controller registers here, so enumerating the app's routes finds them all."""

from __future__ import annotations

from abacus.web.api import activity as activity_api
from abacus.web.api import budgets as budgets_api
from abacus.web.api import commits as commits_api
from abacus.web.api import docs as api_docs
from abacus.web.api import health, otlp, webhooks
from abacus.web.api import live as live_api
from abacus.web.api import seats as seats_api
from abacus.web.api import status as api_status
from abacus.web.api import usage as usage_api
from abacus.web.api import users as users_api
from abacus.web.exports import commits as export_commits
from abacus.web.exports import seats as seats_export
from abacus.web.exports import team as team_export
from abacus.web.exports import usage as usage_exports
from abacus.web.pages import auth, dashboard, definitions, mappings, repositories, status, tips
from abacus.web.pages import budgets as budgets_pages
from abacus.web.pages import commits as commits_pages
from abacus.web.pages import live as live_pages
from abacus.web.pages import seats as seats_pages
from abacus.web.pages import team as team_pages
from abacus.web.pages import teams as teams_pages
from abacus.web.pages import usage as usage_pages
from abacus.web.pages import users as user_pages

ROUTE_HANDLERS = [
    health.healthz,
    webhooks.github_webhook,
    otlp.otlp_metrics,
    auth.sign_in_page,
    auth.login,
    auth.callback,
    auth.logout,
    dashboard.dashboard,
    live_pages.live_today,
    live_api.api_live,
    tips.tips_index,
    definitions.definitions_page,
    status.status_page,
    status.sync_now,
    mappings.mappings_page,
    mappings.save_mapping,
    mappings.accept_all,
    mappings.remove_mapping,
    mappings.mark_bot,
    mappings.import_csv,
    mappings.import_progress,
    teams_pages.teams_page,
    teams_pages.add_team,
    teams_pages.remove_team,
    teams_pages.save_member,
    teams_pages.remove_team_member,
    teams_pages.import_teams,
    budgets_pages.budgets_page,
    budgets_pages.save_budget_form,
    budgets_pages.delete_budget_form,
    budgets_api.api_budgets,
    tips.tip_guide,
    usage_exports.export_usage,
    usage_pages.usage_page,
    usage_api.api_stats,
    activity_api.api_activity,
    seats_api.api_seats,
    seats_pages.seats_page,
    seats_export.export_seats,
    usage_api.api_stats_lifetime,
    usage_api.api_trends,
    usage_api.api_models,
    usage_api.api_models_trends,
    team_pages.team,
    team_pages.users_redirect,
    user_pages.user_detail,
    team_export.export_team,
    users_api.api_users,
    users_api.api_users_pivot,
    users_api.api_user,
    users_api.api_user_raw_usage,
    users_api.api_user_percentile,
    commits_pages.commits,
    repositories.repository,
    repositories.repository_legacy,
    export_commits.export_commits,
    commits_api.api_stats_commits,
    commits_api.api_commit_trends,
    commits_api.api_commit_pivot,
    commits_api.api_repository,
    api_status.api_status,
    api_status.api_mappings,
    api_docs.api_docs,
]

# The OpenAPI document describes the JSON API only; pages, forms and webhooks are not part of it.
for _handler in ROUTE_HANDLERS:
    if not any(path.startswith("/api/") for path in _handler.paths):
        _handler.include_in_schema = False
