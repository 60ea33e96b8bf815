"""Anthropic Admin API → Claude Code usage rows (docs/providers.md §2): fetch → parse → store, one org key at a time.

*fetch* reads the A1 usage report one UTC day at a time with every page, and A2/A3 (users, API keys of every
status) for the key-name → creator-email mappings. *parse* is pure: records → one `UsageRow` per (date, identity,
raw model, organization). *store* writes one day per transaction together with its `sync_state` advance, and only
after every page of that day was read, so a failed day leaves the database and the state exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from abacus.domain.modelnames import normalize_model_name
from abacus.domain.periods import day_start
from abacus.logging_setup import get_logger
from abacus.models import IdentityMapping
from abacus.providers.http import TIMEOUT, ProviderClient, require
from abacus.providers.provider import Job, Provider, StatusRow
from abacus.providers.wire import MAX_IDENTITY_ID, cents_to_dollars, optional_text, token_count
from abacus.records import ActivityBatch, ActivityRow, ProviderError, SeatRow, UsageRow
from abacus.services.mappings import MappingError, set_mapping
from abacus.settings import ProviderKey, Settings
from abacus.sync.context import SyncContext, SyncResult
from abacus.sync.seat_store import sync_seat_list
from abacus.sync.state import read_state
from abacus.sync.windows import WindowRead, run_windows, start_backfill, walk_back

log = get_logger(__name__)

PROVIDER = "anthropic"
TOOL = "claude_code"
ANTHROPIC_VERSION = "2023-06-01"
USAGE_PATH = "/v1/organizations/usage_report/claude_code"
USERS_PATH = "/v1/organizations/users"
API_KEYS_PATH = "/v1/organizations/api_keys"
USAGE_PAGE_LIMIT = 1000
LIST_PAGE_LIMIT = 100
MAX_PAGES = 10_000  # a provider that keeps answering has_more with new tokens is a bug, not a big org
# Applied in this order so that an active key wins a name clash (docs/providers.md §2.3 step 1).
KEY_STATUSES = ("archived", "inactive", "active")

TRAILING_DAYS = 2  # incremental runs re-read [today − 2, today]: late data of the last days is picked up
BACKFILL_EMPTY_DAYS = 14  # consecutive empty days that mean "history starts here"
BACKFILL_HORIZON_DAYS = 365  # default target of the backwards walk
MAPPING_UPDATED_BY = "sync:anthropic"

# Per-request timeout of the HTTP client; a module setting so tests can shorten it.
REQUEST_TIMEOUT: httpx.Timeout | float = TIMEOUT


def state_id(key: ProviderKey) -> str:
    """The `sync_state` row of one org key: `anthropic:<label>`."""
    return f"{PROVIDER}:{key.label}"


# ---------------------------------------------------------------------------------------------------------------
# fetch


def _client(ctx: SyncContext, key: ProviderKey) -> ProviderClient:
    return ProviderClient(
        provider=PROVIDER,
        base_url=ctx.settings.anthropic.api_url,
        label=key.label,
        headers={"x-api-key": key.key, "anthropic-version": ANTHROPIC_VERSION},
        pacing_seconds=ctx.settings.pacing_seconds(PROVIDER),
        backoff_base=ctx.backoff_base,
        timeout=REQUEST_TIMEOUT,
    )


def _where(endpoint: str, label: str) -> str:
    return f"{PROVIDER} {endpoint} (key {label})"


async def fetch_usage_day(client: ProviderClient, day: date) -> list[dict[str, Any]]:
    """Every A1 record of one UTC day (all pages); raises ProviderError when any page fails."""
    where = _where("usage_report", client.label)
    records: list[dict[str, Any]] = []
    page: str | None = None
    seen_pages: set[str] = set()
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"starting_at": day.isoformat(), "limit": USAGE_PAGE_LIMIT}
        if page:
            params["page"] = page
        body = await client.json("GET", USAGE_PATH, endpoint="usage_report", params=params)
        data = require(body, "data", where=where)
        if not isinstance(data, list):
            raise ProviderError(f"{where}: field 'data' is not a list")
        records.extend(data)
        if not body.get("has_more"):
            return records
        if not body.get("next_page"):
            raise ProviderError(f"{where}: has_more without next_page for {day.isoformat()} (the day is incomplete)")
        page = str(body["next_page"])
        if page in seen_pages:
            raise ProviderError(f"{where}: next_page {page!r} repeats (pagination loop)")
        seen_pages.add(page)
    raise ProviderError(f"{where}: more than {MAX_PAGES} pages for {day.isoformat()}")


async def _fetch_list(
    client: ProviderClient, path: str, endpoint: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """All items of an A2/A3 list (`after_id` paging)."""
    where = _where(endpoint, client.label)
    items: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(MAX_PAGES):
        query: dict[str, Any] = {**(params or {}), "limit": LIST_PAGE_LIMIT}
        if after:
            query["after_id"] = after
        body = await client.json("GET", path, endpoint=endpoint, params=query)
        data = require(body, "data", where=where)
        if not isinstance(data, list):
            raise ProviderError(f"{where}: field 'data' is not a list")
        items.extend(item for item in data if isinstance(item, dict))
        if not (isinstance(body, dict) and body.get("has_more")):
            return items
        last_id = body.get("last_id") or (data[-1].get("id") if data and isinstance(data[-1], dict) else None)
        if not last_id or last_id == after:
            raise ProviderError(f"{where}: has_more without a usable last_id")
        after = str(last_id)
    raise ProviderError(f"{where}: more than {MAX_PAGES} pages")


async def fetch_users(client: ProviderClient) -> list[dict[str, Any]]:
    """Every user of the org (A2)."""
    return await _fetch_list(client, USERS_PATH, "users")


async def fetch_api_keys(client: ProviderClient, status: str) -> list[dict[str, Any]]:
    """Every API key of the org with one status (A3)."""
    return await _fetch_list(client, API_KEYS_PATH, "api_keys", {"status": status})


# ---------------------------------------------------------------------------------------------------------------
# parse (pure)


def _field(record: Any, *path: str | int, where: str, index: int) -> Any:
    return require(record, *path, where=f"{where}: data[{index}]")


def _record_day(value: Any, where: str) -> date:
    if not isinstance(value, str):
        raise ProviderError(f"{where}.date: {value!r} is not an RFC 3339 date")
    try:
        return date.fromisoformat(value.split("T", 1)[0])
    except ValueError:
        raise ProviderError(f"{where}.date: {value!r} is not an RFC 3339 date") from None


def _identity(actor: Any, where: str) -> str:
    """`claude_code:<email>` for a user_actor, `claude_code:<api key name>` for an api_actor (lower-cased)."""
    if not isinstance(actor, dict):
        raise ProviderError(f"{where}.actor: is not an object")
    kind = actor.get("type")
    email = optional_text(actor.get("email_address"), f"{where}.actor.email_address", max_length=MAX_IDENTITY_ID)
    name = optional_text(actor.get("api_key_name"), f"{where}.actor.api_key_name", max_length=MAX_IDENTITY_ID)
    if kind == "user_actor" or (kind != "api_actor" and email):
        if not isinstance(email, str) or not email.strip():
            raise ProviderError(f"{where}: response is missing field 'actor.email_address'")
        return f"{TOOL}:{email.strip().lower()}"
    if kind == "api_actor" or name:
        if not isinstance(name, str) or not name.strip():
            raise ProviderError(f"{where}: response is missing field 'actor.api_key_name'")
        return f"{TOOL}:{name.strip().lower()}"
    raise ProviderError(f"{where}.actor.type: unknown actor type {kind!r}")


@dataclass
class _Aggregate:
    day: date
    identity: str
    raw_model: str | None
    organization_id: str | None
    customer_type: str | None
    input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)


def parse_usage_records(records: Sequence[Any], *, where: str = "anthropic usage_report") -> list[UsageRow]:
    """A1 records → usage rows aggregated by (date, identity, raw model or `unknown`, organization_id).

    Tokens and cost (cents ÷ 100) are summed; `customer_type` is the group's first record's; an empty model gives
    `raw_model` None and model `(default)`; zero-token entries are kept. A missing required field raises
    ProviderError naming it.
    """
    groups: dict[tuple[date, str, str, str | None], _Aggregate] = {}
    for index, record in enumerate(records):
        at = f"{where}: data[{index}]"
        if not isinstance(record, dict):
            raise ProviderError(f"{at}: is not an object")
        day = _record_day(_field(record, "date", where=where, index=index), at)
        identity = _identity(_field(record, "actor", where=where, index=index), at)
        breakdown = _field(record, "model_breakdown", where=where, index=index)
        if not isinstance(breakdown, list):
            raise ProviderError(f"{at}.model_breakdown: is not a list")
        organization_id = optional_text(record.get("organization_id"), f"{at}.organization_id", max_length=64)
        customer_type = optional_text(record.get("customer_type"), f"{at}.customer_type", max_length=32)
        for position, entry in enumerate(breakdown):
            entry_at = f"{at}.model_breakdown[{position}]"
            if not isinstance(entry, dict):
                raise ProviderError(f"{entry_at}: is not an object")
            model = optional_text(entry.get("model"), f"{entry_at}.model", max_length=128)
            raw_model = model or None
            key = (day, identity, raw_model or "unknown", organization_id)
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Aggregate(day, identity, raw_model, organization_id, customer_type)
            tokens = entry.get("tokens") or {}
            if not isinstance(tokens, dict):
                raise ProviderError(f"{entry_at}.tokens: is not an object")
            group.input_tokens += token_count(tokens.get("input"), f"{entry_at}.tokens.input")
            group.output_tokens += token_count(tokens.get("output"), f"{entry_at}.tokens.output")
            group.cache_read_tokens += token_count(tokens.get("cache_read"), f"{entry_at}.tokens.cache_read")
            group.cache_write_tokens += token_count(tokens.get("cache_creation"), f"{entry_at}.tokens.cache_creation")
            cost = entry.get("estimated_cost") or {}
            if not isinstance(cost, dict):
                raise ProviderError(f"{entry_at}.estimated_cost: is not an object")
            group.cost += cents_to_dollars(cost.get("amount"), f"{entry_at}.estimated_cost.amount")
    return [
        UsageRow(
            date=g.day,
            identity=g.identity,
            tool=TOOL,
            model=normalize_model_name(g.raw_model or "unknown"),
            raw_model=g.raw_model,
            input_tokens=g.input_tokens,
            cache_write_tokens=g.cache_write_tokens,
            cache_read_tokens=g.cache_read_tokens,
            output_tokens=g.output_tokens,
            cost=g.cost,
            organization_id=g.organization_id,
            customer_type=g.customer_type,
        )
        for g in groups.values()
    ]


def activity_organization(label: str) -> str:
    """`organization_id` of an org key's activity rows, `anthropic:<label>`: the scope a re-read day replaces."""
    return f"{PROVIDER}:{label}"


