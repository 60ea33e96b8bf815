"""GitHub Copilot → activity rows and seats (docs/providers.md §9): fetch → parse → store, one organisation.

*fetch* asks P1 for one day's per-user report (`download_links`), then downloads every NDJSON file of it; a 404 means
the report is not published yet (`NotPublished`: a forward run stops there without an error and without advancing),
and a download link answering 403 has expired, so the report is asked for again (fresh links) up to
`LINK_ATTEMPTS` times. P2 lists the seats, every page. *parse* is pure: NDJSON lines → one `ActivityRow` per user
(a bad line fails the whole day, naming its file and line); seat objects → `SeatRecord`s. *store* replaces the day's
activity in the transaction that advances the `sync_state` (the shared window loop), so a failed day leaves data and
state as they were.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from abacus.domain.periods import day_start
from abacus.domain.seats import parse_plan_prices, plan_price
from abacus.domain.tools import GITHUB_COPILOT
from abacus.logging_setup import get_logger
from abacus.providers.github import InstallationAuth
from abacus.providers.http import TIMEOUT, ProviderClient, require
from abacus.providers.provider import Job, Provider, StatusRow
from abacus.providers.wire import MAX_IDENTITY_ID, optional_text, token_count
from abacus.records import ActivityBatch, ActivityRow, NotPublished, ProviderError, SeatRow
from abacus.settings import ProviderKey, Settings
from abacus.sync.context import SyncContext, SyncResult
from abacus.sync.seat_store import sync_seat_list
from abacus.sync.state import read_state
from abacus.sync.windows import WindowRead, run_windows, start_backfill, walk_back

log = get_logger(__name__)

PROVIDER = "copilot"
TOOL = GITHUB_COPILOT  # the tool key commit attribution already uses for Copilot
IDENTITY_SOURCE = "copilot"  # identities are `copilot:<login>`
API_VERSION = "2026-03-10"
ACCEPT = "application/vnd.github+json"
FIRST_REPORT_DAY = date(2025, 10, 10)  # GitHub keeps per-user reports from this day, at most a year back
TRAILING_DAYS = 3  # forward runs re-read [today − 3, today]: reports can land late
BACKFILL_UNPUBLISHED_DAYS = 7  # consecutive days without a report that end the backwards walk
BACKFILL_HORIZON_DAYS = 365
LINK_ATTEMPTS = 3  # how many times one day's report is asked for when its download links keep expiring
SEATS_PER_PAGE = 100
MAX_PAGES = 1_000

# What a P1 line may carry besides the counts we store; anything else is logged once per run as unknown.
KNOWN_FIELDS = frozenset(
    {
        "user_login",
        "user_id",
        "day",
        "report_day",
        "enterprise_id",
        "organization_id",
        "user_initiated_interaction_count",
        "code_generation_activity_count",
        "code_acceptance_activity_count",
        "loc_suggested_to_add_sum",
        "loc_suggested_to_delete_sum",
        "loc_added_sum",
        "loc_deleted_sum",
        "used_agent",
        "used_chat",
    }
)

# Per-request timeout of the HTTP clients; a module setting so tests can shorten it.
REQUEST_TIMEOUT: httpx.Timeout | float = TIMEOUT


def configured_keys(settings: Settings) -> tuple[ProviderKey, ...]:
    """The one organisation key when COPILOT_ENABLED=1 and an org and credentials (token or GitHub App) are set."""
    copilot, github = settings.copilot, settings.github
    org = copilot.org or github.org
    token = copilot.token or github.token
    if not copilot.enabled or not org or not (token or github.uses_app):
        return ()
    return (ProviderKey(org, token or ""),)


def state_id(key: ProviderKey) -> str:
    """The `sync_state` row of the per-user reports: `copilot:<org>`."""
    return f"{PROVIDER}:{key.label}"


def seats_state_id(key: ProviderKey) -> str:
    """The `sync_state` row of the seat list: `copilot-seats:<org>`."""
    return f"{PROVIDER}-seats:{key.label}"


def organization_id(org: str) -> str:
    """`organization_id` of the org's activity rows: `copilot:<org>`."""
    return f"{PROVIDER}:{org}"


# ---------------------------------------------------------------------------------------------------------------
# fetch


