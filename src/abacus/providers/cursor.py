"""Cursor Admin API → Cursor usage rows (docs/providers.md §3): fetch → parse → store, one team key at a time.

*fetch* reads C1 usage events for an hour-aligned window of at most one day, every page. *parse* is pure: one row
per event (zero-token events skipped); same-ms ordinals (docs/providers.md §3.3) go in `tool_record_id`. *store* writes
one window per transaction together with its `sync_state` advance, so a failed window leaves the database and the
state exactly as before.

Windows are half-open: [start, end) is requested as `startDate = start`, `endDate = end − 1 ms` (the API's range is
inclusive), so consecutive windows never share an event and every same-millisecond group lies in one window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import Any

import httpx

from abacus.domain.modelnames import normalize_model_name
from abacus.domain.periods import day_start
from abacus.providers.http import TIMEOUT, ProviderClient, require
from abacus.providers.provider import Job, Provider, StatusRow
from abacus.providers.wire import MAX_IDENTITY_ID, cents_to_dollars, optional_text, token_count
from abacus.records import ActivityBatch, ActivityRow, ProviderError, SeatRow, UsageRow
from abacus.settings import ProviderKey, Settings
from abacus.sync.context import SyncContext, SyncResult
from abacus.sync.seat_store import sync_seat_list
from abacus.sync.state import read_state
from abacus.sync.windows import WindowRead, run_windows, start_backfill, walk_back

PROVIDER = "cursor"
TOOL = "cursor"
EVENTS_PATH = "/teams/filtered-usage-events"
MEMBERS_PATH = "/teams/members"
DAILY_USAGE_PATH = "/teams/daily-usage-data"
PAGE_SIZE = 1000
PARSE_PIECE = 200
"""Events parsed between two turns of the event loop (~2 ms: a statement the store sent waits at most that long)."""
MAX_PAGES = 10_000

HOUR = timedelta(hours=1)
MAX_WINDOW = timedelta(days=1)
TRAILING = timedelta(hours=2)  # incremental runs re-read the last 2 h: Cursor publishes events up to 1 h late
FIRST_RUN = timedelta(hours=24)  # never synced → the last 24 h
BACKFILL_EMPTY_DAYS = 7
BACKFILL_HORIZON_DAYS = 365
UNKNOWN_USER = "unknown"
ACTIVITY_TRAILING_DAYS = 3  # C3 forward runs re-read [today − 3, today]: the daily figures settle late
ACTIVITY_MAX_DAYS = 90  # one C3 call covers at most 90 days

# Per-request timeout of the HTTP client; a module setting so tests can shorten it.
REQUEST_TIMEOUT: httpx.Timeout | float = TIMEOUT


def state_id(key: ProviderKey) -> str:
    """The `sync_state` row of one team key: `cursor:<label>`."""
    return f"{PROVIDER}:{key.label}"


def activity_state_id(key: ProviderKey) -> str:
    """The `sync_state` row of one team key's C3 daily activity: `cursor-activity:<label>`."""
    return f"{PROVIDER}-activity:{key.label}"


def seats_state_id(key: ProviderKey) -> str:
    """The `sync_state` row of one team key's seat list (C2 members): `cursor-seats:<label>`."""
    return f"{PROVIDER}-seats:{key.label}"


def organization_id(label: str) -> str:
    """`organization_id` of a team's rows, `cursor:<label>` (also for `default`), shared by API and CSV rows."""
    return f"{PROVIDER}:{label}"


def stored_raw_model(model: str | None) -> str | None:
    """The raw model stored for an event: Cursor's `default` is rewritten to `auto` (what its CSV export says)."""
    if model is None or not model.strip():
        return None
    return "auto" if model.strip().lower() == "default" else model


def epoch_ms(moment: datetime) -> int:
    """Exact epoch milliseconds of an aware datetime (no float rounding)."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def utc_day_of_ms(value: int) -> date:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)).date()


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def split_windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive windows of at most one day (start and end are hour-aligned)."""
    windows = []
    while start < end:
        stop = min(start + MAX_WINDOW, end)
        windows.append((start, stop))
        start = stop
    return windows


# ---------------------------------------------------------------------------------------------------------------
# fetch


def _client(ctx: SyncContext, key: ProviderKey) -> ProviderClient:
    return ProviderClient(
        provider=PROVIDER,
        base_url=ctx.settings.cursor.api_url,
        label=key.label,
        auth=(key.key, ""),
        pacing_seconds=ctx.settings.pacing_seconds(PROVIDER),
        backoff_base=ctx.backoff_base,
        timeout=REQUEST_TIMEOUT,
    )