def parse_activity_records(records: Sequence[Any], *, where: str = "anthropic usage_report") -> list[ActivityRow]:
    """A1 records → one activity row per (date, identity) (docs/providers.md §8), summed over the person's records
    of the day (one per terminal): sessions = `core_metrics.num_sessions`, lines = `lines_of_code.added/removed`,
    suggested = Σ `tool_actions.*.accepted + rejected`, accepted = Σ `.accepted`, commits and pull requests by Claude
    Code; active when any of them is above 0. Missing metrics count 0; a present one of the wrong type raises
    ProviderError naming it (the whole day fails, never a partial day)."""
    totals: dict[tuple[date, str], list[int]] = {}
    for index, record in enumerate(records):
        at = f"{where}: data[{index}]"
        if not isinstance(record, dict):
            raise ProviderError(f"{at}: is not an object")
        day = _record_day(_field(record, "date", where=where, index=index), at)
        identity = _identity(_field(record, "actor", where=where, index=index), at)
        core = record.get("core_metrics") or {}
        if not isinstance(core, dict):
            raise ProviderError(f"{at}.core_metrics: is not an object")
        lines = core.get("lines_of_code") or {}
        if not isinstance(lines, dict):
            raise ProviderError(f"{at}.core_metrics.lines_of_code: is not an object")
        actions = record.get("tool_actions") or {}
        if not isinstance(actions, dict):
            raise ProviderError(f"{at}.tool_actions: is not an object")
        suggested = accepted = 0
        for tool_name, decisions in sorted(actions.items()):
            if decisions is None:
                continue
            if not isinstance(decisions, dict):
                raise ProviderError(f"{at}.tool_actions.{tool_name}: is not an object")
            yes = token_count(decisions.get("accepted"), f"{at}.tool_actions.{tool_name}.accepted")
            no = token_count(decisions.get("rejected"), f"{at}.tool_actions.{tool_name}.rejected")
            accepted += yes
            suggested += yes + no
        counts = [
            token_count(core.get("num_sessions"), f"{at}.core_metrics.num_sessions"),
            token_count(lines.get("added"), f"{at}.core_metrics.lines_of_code.added"),
            token_count(lines.get("removed"), f"{at}.core_metrics.lines_of_code.removed"),
            suggested,
            accepted,
            token_count(core.get("commits_by_claude_code"), f"{at}.core_metrics.commits_by_claude_code"),
            token_count(core.get("pull_requests_by_claude_code"), f"{at}.core_metrics.pull_requests_by_claude_code"),
        ]
        total = totals.setdefault((day, identity), [0] * len(counts))
        for position, value in enumerate(counts):
            total[position] += value
    return [
        ActivityRow(
            date=day,
            identity=identity,
            sessions=sessions,
            lines_added=added,
            lines_removed=removed,
            suggested=suggested,
            accepted=accepted,
            commits=commits,
            pull_requests=pull_requests,
            active=any((sessions, added, removed, suggested, accepted, commits, pull_requests)),
        )
        for (day, identity), (sessions, added, removed, suggested, accepted, commits, pull_requests) in totals.items()
    ]