def _api_url(settings: Settings) -> str:
    return settings.copilot.api_url or settings.github.api_url


def _client(ctx: SyncContext, key: ProviderKey) -> ProviderClient:
    headers = {"Accept": ACCEPT, "X-GitHub-Api-Version": API_VERSION}
    auth: httpx.Auth | None = None
    if key.key:
        headers["Authorization"] = f"Bearer {key.key}"
    else:  # no token: the GitHub App's installation token
        auth = InstallationAuth(ctx.settings, ctx.backoff_base)
    return ProviderClient(
        provider=PROVIDER,
        base_url=_api_url(ctx.settings),
        label=key.label,
        headers=headers,
        auth=auth,
        pacing_seconds=ctx.settings.pacing_seconds("github"),
        backoff_base=ctx.backoff_base,
        timeout=REQUEST_TIMEOUT,
    )


def _download_client(ctx: SyncContext, key: ProviderKey) -> ProviderClient:
    """For the signed report links: no credentials (the link is the credential; a token must not leave GitHub)."""
    return ProviderClient(
        provider=PROVIDER,
        base_url=_api_url(ctx.settings),
        label=key.label,
        backoff_base=ctx.backoff_base,
        timeout=REQUEST_TIMEOUT,
    )


def _where(endpoint: str, label: str) -> str:
    return f"{PROVIDER} {endpoint} (key {label})"


async def fetch_report_links(client: ProviderClient, day: date) -> list[str]:
    """P1: the download links of one day's per-user report; NotPublished when GitHub answers 404."""
    where = _where("report", client.label)
    response = await client.request(
        "GET",
        f"/orgs/{client.label}/copilot/metrics/reports/users-1-day",
        endpoint="report",
        params={"day": day.isoformat()},
        accept=frozenset({404}),
    )
    if response.status_code == 404:
        raise NotPublished(f"{where}: no report for {day.isoformat()} yet (HTTP 404)")
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProviderError(f"{where}: malformed JSON in response") from None
    links = require(body, "download_links", where=where)
    if not isinstance(links, list) or not all(isinstance(link, str) and link for link in links):
        raise ProviderError(f"{where}: field 'download_links' is not a list of URLs")
    return links


async def download(client: ProviderClient, url: str) -> str | None:
    """One report file's text, or None when its signed link answers 403 (expired: ask for the report again)."""
    response = await client.request("GET", url, endpoint="download", accept=frozenset({403}))
    if response.status_code == 403:
        return None
    try:
        return response.content.decode()
    except UnicodeDecodeError:
        raise ProviderError(f"{_where('download', client.label)}: report file is not UTF-8") from None


async def fetch_report_day(api: ProviderClient, downloads: ProviderClient, day: date) -> list[str]:
    """Every NDJSON file of one day's report. Expired links make it ask for the report again (fresh links), at most
    `LINK_ATTEMPTS` times; NotPublished / ProviderError otherwise."""
    for attempt in range(1, LINK_ATTEMPTS + 1):
        files: list[str] = []
        for url in await fetch_report_links(api, day):
            text = await download(downloads, url)
            if text is None:
                log.info(
                    "copilot download link expired; asking for the report again", day=day.isoformat(), attempt=attempt
                )
                break
            files.append(text)
        else:
            return files
    raise ProviderError(
        f"{_where('download', api.label)}: the download links of {day.isoformat()} expired {LINK_ATTEMPTS} times"
    )


async def fetch_seats(client: ProviderClient) -> list[Any]:
    """P2: every seat object of the organisation (all pages, until a short page or `total_seats`)."""
    where = _where("seats", client.label)
    seats: list[Any] = []
    for page in range(1, MAX_PAGES + 1):
        body = await client.json(
            "GET",
            f"/orgs/{client.label}/copilot/billing/seats",
            endpoint="seats",
            params={"per_page": SEATS_PER_PAGE, "page": page},
        )
        chunk = require(body, "seats", where=where)
        total = require(body, "total_seats", where=where)
        if not isinstance(chunk, list):
            raise ProviderError(f"{where}: field 'seats' is not a list")
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ProviderError(f"{where}: total_seats {total!r} is not a count")
        seats.extend(chunk)
        if not chunk or len(seats) >= total:
            return seats
    raise ProviderError(f"{where}: more than {MAX_PAGES} pages")