def _where(endpoint: str, label: str) -> str:
    return f"{PROVIDER} {endpoint} (key {label})"


async def fetch_usage_events(client: ProviderClient, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every C1 event with start ≤ timestamp < end (all pages); raises ProviderError when any page fails."""
    where = _where("usage_events", client.label)
    events: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        body = await client.json(
            "POST",
            EVENTS_PATH,
            endpoint="usage_events",
            json={
                "startDate": epoch_ms(start),
                "endDate": epoch_ms(end) - 1,
                "page": page,
                "pageSize": PAGE_SIZE,
            },
        )
        chunk = require(body, "usageEvents", where=where)
        if not isinstance(chunk, list):
            raise ProviderError(f"{where}: field 'usageEvents' is not a list")
        events.extend(chunk)
        has_next = require(body, "pagination", "hasNextPage", where=where)
        if not has_next:
            return events
        if not chunk:  # would otherwise page on to MAX_PAGES: the window is incomplete, say so at once
            raise ProviderError(f"{where}: page {page} is empty but hasNextPage is true (the window is incomplete)")
    raise ProviderError(f"{where}: more than {MAX_PAGES} pages")


async def fetch_members(ctx: SyncContext, key: ProviderKey) -> list[dict[str, Any]]:
    """Team members (C2) as `{"name", "email" (lower-cased), "role"}`, for the mappings page's suggestions."""
    where = _where("members", key.label)
    async with _client(ctx, key) as client:
        body = await client.json("GET", MEMBERS_PATH, endpoint="members")
    members = require(body, "teamMembers", where=where)
    if not isinstance(members, list):
        raise ProviderError(f"{where}: field 'teamMembers' is not a list")
    out = []
    for member in members:
        if isinstance(member, dict) and isinstance(member.get("email"), str) and member["email"].strip():
            out.append(
                {"name": member.get("name"), "email": member["email"].strip().lower(), "role": member.get("role")}
            )
    return out


async def fetch_daily_usage(client: ProviderClient, first: date, last: date) -> list[Any]:
    """C3 daily usage rows of the UTC days first … last (one call, ≤ 90 days); raises ProviderError on failure."""
    if (last - first).days + 1 > ACTIVITY_MAX_DAYS:
        raise ValueError(f"a C3 call covers at most {ACTIVITY_MAX_DAYS} days ({first} … {last} asked)")
    where = _where("daily_usage", client.label)
    body = await client.json(
        "POST",
        DAILY_USAGE_PATH,
        endpoint="daily_usage",
        json={"startDate": epoch_ms(day_start(first)), "endDate": epoch_ms(day_start(last + timedelta(days=1))) - 1},
    )
    data = require(body, "data", where=where)
    if not isinstance(data, list):
        raise ProviderError(f"{where}: field 'data' is not a list")
    return data


# ---------------------------------------------------------------------------------------------------------------
# parse (pure)


def _timestamp_ms(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ProviderError(f"{where}.timestamp: {value!r} is not epoch milliseconds")
    text = str(value).strip()
    if not text.isdigit():
        raise ProviderError(f"{where}.timestamp: {value!r} is not epoch milliseconds")
    return int(text)


_MS_GROUP = attrgetter("identity", "raw_model", "timestamp_ms", "organization_id")
_TOKEN_FIELDS = ("inputTokens", "cacheWriteTokens", "cacheReadTokens", "outputTokens")
_MS_PER_DAY = 86_400_000


def assign_same_millisecond_ordinals(rows: Iterable[UsageRow]) -> list[UsageRow]:
    """Number rows sharing (identity, raw model, millisecond, org) so none overwrites another (docs/providers.md §3.3).

    Within such a group rows are ordered by their four token counts, then cost, and get `tool_record_id`
    "1", "2", …; a row alone in its millisecond keeps NULL, so API and CSV rows of one event still merge.
    """
    rows = list(rows)
    keys = list(map(_MS_GROUP, rows))
    if len(set(keys)) == len(keys):  # the usual case: no two rows share a millisecond
        return rows
    groups: dict[tuple[object, ...], list[int]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(key, []).append(index)
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(
            key=lambda i: (
                rows[i].input_tokens,
                rows[i].cache_write_tokens,
                rows[i].cache_read_tokens,
                rows[i].output_tokens,
                rows[i].cost,
            )
        )
        for ordinal, index in enumerate(members, start=1):
            rows[index] = rows[index]._replace(tool_record_id=str(ordinal))
    return rows


def _read_event(event: Any, at: str) -> tuple[int, str | None, str | None, list[int], Decimal]:
    """One event's fields read strictly, every check in order: (timestamp, email, model, four counts, cost)."""
    if not isinstance(event, dict):
        raise ProviderError(f"{at}: is not an object")
    timestamp = _timestamp_ms(require(event, "timestamp", where=at), at)
    email = optional_text(event.get("userEmail"), f"{at}.userEmail", max_length=MAX_IDENTITY_ID)
    model = optional_text(event.get("model"), f"{at}.model", max_length=128)
    usage = event.get("tokenUsage") or {}
    if not isinstance(usage, dict):
        raise ProviderError(f"{at}.tokenUsage: is not an object")
    counts = [token_count(usage.get(name), f"{at}.tokenUsage.{name}") for name in _TOKEN_FIELDS]
    cost = cents_to_dollars(usage.get("totalCents"), f"{at}.tokenUsage.totalCents")
    return timestamp, email, model, counts, cost


def _read_plain_event(event: Any) -> tuple[int, str | None, str | None, list[int], Any] | None:
    """The fields of an event whose values need no conversion (digit-string or int timestamp, short strings or
    None, int or None counts), with its raw `totalCents`; None for anything else (read by `_read_event`)."""
    if type(event) is not dict:
        return None
    timestamp = event.get("timestamp")
    if type(timestamp) is str and timestamp.isascii() and timestamp.isdigit():
        timestamp = int(timestamp)
    elif type(timestamp) is not int or timestamp < 0:
        return None
    email = event.get("userEmail")
    model = event.get("model")
    usage = event.get("tokenUsage") or {}
    if not (
        (email is None or (type(email) is str and len(email) <= MAX_IDENTITY_ID))
        and (model is None or (type(model) is str and len(model) <= 128))
        and type(usage) is dict
    ):
        return None
    counts: list[int] = []
    for name in _TOKEN_FIELDS:
        count = usage.get(name)
        if count is None:
            counts.append(0)
        elif type(count) is int and count >= 0:
            counts.append(count)
        else:  # bool, float, text, negative: `token_count` decides
            return None
    return timestamp, email, model, counts, usage.get("totalCents")


class UsageEventReader:
    """Parses a window's C1 events fed in one or more pieces (in order), then `finish()` assigns the same-millisecond
    ordinals over the whole window. What repeats across events (the identity of an email, the normalised model of a
    raw model, the day of a millisecond, the dollars of an amount in cents) is computed once per window."""

    def __init__(self, *, organization_id: str, where: str) -> None:
        self._organization_id = organization_id
        self._where = where
        self.rows: list[UsageRow] = []
        self.skipped = 0
        self._identities: dict[str | None, str] = {}
        self._models: dict[str | None, tuple[str | None, str]] = {}
        self._days: dict[int, date] = {}
        self._dollars: dict[tuple[type, Any], Decimal] = {}

    def feed(self, events: Sequence[Any], first_index: int = 0) -> None:
        """Read events; `first_index` is the first one's position in the window (error texts name it)."""
        identities, models, days, dollars = self._identities, self._models, self._days, self._dollars
        where, organization, append = self._where, self._organization_id, self.rows.append  # locals: the hot loop
        skipped = 0
        for index, event in enumerate(events, start=first_index):
            fields = _read_plain_event(event)
            if fields is None:
                timestamp, email, model, counts, cost = _read_event(event, f"{where}: usageEvents[{index}]")
            else:
                timestamp, email, model, counts, cents = fields
                if cents is None or type(cents) in (int, float, str):
                    amount = (type(cents), cents)  # typed: 1, 1.0 and "1" are different inputs
                    if amount not in dollars:
                        dollars[amount] = cents_to_dollars(
                            cents, f"{where}: usageEvents[{index}].tokenUsage.totalCents"
                        )
                    cost = dollars[amount]
                else:  # bool, list, …: raises naming the field
                    cost = cents_to_dollars(cents, f"{where}: usageEvents[{index}].tokenUsage.totalCents")
            if not any(counts):
                skipped += 1
                continue
            if email not in identities:
                identities[email] = f"{TOOL}:{(email or '').strip().lower() or UNKNOWN_USER}"
            if model not in models:
                raw = stored_raw_model(model)
                models[model] = (raw, normalize_model_name(raw))
            raw_model, normalized = models[model]
            day = timestamp // _MS_PER_DAY
            if day not in days:
                days[day] = utc_day_of_ms(timestamp)
            append(
                UsageRow(
                    date=days[day],
                    identity=identities[email],
                    tool=TOOL,
                    model=normalized,
                    raw_model=raw_model,
                    input_tokens=counts[0],
                    cache_write_tokens=counts[1],
                    cache_read_tokens=counts[2],
                    output_tokens=counts[3],
                    cost=cost,
                    timestamp_ms=timestamp,
                    organization_id=organization,
                )
            )
        self.skipped += skipped

    def finish(self) -> tuple[list[UsageRow], int]:
        return assign_same_millisecond_ordinals(self.rows), self.skipped


def parse_usage_events(
    events: Sequence[Any], *, organization_id: str, where: str = "cursor usage_events"
) -> tuple[list[UsageRow], int]:
    """C1 events of one window → (rows, zero-token events skipped); one row per event, ordinals assigned.

    A missing `userEmail` gives identity `cursor:unknown`; a missing `tokenUsage`/count is 0 and a missing
    `totalCents` cost 0. A malformed timestamp or count raises ProviderError naming the field.

    Hot path of every Cursor sync (tens of thousands of events a day): well-typed events are read without building
    error texts, and what repeats across events (the identity of an email, the normalised model of a raw model, the
    day of a millisecond, the dollars of an amount in cents) is computed once per window. Anything unusual goes
    through `_read_event`, which checks every field in order and names the first bad one.
    """
    reader = UsageEventReader(organization_id=organization_id, where=where)
    reader.feed(events)
    return reader.finish()


_DAILY_COUNTS = (
    "acceptedLinesAdded",
    "acceptedLinesDeleted",
    "totalTabsShown",
    "totalApplies",
    "totalTabsAccepted",
    "totalAccepts",
    "composerRequests",
    "chatRequests",
    "agentRequests",
    "cmdkUsages",
)


def _daily_count(row: dict[str, Any], name: str, at: str) -> int:
    return token_count(row.get(name), f"{at}.{name}")


def parse_daily_usage(
    data: Sequence[Any], *, first: date, last: date, where: str = "cursor daily_usage"
) -> list[ActivityRow]:
    """C3 rows → one activity row per (date, email) (docs/providers.md §8): lines = accepted lines added / deleted,
    suggested = tabs shown + applies, accepted = tabs accepted + accepts, requests = composer + chat + agent + cmd-K,
    active = `isActive`. Missing counts are 0; a malformed one, a date that is not a UTC midnight inside first … last,
    a missing email or the same person twice on one day raises ProviderError naming the row (never a partial day)."""
    rows: dict[tuple[date, str], ActivityRow] = {}
    for index, row in enumerate(data):
        at = f"{where}: data[{index}]"
        if not isinstance(row, dict):
            raise ProviderError(f"{at}: is not an object")
        stamp = row.get("date")
        if isinstance(stamp, bool) or not isinstance(stamp, int) or stamp < 0 or stamp % _MS_PER_DAY:
            raise ProviderError(f"{at}.date: {stamp!r} is not epoch milliseconds of a UTC midnight")
        day = utc_day_of_ms(stamp)
        if not first <= day <= last:
            raise ProviderError(f"{at}.date: {day.isoformat()} is outside the requested {first} … {last}")
        email = optional_text(row.get("email"), f"{at}.email", max_length=MAX_IDENTITY_ID)
        if not email or not email.strip():
            raise ProviderError(f"{at}: response is missing field 'email'")
        identity = f"{TOOL}:{email.strip().lower()}"
        if (day, identity) in rows:
            raise ProviderError(f"{at}: {email} appears twice on {day.isoformat()}")
        active = row.get("isActive", False)
        if not isinstance(active, bool):
            raise ProviderError(f"{at}.isActive: {active!r} is not a boolean")
        count = {name: _daily_count(row, name, at) for name in _DAILY_COUNTS}
        rows[(day, identity)] = ActivityRow(
            date=day,
            identity=identity,
            lines_added=count["acceptedLinesAdded"],
            lines_removed=count["acceptedLinesDeleted"],
            suggested=count["totalTabsShown"] + count["totalApplies"],
            accepted=count["totalTabsAccepted"] + count["totalAccepts"],
            requests=count["composerRequests"] + count["chatRequests"] + count["agentRequests"] + count["cmdkUsages"],
            active=active,
        )
    return list(rows.values())


# ---------------------------------------------------------------------------------------------------------------
# store + runs


async def parse_usage_window(
    events: Sequence[Any], *, organization_id: str, where: str = "cursor usage_events"
) -> tuple[list[UsageRow], int]:
    """`parse_usage_events` in pieces of `PARSE_PIECE` events, handing the event loop back between them: the previous
    window's store (`run_windows` reads one window ahead) keeps PostgreSQL busy while this one is parsed. (Not a
    thread: the two would take turns on the GIL, each waiting for the other's switch interval.)"""
    reader = UsageEventReader(organization_id=organization_id, where=where)
    for start in range(0, len(events), PARSE_PIECE):
        reader.feed(events[start : start + PARSE_PIECE], start)
        await asyncio.sleep(0)
    return reader.finish()


async def _read_window(client: ProviderClient, start: datetime, end: datetime) -> tuple[list[UsageRow], int]:
    """Rows of one window (every page fetched, then parsed) and the number of raw events."""
    events = await fetch_usage_events(client, start, end)
    rows, _ = await parse_usage_window(
        events, organization_id=organization_id(client.label), where=_where("usage_events", client.label)
    )
    return rows, len(events)


def _window_name(window: tuple[datetime, datetime]) -> str:
    start, end = window
    return f"{start.isoformat().replace('+00:00', 'Z')}–{end.isoformat().replace('+00:00', 'Z')}"


def _window_end(window: tuple[datetime, datetime]) -> datetime:
    return window[1]


async def _run_windows(
    ctx: SyncContext,
    key: ProviderKey,
    windows: list[tuple[datetime, datetime]],
    result: SyncResult,
    *,
    advance_incremental: bool,
) -> None:
    """Read and store each window in its own transaction; stop at the first failure and record it."""
    async with _client(ctx, key) as client:
        await run_windows(
            ctx,
            state_id(key),
            windows,
            result,
            read=lambda w: _read_window(client, *w),
            name=_window_name,
            synced_until=_window_end if advance_incremental else None,
            provider=PROVIDER,
            unit="window",
            label=key.label,
            title=f"Cursor {key.label}",
        )


async def sync_incremental(ctx: SyncContext, key: ProviderKey) -> SyncResult:
    """Read [last_synced_hour_end − 2 h, last complete hour) (never synced: the last 24 h) in ≤ 1-day windows,
    one transaction per window advancing `last_synced_hour_end`; stops at the first failure. Idempotent."""
    result = SyncResult(provider=PROVIDER, label=key.label)
    end = hour_floor(ctx.now())
    async with ctx.sessionmaker() as db:
        state = await read_state(db, state_id(key))
    stored = state.last_synced_hour_end if state is not None else None
    start = hour_floor(stored) - TRAILING if stored is not None else end - FIRST_RUN
    start = min(start, end - TRAILING)
    await _run_windows(ctx, key, split_windows(start, end), result, advance_incremental=True)
    return result


async def sync_range(ctx: SyncContext, key: ProviderKey, start: date, end: date) -> SyncResult:
    """Read [start 00:00Z, end + 1 day 00:00Z) in one-day windows; no incremental or backfill state changes."""
    if end < start:
        raise ValueError(f"range end {end.isoformat()} is before its start {start.isoformat()}")
    result = SyncResult(provider=PROVIDER, label=key.label)
    windows = split_windows(day_start(start), day_start(end + timedelta(days=1)))
    await _run_windows(ctx, key, windows, result, advance_incremental=False)
    return result


async def backfill_step(
    ctx: SyncContext, key: ProviderKey, *, target: date | None = None, max_days: int = 14
) -> SyncResult:
    """Walk backwards at most `max_days` whole UTC days from `backfill_oldest_date` (unset: the day the first
    incremental window starts in), one transaction per day advancing the cursor; complete after 7 consecutive
    empty days or when `target` (default today − 365) is read. `result.complete` tells the runner to stop."""
    result = SyncResult(provider=PROVIDER, label=key.label, complete=False)
    now = ctx.now()
    walk = await start_backfill(
        ctx,
        state_id(key),
        result,
        first_day=(hour_floor(now) - FIRST_RUN).date(),
        target=target or now.date() - timedelta(days=BACKFILL_HORIZON_DAYS),
    )
    if walk is None:
        return result
    async with _client(ctx, key) as client:
        await walk_back(
            ctx,
            walk,
            result,
            max_days=max_days,
            read_day=lambda day: _read_window(client, day_start(day), day_start(day + timedelta(days=1))),
            empty_days_to_stop=BACKFILL_EMPTY_DAYS,
            provider=PROVIDER,
            label=key.label,
            title=f"Cursor backfill {key.label}",
        )
    return result


# C3 daily activity: its own state per key (`cursor-activity:<label>`), whole UTC days per window.


def day_windows(first: date, last: date) -> list[tuple[date, date]]:
    """The days first … last cut into consecutive windows of at most 90 days (one C3 call each)."""
    windows = []
    while first <= last:
        stop = min(first + timedelta(days=ACTIVITY_MAX_DAYS - 1), last)
        windows.append((first, stop))
        first = stop + timedelta(days=1)
    return windows


async def _read_activity(client: ProviderClient, window: tuple[date, date]) -> WindowRead:
    """The activity of the window's days (one C3 call, then parse); the raw count is the active person-days, so a
    run of days nobody was active counts as empty for the backfill."""
    first, last = window
    data = await fetch_daily_usage(client, first, last)
    rows = parse_daily_usage(data, first=first, last=last, where=_where("daily_usage", client.label))
    days = tuple(first + timedelta(days=n) for n in range((last - first).days + 1))
    batch = ActivityBatch(TOOL, organization_id(client.label), days, tuple(rows))
    return WindowRead([], sum(row.active for row in rows), batch)


def _days_name(window: tuple[date, date]) -> str:
    first, last = window
    return first.isoformat() if first == last else f"{first.isoformat()}–{last.isoformat()}"


async def _run_activity_windows(
    ctx: SyncContext, key: ProviderKey, windows: list[tuple[date, date]], result: SyncResult, *, advance: bool
) -> None:
    async with _client(ctx, key) as client:
        await run_windows(
            ctx,
            activity_state_id(key),
            windows,
            result,
            read=lambda w: _read_activity(client, w),
            name=_days_name,
            synced_until=(lambda w: day_start(w[1])) if advance else None,
            provider=PROVIDER,
            unit="window",
            label=key.label,
            title=f"Cursor activity {key.label}",
        )


async def sync_activity_incremental(ctx: SyncContext, key: ProviderKey) -> SyncResult:
    """Re-read the C3 days min(last day read, today − 3) … today, one transaction per ≤ 90-day window replacing
    those days' activity and advancing `last_synced_hour_end` to the start of its last day. Idempotent."""
    result = SyncResult(provider=PROVIDER, label=key.label)
    today = ctx.today()
    async with ctx.sessionmaker() as db:
        state = await read_state(db, activity_state_id(key))
    start = today - timedelta(days=ACTIVITY_TRAILING_DAYS)
    if state is not None and state.last_synced_hour_end is not None:
        start = min(start, state.last_synced_hour_end.astimezone(UTC).date())
    await _run_activity_windows(ctx, key, day_windows(start, today), result, advance=True)
    return result


async def sync_activity_range(ctx: SyncContext, key: ProviderKey, start: date, end: date) -> SyncResult:
    """Re-read the C3 days start … end (≤ 90-day windows); no incremental or backfill state changes."""
    if end < start:
        raise ValueError(f"range end {end.isoformat()} is before its start {start.isoformat()}")
    result = SyncResult(provider=PROVIDER, label=key.label)
    await _run_activity_windows(ctx, key, day_windows(start, end), result, advance=False)
    return result


async def activity_backfill_step(
    ctx: SyncContext, key: ProviderKey, *, target: date | None = None, max_days: int = 14
) -> SyncResult:
    """Walk the C3 days backwards like C1's backfill: at most `max_days` days below the oldest read (unset: the
    day before the forward window, today − 4), one transaction per day; complete after 7 consecutive days without
    an active person or when `target` (default today − 365) is read."""
    result = SyncResult(provider=PROVIDER, label=key.label, complete=False)
    today = ctx.today()
    walk = await start_backfill(
        ctx,
        activity_state_id(key),
        result,
        first_day=today - timedelta(days=ACTIVITY_TRAILING_DAYS + 1),
        target=target or today - timedelta(days=BACKFILL_HORIZON_DAYS),
    )
    if walk is None:
        return result
    async with _client(ctx, key) as client:
        await walk_back(
            ctx,
            walk,
            result,
            max_days=max_days,
            read_day=lambda day: _read_activity(client, (day, day)),
            empty_days_to_stop=BACKFILL_EMPTY_DAYS,
            provider=PROVIDER,
            label=key.label,
            title=f"Cursor activity backfill {key.label}",
        )
    return result


def combined(usage: SyncResult, activity: SyncResult) -> SyncResult:
    """One key's usage (C1) and activity (C3) runs as one result: complete only when both are."""
    both = SyncResult(
        provider=PROVIDER,
        label=usage.label,
        records=usage.records + activity.records,
        windows=usage.windows + activity.windows,
        errors=[*usage.errors, *(f"activity {error}" for error in activity.errors)],
        complete=None if usage.complete is None else bool(usage.complete and activity.complete),
        detail=usage.detail,
    )
    if activity.detail:
        both.add_detail(f"activity: {activity.detail}")
    return both


def seat_rows(members: Sequence[dict[str, Any]], price: Decimal) -> list[SeatRow]:
    """C2 members → seats: every member holds one at the team's seat price (plan = their role; C2 gives no dates)."""
    return [
        SeatRow(
            identity=f"{TOOL}:{member['email']}",
            plan=optional_text(member.get("role"), "cursor members: role", max_length=32),
            since=None,
            last_activity_at=None,
            price_usd=price,
        )
        for member in members
    ]


async def sync_seats(ctx: SyncContext, key: ProviderKey) -> SyncResult:
    """Replace the team's stored seats with its C2 member list (one transaction with `cursor-seats:<label>`)."""
    result = SyncResult(provider=PROVIDER, label=key.label)

    async def read() -> list[SeatRow]:
        return seat_rows(await fetch_members(ctx, key), ctx.settings.cursor.seat_price_usd)

    await sync_seat_list(
        ctx,
        seats_state_id(key),
        result,
        read=read,
        tool=TOOL,
        organization_id=organization_id(key.label),
        provider=PROVIDER,
        label=key.label,
    )
    return result


async def sync_usage_and_activity(ctx: SyncContext, key: ProviderKey) -> SyncResult:
    """The forward job: C1 usage, C3 activity, then C2 seats (each with its own state; one failing does not stop
    the others)."""
    both = combined(await sync_incremental(ctx, key), await sync_activity_incremental(ctx, key))
    seats = await sync_seats(ctx, key)
    both.records += seats.records
    both.errors.extend(seats.errors)
    if seats.detail:
        both.add_detail(seats.detail)
    return both


async def sync_range_usage_and_activity(ctx: SyncContext, key: ProviderKey, start: date, end: date) -> SyncResult:
    return combined(await sync_range(ctx, key, start, end), await sync_activity_range(ctx, key, start, end))


async def backfill_usage_and_activity(ctx: SyncContext, key: ProviderKey, target: date | None) -> SyncResult:
    return combined(await backfill_step(ctx, key, target=target), await activity_backfill_step(ctx, key, target=target))


def status_rows(settings: Settings, state_ids: Iterable[str]) -> list[StatusRow]:
    """Per team key: its usage row, its daily-activity row and its seat-list row."""
    rows = []
    for key in settings.cursor.keys:
        rows.append(StatusRow(state_id(key), key.label))
        rows.append(StatusRow(activity_state_id(key), f"{key.label} · daily activity", hourly=False))
        rows.append(StatusRow(seats_state_id(key), f"{key.label} · seats", backfills=False, hourly=False))
    return rows


# --------------------------------------------------------------------------------------------------------------
# Registration (providers/registry.py lists this)

DESCRIPTION = Provider(
    name=PROVIDER,
    display_name="Cursor",
    tool=TOOL,
    key_noun="Team",
    keys=lambda settings: settings.cursor.keys,
    state_id=state_id,
    sync_incremental=sync_usage_and_activity,
    sync_range=sync_range_usage_and_activity,
    backfill_step=backfill_usage_and_activity,
    status_rows=status_rows,
    jobs=(
        Job("sync_cursor", "forward", "Hourly", minute=0),
        Job("backfill_cursor", "backfill", "Every 6 hours until complete", minute=25, hours=frozenset({3, 9, 15, 21})),
    ),
    fresh_within=timedelta(hours=2),
    hourly_progress=True,
    emulator_module="abacus.emulators.cursor",
)