def build_key_name_emails(
    users: Iterable[dict[str, Any]], keys_by_status: dict[str, list[dict[str, Any]]]
) -> tuple[dict[str, str], list[str]]:
    """API key name (lower-cased) → creator email, plus the names whose creator is not a user of the org.

    Statuses are applied archived → inactive → active, so the active key wins a name clash (logged).
    """
    email_of = {
        u["id"]: u["email"].strip().lower()
        for u in users
        if isinstance(u.get("id"), str) and isinstance(u.get("email"), str) and u["email"].strip()
    }
    names: dict[str, str] = {}
    unknown_creator: list[str] = []
    for status in KEY_STATUSES:
        for api_key in keys_by_status.get(status, []):
            name = api_key.get("name")
            created_by = api_key.get("created_by")
            creator = created_by.get("id") if isinstance(created_by, dict) else None
            if not isinstance(name, str) or not name.strip():
                continue
            name = name.strip().lower()
            email = email_of.get(creator) if isinstance(creator, str) else None
            if email is None:
                if name not in names:
                    unknown_creator.append(name)
                continue
            previous = names.get(name)
            if previous is not None and previous != email:
                log.warning("anthropic api key name clash", name=name, replaced=previous, kept=email, status=status)
            names[name] = email
    return names, [n for n in dict.fromkeys(unknown_creator) if n not in names]