# ---------------------------------------------------------------------------------------------------------------
# parse (pure)


def _count(record: dict[str, Any], name: str, at: str) -> int:
    return token_count(record.get(name), f"{at}.{name}")


def parse_user_report(
    files: Sequence[str], *, day: date, where: str = "copilot report"
) -> tuple[list[ActivityRow], set[str]]:
    """P1 NDJSON files of one day → (one activity row per user, unknown field names seen).

    sessions = `user_initiated_interaction_count`, lines = `loc_added_sum` / `loc_deleted_sum`, suggested =
    `code_generation_activity_count`, accepted = `code_acceptance_activity_count`, active = true (being in the report);
    `user_id`, the `used_*` flags, the suggested-lines sums and every `totals_by_*` breakdown go to `details`. The email
    resolves through the GitHub mapping of `user_id`. A line that is not a JSON object, lacks `user_login`, is dated
    another day, has a malformed count or repeats a user raises ProviderError naming its file and line.
    """
    rows: dict[str, ActivityRow] = {}
    unknown: set[str] = set()
    for file_number, text in enumerate(files, start=1):
        for line_number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            at = f"{where}: {day.isoformat()} file {file_number} line {line_number}"
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ProviderError(f"{at}: malformed JSON ({exc})") from None
            if not isinstance(record, dict):
                raise ProviderError(f"{at}: is not a JSON object")
            login = optional_text(record.get("user_login"), f"{at}.user_login", max_length=MAX_IDENTITY_ID)
            if not login or not login.strip():
                raise ProviderError(f"{at}: missing field 'user_login'")
            stated = record.get("day", day.isoformat())
            if stated != day.isoformat():
                raise ProviderError(f"{at}.day: {stated!r} is not {day.isoformat()}")
            user_id = record.get("user_id")
            if user_id is not None and (isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 1):
                raise ProviderError(f"{at}.user_id: {user_id!r} is not a GitHub user id")
            identity = f"{IDENTITY_SOURCE}:{login.strip().lower()}"
            if identity in rows:
                raise ProviderError(f"{at}: user {login!r} appears twice in the report")
            details: dict[str, object] = {
                name: value
                for name, value in record.items()
                if name.startswith("totals_by_")
                or name in ("user_id", "used_agent", "used_chat")
                or name.startswith("loc_suggested")
            }
            unknown.update(name for name in record if name not in KNOWN_FIELDS and not name.startswith("totals_by_"))
            rows[identity] = ActivityRow(
                date=day,
                identity=identity,
                sessions=_count(record, "user_initiated_interaction_count", at),
                lines_added=_count(record, "loc_added_sum", at),
                lines_removed=_count(record, "loc_deleted_sum", at),
                suggested=_count(record, "code_generation_activity_count", at),
                accepted=_count(record, "code_acceptance_activity_count", at),
                active=True,
                details=details,
                mapping=("github", str(user_id)) if user_id is not None else None,
            )
    return list(rows.values()), unknown


@dataclass(frozen=True)
class SeatRecord:
    """One P2 seat: its holder's GitHub account, plan and dates."""

    login: str
    user_id: str | None
    plan: str | None
    team: str | None
    created_at: datetime | None
    last_activity_at: datetime | None
    last_activity_editor: str | None
    pending_cancellation: date | None


