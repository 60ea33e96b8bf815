"""Loopback emulator of the Anthropic Admin API endpoints Abacus calls (docs/providers.md §2, §6.1, A1–A5)."""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Any

from litestar import Request, Response, Router, get

from abacus.emulators.dataset import AnthropicOrg
from abacus.emulators.faults import EmulatorState, Reply, query_params

ANTHROPIC_VERSION = "2023-06-01"


def _error(status: int, kind: str, message: str) -> Reply:
    return Reply(status, {"type": "error", "error": {"type": kind, "message": message}})


class _BadRequest(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.reply = _error(400, "invalid_request_error", message)


def _limit(params: dict[str, str], state: EmulatorState) -> int:
    raw = params.get("limit", "20")
    try:
        limit = int(raw)
    except ValueError:
        raise _BadRequest(f"limit: Input should be a valid integer, got {raw!r}") from None
    if not 1 <= limit <= 1000:
        raise _BadRequest("limit: Input should be between 1 and 1000")
    return state.page_size(limit)


def _encode_page(org: str, day: date, offset: int) -> str:
    return "page_" + base64.urlsafe_b64encode(f"{org}|{day.isoformat()}|{offset}".encode()).decode()


def _decode_page(token: str, org: str, day: date) -> int:
    try:
        label, token_day, offset = base64.urlsafe_b64decode(token.removeprefix("page_")).decode().split("|")
        if label != org or token_day != day.isoformat():
            raise ValueError
        return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _BadRequest("page: invalid page token for this query") from None


def _cursor_page(items: list[dict[str, Any]], params: dict[str, str], limit: int) -> Reply:
    """A2/A3 pagination: ids ascending, `after_id` / `before_id` exclusive bounds."""
    items = sorted(items, key=lambda item: item["id"])
    if after := params.get("after_id"):
        items = [i for i in items if i["id"] > after]
    if before := params.get("before_id"):
        items = [i for i in items if i["id"] < before][-limit:]
    page = items[:limit]
    return Reply(
        200,
        {
            "data": page,
            "has_more": len(items) > limit,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
        },
    )


def create_router(state: EmulatorState) -> Router:
    """The `/anthropic` router: A1 usage report, A2/A5 users, A3/A4 API keys, each per org admin key."""
    dataset = state.dataset

    def org_of(request: Request[Any, Any, Any]) -> AnthropicOrg | None:
        key = request.headers.get("x-api-key")
        return next((o for o in dataset.anthropic_orgs.values() if key and o.admin_key == key), None)

    def authorizer(request: Request[Any, Any, Any]) -> Any:
        def authorize() -> Reply | None:
            version = request.headers.get("anthropic-version")
            if org_of(request) is None:
                return _error(401, "authentication_error", "invalid x-api-key")
            if version is not None and version != ANTHROPIC_VERSION:
                return _error(400, "invalid_request_error", f"anthropic-version: invalid version {version!r}")
            return None

        return authorize

    async def answer(request: Request[Any, Any, Any], endpoint: str, build: Any) -> Response[bytes]:
        async def produce() -> Reply:
            org = org_of(request)
            assert org is not None
            try:
                return build(org, query_params(request))
            except _BadRequest as exc:
                return exc.reply

        return await state.serve(request, "anthropic", endpoint, produce, authorize=authorizer(request))

    def usage_report(org: AnthropicOrg, params: dict[str, str]) -> Reply:
        raw_day = params.get("starting_at")
        if not raw_day:
            raise _BadRequest("starting_at: Field required")
        try:
            day = date.fromisoformat(raw_day)
            if len(raw_day) != 10:
                raise ValueError
        except ValueError:
            raise _BadRequest("starting_at: Input should be a valid date in the format YYYY-MM-DD") from None
        limit = _limit(params, state)
        offset = _decode_page(params["page"], org.label, day) if params.get("page") else 0
        records = dataset.claude_code_report(org.label, day)
        page = records[offset : offset + limit]
        more = offset + limit < len(records)
        return Reply(
            200,
            {
                "data": page,
                "has_more": more,
                "next_page": _encode_page(org.label, day, offset + limit) if more else None,
            },
        )

    def users(org: AnthropicOrg, params: dict[str, str]) -> Reply:
        items = [u.wire() for u in org.users]
        if email := params.get("email"):
            items = [u for u in items if u["email"] == email.lower()]
        return _cursor_page(items, params, _limit(params, state))

    def api_keys(org: AnthropicOrg, params: dict[str, str]) -> Reply:
        items = [k.wire() for k in org.api_keys]
        if status := params.get("status"):
            if status not in ("active", "inactive", "archived"):
                raise _BadRequest("status: Input should be 'active', 'inactive' or 'archived'")
            items = [k for k in items if k["status"] == status]
        if creator := params.get("created_by_user_id"):
            items = [k for k in items if k["created_by"]["id"] == creator]
        if workspace := params.get("workspace_id"):
            items = [k for k in items if k["workspace_id"] == workspace]
        return _cursor_page(items, params, _limit(params, state))

    @get("/v1/organizations/usage_report/claude_code")
    async def get_usage_report(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await answer(request, "usage_report", usage_report)

    @get("/v1/organizations/users")
    async def list_users(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await answer(request, "users", users)

    @get("/v1/organizations/users/{user_id:str}")
    async def get_user(request: Request[Any, Any, Any], user_id: str) -> Response[bytes]:
        def build(org: AnthropicOrg, _params: dict[str, str]) -> Reply:
            user = next((u for u in org.users if u.id == user_id), None)
            if user is None:
                return _error(404, "not_found_error", f"User {user_id} not found")
            return Reply(200, user.wire())

        return await answer(request, "user", build)

    @get("/v1/organizations/api_keys")
    async def list_api_keys(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await answer(request, "api_keys", api_keys)

    @get("/v1/organizations/api_keys/{api_key_id:str}")
    async def get_api_key(request: Request[Any, Any, Any], api_key_id: str) -> Response[bytes]:
        def build(org: AnthropicOrg, _params: dict[str, str]) -> Reply:
            key = next((k for k in org.api_keys if k.id == api_key_id), None)
            if key is None:
                return _error(404, "not_found_error", f"API key {api_key_id} not found")
            return Reply(200, key.wire())

        return await answer(request, "api_key", build)

    return Router(
        path="/anthropic", route_handlers=[get_usage_report, list_users, get_user, list_api_keys, get_api_key]
    )