# ---------------------------------------------------------------------------------------------------------------
# mappings


async def sync_mappings(ctx: SyncContext, key: ProviderKey) -> int:
    """Store API key name → creator email mappings (absent ones only: a manual mapping wins); returns how many
    were added. Unmapped rows of a newly mapped name are re-pointed in the same transaction."""
    async with _client(ctx, key) as client:
        users = await fetch_users(client)
        keys_by_status = {status: await fetch_api_keys(client, status) for status in KEY_STATUSES}
    names, orphans = build_key_name_emails(users, keys_by_status)
    if orphans:
        log.info("anthropic api keys whose creator is not an org user stay unmapped", key=key.label, names=orphans)
    added = 0
    async with ctx.sessionmaker() as db, db.begin():
        existing = set(
            (
                await db.execute(
                    select(IdentityMapping.external_id).where(
                        IdentityMapping.source == TOOL, IdentityMapping.external_id.in_(list(names))
                    )
                )
            ).scalars()
        )
        for name, email in sorted(names.items()):
            try:
                await set_mapping(db, TOOL, name, email, updated_by=MAPPING_UPDATED_BY, only_if_absent=True)
            except MappingError as exc:
                log.warning("anthropic api key mapping skipped", key=key.label, name=name, error=str(exc))
                continue
            added += name not in existing
    return added


async def _refresh_mappings(ctx: SyncContext, key: ProviderKey, result: SyncResult) -> None:
    """sync_mappings, but a failure is only noted: mappings never block the usage sync."""
    try:
        added = await sync_mappings(ctx, key)
    except (ProviderError, SQLAlchemyError) as exc:
        log.warning("anthropic mapping refresh failed; usage sync continues", key=key.label, error=str(exc))
        result.add_detail(f"mappings not refreshed: {exc}")
        return
    if added:
        result.add_detail(f"{added} new API key mapping(s)")


