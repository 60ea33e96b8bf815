"""Loopback emulator of the Cursor Admin API (docs/providers.md §3, §6.1, C1–C3)."""

from __future__ import annotations

import base64
import binascii
import json
import math
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, Router, get, post

from abacus.emulators.dataset import CursorTeam
from abacus.emulators.faults import EmulatorState, Reply

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
MAX_DAILY_USAGE_DAYS = 90


class _BadRequest(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.reply = Reply(400, {"error": message})


def _epoch_ms(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _BadRequest(f"{name} is required and must be epoch milliseconds (a number)")
    return value


def _positive(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _BadRequest(f"{name} must be a positive integer")
    return value


def create_router(state: EmulatorState) -> Router:
    """The `/cursor` router: C1 filtered usage events, C2 team members, C3 daily usage, per team admin key."""
    dataset = state.dataset

    def team_of(request: Request[Any, Any, Any]) -> CursorTeam | None:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return None
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not sep or password:
            return None
        return next((t for t in dataset.cursor_teams.values() if t.admin_key == user), None)

    async def answer(request: Request[Any, Any, Any], endpoint: str, build: Any) -> Response[bytes]:
        async def produce() -> Reply:
            team = team_of(request)
            assert team is not None
            body: dict[str, Any] = {}
            if request.method == "POST":
                raw = await request.body()
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    return Reply(400, {"error": "Invalid JSON body"})
                if not isinstance(body, dict):
                    return Reply(400, {"error": "Request body must be a JSON object"})
            try:
                return build(team, body)
            except _BadRequest as exc:
                return exc.reply

        def authorize() -> Reply | None:
            return None if team_of(request) else Reply(401, {"error": "Unauthorized"})

        return await state.serve(request, "cursor", endpoint, produce, authorize=authorize)

    def usage_events(team: CursorTeam, body: dict[str, Any]) -> Reply:
        start_ms, end_ms = _epoch_ms(body, "startDate"), _epoch_ms(body, "endDate")
        page = _positive(body, "page", 1)
        page_size = state.page_size(min(_positive(body, "pageSize", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
        events = dataset.cursor_events(team.label, start_ms, end_ms)
        if email := body.get("email"):
            events = [e for e in events if (e.email or "").lower() == str(email).lower()]
        pages = math.ceil(len(events) / page_size)
        chunk = events[(page - 1) * page_size : page * page_size]
        return Reply(
            200,
            {
                "totalUsageEventsCount": len(events),
                "pagination": {
                    "numPages": pages,
                    "currentPage": page,
                    "pageSize": page_size,
                    "hasNextPage": page < pages,
                    "hasPreviousPage": page > 1,
                },
                "usageEvents": [e.wire() for e in chunk],
                "period": {"startDate": start_ms, "endDate": end_ms},
            },
        )

    def members(team: CursorTeam, _body: dict[str, Any]) -> Reply:
        return Reply(
            200,
            {
                "teamMembers": [
                    {"name": p.name, "email": p.email, "role": "owner" if position == 0 else "member"}
                    for position, p in enumerate(team.members)
                ]
            },
        )

    def daily_usage(team: CursorTeam, body: dict[str, Any]) -> Reply:
        start_ms, end_ms = _epoch_ms(body, "startDate"), _epoch_ms(body, "endDate")
        first = datetime.fromtimestamp(start_ms / 1000, UTC).date()
        last = datetime.fromtimestamp(end_ms / 1000, UTC).date()
        if (last - first).days >= MAX_DAILY_USAGE_DAYS:
            raise _BadRequest(f"Date range cannot exceed {MAX_DAILY_USAGE_DAYS} days")
        rows = [row for day in dataset.days(first, last) for row in dataset.cursor_daily_usage(team.label, day)]
        return Reply(200, {"data": rows, "period": {"startDate": start_ms, "endDate": end_ms}})

    @post("/teams/filtered-usage-events")
    async def filtered_usage_events(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await answer(request, "usage_events", usage_events)

    @get("/teams/members")
    async def team_members(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await answer(request, "members", members)

    @post("/teams/daily-usage-data")
    async def daily_usage_data(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await answer(request, "daily_usage", daily_usage)

    return Router(path="/cursor", route_handlers=[filtered_usage_events, team_members, daily_usage_data])