def _moment(value: Any, at: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProviderError(f"{at}: {value!r} is not a timestamp")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ProviderError(f"{at}: {value!r} is not a timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_seats(seats: Sequence[Any], *, where: str = "copilot seats") -> list[SeatRecord]:
    """P2 seat objects → seat records; a seat without an assignee login or with a malformed date raises
    ProviderError naming it, so a seat list is never stored in part."""
    out: dict[str, SeatRecord] = {}
    for index, seat in enumerate(seats):
        at = f"{where}: seats[{index}]"
        if not isinstance(seat, dict):
            raise ProviderError(f"{at}: is not an object")
        assignee = seat.get("assignee")
        if not isinstance(assignee, dict):
            raise ProviderError(f"{at}: missing field 'assignee'")
        login = optional_text(assignee.get("login"), f"{at}.assignee.login", max_length=MAX_IDENTITY_ID)
        if not login or not login.strip():
            raise ProviderError(f"{at}: missing field 'assignee.login'")
        user_id = assignee.get("id")
        if user_id is not None and (isinstance(user_id, bool) or not isinstance(user_id, int)):
            raise ProviderError(f"{at}.assignee.id: {user_id!r} is not a GitHub user id")
        team = seat.get("assigning_team")
        cancellation = seat.get("pending_cancellation_date")
        try:
            pending = date.fromisoformat(cancellation) if isinstance(cancellation, str) else None
        except ValueError:
            raise ProviderError(f"{at}.pending_cancellation_date: {cancellation!r} is not a date") from None
        out[login.strip().lower()] = SeatRecord(
            login=login.strip().lower(),
            user_id=str(user_id) if user_id is not None else None,
            plan=optional_text(seat.get("plan_type"), f"{at}.plan_type", max_length=32),
            team=optional_text(team.get("slug"), f"{at}.assigning_team.slug", max_length=128)
            if isinstance(team, dict)
            else None,
            created_at=_moment(seat.get("created_at"), f"{at}.created_at"),
            last_activity_at=_moment(seat.get("last_activity_at"), f"{at}.last_activity_at"),
            last_activity_editor=optional_text(
                seat.get("last_activity_editor"), f"{at}.last_activity_editor", max_length=255
            ),
            pending_cancellation=pending,
        )
    return list(out.values())


# ---------------------------------------------------------------------------------------------------------------
# store + runs


async def _read_day(api: ProviderClient, downloads: ProviderClient, day: date) -> WindowRead:
    """One day's report (every file), parsed; the report itself counts as a record, so only unpublished days (404)
    are empty for the backfill."""
    where = _where("report", api.label)
    files = await fetch_report_day(api, downloads, day)
    rows, unknown = parse_user_report(files, day=day, where=where)
    if unknown:
        log.warning(
            "copilot report has unknown fields (ignored)", org=api.label, day=day.isoformat(), fields=sorted(unknown)
        )
    batch = ActivityBatch(TOOL, organization_id(api.label), (day,), tuple(rows))
    return WindowRead([], 1 + len(rows), batch)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


async def _run_days(ctx: SyncContext, key: ProviderKey, days: list[date], result: SyncResult, *, advance: bool) -> None:
    async with _client(ctx, key) as api, _download_client(ctx, key) as downloads:
        await run_windows(
            ctx,
            state_id(key),
            days,
            result,
            read=lambda day: _read_day(api, downloads, day),
            name=date.isoformat,
            synced_until=day_start if advance else None,
            provider=PROVIDER,
            unit="day",
            label=key.label,
            title=f"Copilot {key.label}",
        )


async def sync_incremental(ctx: SyncContext, key: ProviderKey) -> SyncResult:
    """Read the reports of min(last day read, today − 3) … today, one transaction per day replacing its activity
    and advancing `last_synced_hour_end` to the day's start; the first unpublished day (404) ends the run without an
    error and without advancing past it. Idempotent."""
    result = SyncResult(provider=PROVIDER, label=key.label)
    today = ctx.today()
    async with ctx.sessionmaker() as db:
        state = await read_state(db, state_id(key))
    start = today - timedelta(days=TRAILING_DAYS)
    if state is not None and state.last_synced_hour_end is not None:
        start = min(start, state.last_synced_hour_end.astimezone(UTC).date())
    await _run_days(ctx, key, _days(max(start, FIRST_REPORT_DAY), today), result, advance=True)
    return result


async def sync_range(ctx: SyncContext, key: ProviderKey, start: date, end: date) -> SyncResult:
    """Re-read the reports of start … end (stops at the first unpublished day); no state moves."""
    if end < start:
        raise ValueError(f"range end {end.isoformat()} is before its start {start.isoformat()}")
    result = SyncResult(provider=PROVIDER, label=key.label)
    await _run_days(ctx, key, _days(max(start, FIRST_REPORT_DAY), end), result, advance=False)
    return result


async def backfill_step(
    ctx: SyncContext, key: ProviderKey, *, target: date | None = None, max_days: int = 14
) -> SyncResult:
    """Walk backwards at most `max_days` days from today − 4, one transaction per day; complete after 7 consecutive
    unpublished days (404) or once `target` (default: the later of 2025-10-10 and today − 365) is read."""
    result = SyncResult(provider=PROVIDER, label=key.label, complete=False)
    today = ctx.today()
    floor = max(FIRST_REPORT_DAY, today - timedelta(days=BACKFILL_HORIZON_DAYS))
    walk = await start_backfill(
        ctx,
        state_id(key),
        result,
        first_day=today - timedelta(days=TRAILING_DAYS + 1),
        target=max(target, floor) if target else floor,
    )
    if walk is None:
        return result
    async with _client(ctx, key) as api, _download_client(ctx, key) as downloads:
        await walk_back(
            ctx,
            walk,
            result,
            read_day=lambda day: _read_day(api, downloads, day),
            max_days=max_days,
            empty_days_to_stop=BACKFILL_UNPUBLISHED_DAYS,
            provider=PROVIDER,
            label=key.label,
            title=f"Copilot backfill {key.label}",
        )
    return result


def seat_rows(seats: Sequence[SeatRecord], prices: dict[str, Decimal]) -> list[SeatRow]:
    """P2 seats → stored seats: identity `copilot:<login>`, email through the GitHub mapping of the user id, price
    by `plan_type` (COPILOT_SEAT_PRICE_USD)."""
    return [
        SeatRow(
            identity=f"{IDENTITY_SOURCE}:{seat.login}",
            plan=seat.plan,
            since=seat.created_at,
            last_activity_at=seat.last_activity_at,
            price_usd=plan_price(seat.plan, prices),
            details={
                "user_id": seat.user_id,
                "team": seat.team,
                "last_activity_editor": seat.last_activity_editor,
                "pending_cancellation_date": seat.pending_cancellation.isoformat()
                if seat.pending_cancellation
                else None,
            },
            mapping=("github", seat.user_id) if seat.user_id is not None else None,
        )
        for seat in seats
    ]


async def sync_seats(ctx: SyncContext, key: ProviderKey) -> SyncResult:
    """Replace the org's stored Copilot seats with P2's list (one transaction with `copilot-seats:<org>`)."""
    result = SyncResult(provider=PROVIDER, label=key.label)

    async def read() -> list[SeatRow]:
        async with _client(ctx, key) as client:
            seats = parse_seats(await fetch_seats(client), where=_where("seats", key.label))
        return seat_rows(seats, parse_plan_prices(ctx.settings.copilot.seat_prices))

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


async def sync_reports_and_seats(ctx: SyncContext, key: ProviderKey) -> SyncResult:
    """The forward job (hourly): the seat list, then the daily reports (their own states; one failing does not stop
    the other)."""
    seats = await sync_seats(ctx, key)
    result = await sync_incremental(ctx, key)
    result.records += seats.records
    result.errors.extend(seats.errors)
    if seats.detail:
        result.add_detail(seats.detail)
    return result


def status_rows(settings: Settings, state_ids: Any) -> list[StatusRow]:
    rows = []
    for key in configured_keys(settings):
        rows.append(StatusRow(state_id(key), f"{key.label} · daily reports"))
        rows.append(StatusRow(seats_state_id(key), f"{key.label} · seats", backfills=False, hourly=False))
    return rows


# --------------------------------------------------------------------------------------------------------------
# Registration (providers/registry.py lists this)

DESCRIPTION = Provider(
    name=PROVIDER,
    display_name="GitHub Copilot",
    tool=None,  # no usage rows (Copilot reports no tokens or cost): its cost is its seats
    key_noun="Organization",
    keys=configured_keys,
    state_id=state_id,
    sync_incremental=sync_reports_and_seats,
    sync_range=sync_range,
    backfill_step=lambda ctx, key, target: backfill_step(ctx, key, target=target),
    jobs=(
        Job("sync_copilot", "forward", "Hourly", minute=40),
        Job("backfill_copilot", "backfill", "Every 6 hours until complete", minute=50, hours=frozenset({3, 9, 15, 21})),
    ),
    fresh_within=timedelta(hours=2),
    status_rows=status_rows,
    emulator_module="abacus.emulators.copilot",
)