# ---------------------------------------------------------------------------------------------------------------
# store + runs


async def _read_day(client: ProviderClient, day: date) -> WindowRead:
    """All usage rows of one day (fetch every page, then parse), the number of raw records, and the day's activity
    from the same records (docs/providers.md §8), which replaces what was stored for that day and org key."""
    records = await fetch_usage_day(client, day)
    where = _where("usage_report", client.label)
    rows = parse_activity_records(records, where=where)
    strays = sorted({row.date.isoformat() for row in rows if row.date != day})
    if strays:
        raise ProviderError(f"{where}: the report of {day.isoformat()} has records dated {', '.join(strays)}")
    activity = ActivityBatch(TOOL, activity_organization(client.label), (day,), tuple(rows))
    return WindowRead(parse_usage_records(records, where=where), len(records), activity)


async def _run_days(
    ctx: SyncContext, key: ProviderKey, days: list[date], result: SyncResult, *, advance_incremental: bool
) -> None:
    """Read and store each day in its own transaction; stop at the first failure and record it."""
    async with _client(ctx, key) as client:
        await run_windows(
            ctx,
            state_id(key),
            days,
            result,
            read=lambda day: _read_day(client, day),
            name=date.isoformat,
            synced_until=day_start if advance_incremental else None,
            provider=PROVIDER,
            unit="day",
            label=key.label,
            title=f"Anthropic {key.label}",
        )


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


async def sync_incremental(ctx: SyncContext, key: ProviderKey, *, with_mappings: bool = True) -> SyncResult:
    """Re-read days min(last fully read day, today − 2) … today, ascending, one transaction per day advancing
    `last_synced_hour_end`; stops at the first failing day (recorded in `last_error`). Idempotent."""
    result = SyncResult(provider=PROVIDER, label=key.label)
    today = ctx.today()
    async with ctx.sessionmaker() as db:
        state = await read_state(db, state_id(key))
    start = today - timedelta(days=TRAILING_DAYS)
    if state is not None and state.last_synced_hour_end is not None:
        start = min(start, state.last_synced_hour_end.astimezone(UTC).date())
    if with_mappings:
        await _refresh_mappings(ctx, key, result)
    await _run_days(ctx, key, _days(start, today), result, advance_incremental=True)
    return result


async def sync_range(
    ctx: SyncContext, key: ProviderKey, start: date, end: date, *, with_mappings: bool = True
) -> SyncResult:
    """Read every day of [start, end] (one transaction each); no incremental or backfill state changes."""
    result = SyncResult(provider=PROVIDER, label=key.label)
    if end < start:
        raise ValueError(f"range end {end.isoformat()} is before its start {start.isoformat()}")
    if with_mappings:
        await _refresh_mappings(ctx, key, result)
    await _run_days(ctx, key, _days(start, end), result, advance_incremental=False)
    return result


async def backfill_step(
    ctx: SyncContext, key: ProviderKey, *, target: date | None = None, max_days: int = 7, with_mappings: bool = True
) -> SyncResult:
    """Walk backwards at most `max_days` days from `backfill_oldest_date` (today − 3 when unset), one transaction per
    day advancing the cursor; complete after 14 consecutive empty days or when `target` (default today − 365) is
    read. `result.complete` tells the job runner whether to re-enqueue."""
    result = SyncResult(provider=PROVIDER, label=key.label, complete=False)
    today = ctx.today()
    # unset cursor → the day before the incremental window (today − 3)
    walk = await start_backfill(
        ctx,
        state_id(key),
        result,
        first_day=today - timedelta(days=TRAILING_DAYS + 1),
        target=target or today - timedelta(days=BACKFILL_HORIZON_DAYS),
    )
    if walk is None:
        return result
    if with_mappings:
        await _refresh_mappings(ctx, key, result)
    async with _client(ctx, key) as client:
        await walk_back(
            ctx,
            walk,
            result,
            read_day=lambda day: _read_day(client, day),
            max_days=max_days,
            empty_days_to_stop=BACKFILL_EMPTY_DAYS,
            provider=PROVIDER,
            label=key.label,
            title=f"Anthropic backfill {key.label}",
        )
    return result


# --------------------------------------------------------------------------------------------------------------
# seats (docs/schema.md §10): org users other than admins, when ANTHROPIC_SEAT_PRICE_USD is set

SEAT_EXCLUDED_ROLES = frozenset({"admin"})  # admins manage the org and its API keys; they hold no Claude Code seat


def seats_state_id(key: ProviderKey) -> str:
    """The `sync_state` row of one org key's seat list (A2 users): `anthropic-seats:<label>`."""
    return f"{PROVIDER}-seats:{key.label}"


def seat_rows(users: Iterable[dict[str, Any]], price: Decimal, *, where: str = "anthropic users") -> list[SeatRow]:
    """A2 users → Claude Code seats: every user whose role is not `admin`, since `added_at`, at `price` a month."""
    rows = []
    for index, user in enumerate(users):
        at = f"{where}: data[{index}]"
        email = optional_text(user.get("email"), f"{at}.email", max_length=MAX_IDENTITY_ID)
        role = optional_text(user.get("role"), f"{at}.role", max_length=32)
        if not email or not email.strip() or role in SEAT_EXCLUDED_ROLES:
            continue
        added = user.get("added_at")
        try:
            since = datetime.fromisoformat(added.replace("Z", "+00:00")) if isinstance(added, str) else None
        except ValueError:
            raise ProviderError(f"{at}.added_at: {added!r} is not a timestamp") from None
        rows.append(SeatRow(f"{TOOL}:{email.strip().lower()}", role, since, None, price))
    return rows


async def sync_seats(ctx: SyncContext, key: ProviderKey) -> SyncResult:
    """Replace the org's stored Claude Code seats with its A2 users (nothing when no seat price is set)."""
    result = SyncResult(provider=PROVIDER, label=key.label)
    price = ctx.settings.anthropic.seat_price_usd
    if price is None:
        return result

    async def read() -> list[SeatRow]:
        async with _client(ctx, key) as client:
            return seat_rows(await fetch_users(client), price, where=_where("users", key.label))

    await sync_seat_list(
        ctx,
        seats_state_id(key),
        result,
        read=read,
        tool=TOOL,
        organization_id=activity_organization(key.label),
        provider=PROVIDER,
        label=key.label,
    )
    return result


async def sync_usage_and_seats(ctx: SyncContext, key: ProviderKey) -> SyncResult:
    """The forward job: the usage days (with their activity), then the seat list when a seat price is set."""
    result = await sync_incremental(ctx, key, with_mappings=False)
    seats = await sync_seats(ctx, key)
    result.records += seats.records
    result.errors.extend(seats.errors)
    if seats.detail:
        result.add_detail(seats.detail)
    return result


def status_rows(settings: Settings, state_ids: Iterable[str]) -> list[StatusRow]:
    """Per org key: its usage row, and its seat-list row when Claude Code seats are tracked."""
    rows = []
    for key in settings.anthropic.keys:
        rows.append(StatusRow(state_id(key), key.label))
        if settings.anthropic.seat_price_usd is not None:
            rows.append(StatusRow(seats_state_id(key), f"{key.label} · seats", backfills=False, hourly=False))
    return rows


# --------------------------------------------------------------------------------------------------------------
# Registration (providers/registry.py lists this)

EVERY_6_HOURS = frozenset({0, 6, 12, 18})
BACKFILL_HOURS = frozenset({3, 9, 15, 21})

DESCRIPTION = Provider(
    name=PROVIDER,
    display_name="Claude Code",
    tool=TOOL,
    key_noun="Organization",
    keys=lambda settings: settings.anthropic.keys,
    state_id=state_id,
    # API-key mappings are refreshed once per job / CLI run (mappings_before_sync), not inside every window walk
    sync_incremental=sync_usage_and_seats,
    sync_range=lambda ctx, key, start, end: sync_range(ctx, key, start, end, with_mappings=False),
    backfill_step=lambda ctx, key, target: backfill_step(ctx, key, target=target, with_mappings=False),
    sync_mappings=sync_mappings,
    mappings_before_sync=True,
    jobs=(
        Job("sync_anthropic", "forward", "Every 6 hours", minute=0, hours=EVERY_6_HOURS),
        Job("backfill_anthropic", "backfill", "Every 6 hours until complete", minute=20, hours=BACKFILL_HOURS),
    ),
    fresh_within=timedelta(hours=12),
    status_rows=status_rows,
    emulator_module="abacus.emulators.anthropic",
)
