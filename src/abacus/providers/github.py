"""GitHub: fetch (REST G1–G6, GraphQL G7, App tokens G8) → parse (pure) → store (commit_store), docs/providers.md §4.

Public API used by the job runner, the CLI and the webhook follow-up:
`sync_incremental`, `sync_range`, `backfill_step`, `sync_mappings`, `process_push`, `list_org_members`,
`get_user`; state ids `org_state_id` and `repo_state_id(full_name)`.

Per-repo state `github:<owner>/<repo>`: `last_synced_hour_end` (end of the last incremental window read),
`backfill_oldest_date` (oldest UTC day fully read by the backfill), `backfill_complete`. Every repo window is stored
in one transaction together with its state advance; a failed window leaves its state untouched.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.db import live_write
from abacus.domain.attribution import attribute_commit, is_bot_author, is_merge_commit, noreply_user_id
from abacus.domain.periods import day_start
from abacus.domain.teams import TEAMS_STATE_ID, TeamError, validate_slug
from abacus.logging_setup import get_logger
from abacus.models import SyncState, WebhookDelivery
from abacus.providers.http import ProviderClient, RateLimited, require
from abacus.providers.provider import Job, Provider, StatusRow
from abacus.records import CommitAttributionRecord, CommitRecord, ProviderError
from abacus.services.mappings import MappingError, set_mapping
from abacus.settings import ProviderKey, Settings
from abacus.sync.commit_store import (
    author_ids_without_mapping,
    get_or_create_repository,
    github_mappings,
    shas_with_stats,
    store_commits,
)
from abacus.sync.context import SyncContext, SyncResult
from abacus.sync.state import lock_state, read_state, record_error
from abacus.sync.team_store import FetchedMember, FetchedTeam, emails_for_github_users, store_github_teams

log = get_logger("abacus.github")

PROVIDER = "github"
API_VERSION = "2022-11-28"
ACCEPT = "application/vnd.github+json"
PER_PAGE = 100
MAX_PAGES = 5000
INCREMENTAL_HOURS = 48
BACKFILL_WINDOW_DAYS = 30
TOKEN_REFRESH_MARGIN = 600  # seconds before `expires_at` at which a cached installation token is replaced
STATE_ID_MAX = 64  # sync_state.id is varchar(64)

org_state_id = "github"

MEMBERS_QUERY = (
    "query($org: String!, $cursor: String) { organization(login: $org) { "
    "membersWithRole(first: 100, after: $cursor) { nodes { login databaseId "
    "organizationVerifiedDomainEmails(login: $org) } pageInfo { hasNextPage endCursor } } } }"
)


def repo_state_id(full_name: str) -> str:
    """`github:<owner>/<repo>`; names too long for the 64-character key keep a prefix plus a stable hash."""
    state_id = f"{org_state_id}:{full_name}"
    if len(state_id) <= STATE_ID_MAX:
        return state_id
    digest = hashlib.sha256(full_name.encode()).hexdigest()[:12]
    return f"{state_id[: STATE_ID_MAX - 13]}~{digest}"


# --------------------------------------------------------------------------------------------------------------
# Auth (docs/providers.md §4.1)


def app_jwt(app_id: str, private_key: str, *, now: float | None = None) -> str:
    """RS256 GitHub App JWT `{iat: now−60, exp: now+600, iss: app id}`; PKCS#1, PKCS#8 and `\\n`-escaped PEM."""
    pem = private_key.replace("\\n", "\n").strip()
    try:
        key = RSAKey.import_key(pem)
    except (JoseError, ValueError, TypeError) as exc:
        raise ProviderError("GITHUB_APP_PRIVATE_KEY is not a PEM RSA private key (PKCS#1 or PKCS#8)") from exc
    if not key.is_private:
        raise ProviderError("GITHUB_APP_PRIVATE_KEY holds a public key; the App's private key is needed")
    issued = int(time.time() if now is None else now)
    issuer: str | int = int(app_id) if app_id.strip().isdigit() else app_id.strip()
    return jwt.encode({"alg": "RS256", "typ": "JWT"}, {"iat": issued - 60, "exp": issued + 600, "iss": issuer}, key)


# (api url, app id, installation id) → (token, wall-clock time after which it must be replaced)
# (no lock: two concurrent refreshes merely fetch two valid tokens)
_installation_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}


def _api_headers() -> dict[str, str]:
    return {"Accept": ACCEPT, "X-GitHub-Api-Version": API_VERSION}


def _credential_label(settings: Settings) -> str:
    return f"app {settings.github.app_id}" if _uses_app(settings) else "GITHUB_TOKEN"


def _uses_app(settings: Settings) -> bool:
    return bool(settings.github.app_id and settings.github.app_private_key and settings.github.app_installation_id)


async def installation_token(
    settings: Settings,
    *,
    backoff_base: float = 1.0,
    refresh: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> str:
    """An installation access token (G8), cached per app + installation until 10 min before it expires."""
    app_id = str(settings.github.app_id)
    installation = str(settings.github.app_installation_id)
    key = (settings.github.api_url, app_id, installation)
    cached = _installation_tokens.get(key)
    if cached and not refresh and time.time() < cached[1]:
        return cached[0]
    bearer = app_jwt(app_id, settings.github.app_private_key or "")
    async with ProviderClient(
        PROVIDER,
        settings.github.api_url,
        label=f"app {app_id}",
        headers={**_api_headers(), "Authorization": f"Bearer {bearer}"},
        backoff_base=backoff_base,
        transport=transport,
    ) as client:
        where = "github access_tokens"
        body = await client.json("POST", f"/app/installations/{installation}/access_tokens", endpoint="access_tokens")
        token = require(body, "token", where=where)
        expires_at = parse_timestamp(require(body, "expires_at", where=where), where=where)
    if not isinstance(token, str) or not token:
        raise ProviderError(f"{where}: token is not a string")
    _installation_tokens[key] = (token, expires_at.timestamp() - TOKEN_REFRESH_MARGIN)
    return token


class InstallationAuth(httpx.Auth):
    """Bearer installation token on every request; a 401 refreshes the token once (it may have been revoked)."""

    def __init__(self, settings: Settings, backoff_base: float) -> None:
        self.settings = settings
        self.backoff_base = backoff_base

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("GitHub App auth is async only")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await installation_token(self.settings, backoff_base=self.backoff_base)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = await installation_token(self.settings, backoff_base=self.backoff_base, refresh=True)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


def credentials_error(settings: Settings) -> str | None:
    """Why GitHub cannot be called with these settings, or None."""
    if not settings.github.org:
        return "GitHub organisation not configured (set GITHUB_ORG)"
    if not settings.github.token and not _uses_app(settings):
        return (
            "GitHub credentials not configured (set GITHUB_TOKEN, or GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY and "
            "GITHUB_APP_INSTALLATION_ID)"
        )
    return None


# --------------------------------------------------------------------------------------------------------------
# Fetch (docs/providers.md §4.2)


class GitHubAPI:
    """The REST/GraphQL calls Abacus makes, over one authenticated ProviderClient."""

    def __init__(self, client: ProviderClient, org: str) -> None:
        self.client = client
        self.org = org

    async def _pages(
        self, path: str, params: dict[str, Any], *, endpoint: str, stop_when_short: bool
    ) -> AsyncIterator[list[Any]]:
        """Each page of a list endpoint: `Link: rel="next"` when sent, else `page=N` until an empty page
        (or, with `stop_when_short`, a page of fewer than `per_page` items)."""
        where = f"github {endpoint}"
        url: str | None = path
        query: dict[str, Any] | None = {**params, "per_page": PER_PAGE, "page": 1}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            response = await self.client.request("GET", url or path, endpoint=endpoint, params=query)
            try:
                items = response.json()
            except ValueError as exc:
                raise ProviderError(f"{where}: malformed JSON in response") from exc
            if not isinstance(items, list):
                raise ProviderError(f"{where}: expected a JSON array, got {type(items).__name__}")
            yield items
            if "link" in response.headers:
                next_link = response.links.get("next", {}).get("url")
                if not next_link or next_link in seen:
                    return
                seen.add(next_link)
                url, query = next_link, None
                continue
            if not items or (stop_when_short and len(items) < PER_PAGE):
                return
            assert query is not None
            query = {**query, "page": int(query["page"]) + 1}
        raise ProviderError(f"{where}: more than {MAX_PAGES} pages")

    async def org_repos(self) -> list[dict[str, Any]]:
        """G1: every repository of the org (archived ones included; callers filter)."""
        repos: list[dict[str, Any]] = []
        async for page in self._pages(f"/orgs/{self.org}/repos", {}, endpoint="repos", stop_when_short=False):
            for item in page:
                require(item, "full_name", where="github repos")
                repos.append(item)
        return repos

    async def active_repo_names(self) -> list[str]:
        """G1 without archived repositories, in the order GitHub lists them."""
        return [r["full_name"] for r in await self.org_repos() if not r.get("archived")]

    async def repo(self, full_name: str) -> dict[str, Any]:
        """G2 (403 without rate limit → access denied, 404 → not found; both fail the repo)."""
        try:
            body = await self.client.json_object("GET", f"/repos/{full_name}", endpoint="repo")
        except RateLimited:
            raise
        except ProviderError as exc:
            text = str(exc)
            if "HTTP 404" in text:
                raise ProviderError(
                    f"{full_name}: repository not found or not visible to the GitHub credentials"
                ) from exc
            if "HTTP 403" in text:
                raise ProviderError(f"{full_name}: access denied (check GitHub App permissions)") from exc
            raise
        return body

    async def default_branch(self, full_name: str) -> str:
        """G2 `default_branch`."""
        branch = require(await self.repo(full_name), "default_branch", where="github repo")
        if not isinstance(branch, str) or not branch:
            raise ProviderError(f"github repo {full_name}: default_branch is not a branch name")
        return branch

    async def branch_commits(
        self, full_name: str, branch: str, since: datetime, until: datetime | None = None
    ) -> list[dict[str, Any]]:
        """G3: commits of `branch` with committer date in [since, until], newest first."""
        params: dict[str, Any] = {"sha": branch, "since": iso_z(since)}
        if until is not None:
            params["until"] = iso_z(until)
        items: list[dict[str, Any]] = []
        async for page in self._pages(f"/repos/{full_name}/commits", params, endpoint="commits", stop_when_short=True):
            items.extend(page)
        return items

    async def commit(self, full_name: str, sha: str) -> dict[str, Any]:
        """G4: one commit with `stats` and `parents`."""
        body = await self.client.json_object("GET", f"/repos/{full_name}/commits/{sha}", endpoint="commit")
        where = f"github commit {full_name}@{sha[:12]}"
        require(body, "stats", "additions", where=where)
        require(body, "stats", "deletions", where=where)
        require(body, "parents", where=where)
        return body

    async def members(self) -> list[dict[str, Any]]:
        """G5: org members `{id, login, …}`."""
        members: list[dict[str, Any]] = []
        async for page in self._pages(f"/orgs/{self.org}/members", {}, endpoint="members", stop_when_short=False):
            members.extend(page)
        return members

    async def teams(self) -> list[dict[str, Any]]:
        """G9: the org's teams `{id, slug, name, …}`."""
        teams: list[dict[str, Any]] = []
        async for page in self._pages(f"/orgs/{self.org}/teams", {}, endpoint="teams", stop_when_short=False):
            teams.extend(page)
        return teams

    async def team_members(self, slug: str, role: str = "all") -> list[dict[str, Any]]:
        """G10: members of one team (`role` all, maintainer or member), `{id, login, …}` each."""
        members: list[dict[str, Any]] = []
        path = f"/orgs/{self.org}/teams/{slug}/members"
        async for page in self._pages(path, {"role": role}, endpoint="team members", stop_when_short=False):
            members.extend(page)
        return members

    async def user(self, user_id: int | str) -> dict[str, Any]:
        """G6: one user by numeric id."""
        return await self.client.json_object("GET", f"/user/{user_id}", endpoint="user")

    async def verified_member_emails(self) -> list[tuple[str, str | None, list[str]]]:
        """G7: (databaseId, login, verified-domain emails) of every org member; errors[] or no org → failure."""
        where = "github graphql"
        out: list[tuple[str, str | None, list[str]]] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            body = await self.client.json(
                "POST",
                "/graphql",
                endpoint="graphql",
                json={"query": MEMBERS_QUERY, "variables": {"org": self.org, "cursor": cursor}},
            )
            if not isinstance(body, dict):
                raise ProviderError(f"{where}: expected a JSON object")
            if body.get("errors"):
                messages = "; ".join(
                    str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in body["errors"]
                )
                raise ProviderError(f"{where}: {messages[:500]}")
            organization = (body.get("data") or {}).get("organization")
            if not isinstance(organization, dict):
                raise ProviderError(f"{where}: organization {self.org!r} missing from the response")
            connection = require(organization, "membersWithRole", where=where)
            for node in require(connection, "nodes", where=where) or []:
                if not isinstance(node, dict) or node.get("databaseId") is None:
                    continue
                emails = [e for e in node.get("organizationVerifiedDomainEmails") or [] if isinstance(e, str)]
                out.append((str(node["databaseId"]), node.get("login"), emails))
            page_info = require(connection, "pageInfo", where=where)
            next_cursor = page_info.get("endCursor")
            if not page_info.get("hasNextPage") or not next_cursor or next_cursor == cursor:
                return out
            cursor = next_cursor
        raise ProviderError(f"{where}: more than {MAX_PAGES} pages")


@asynccontextmanager
async def github_api(
    ctx: SyncContext, *, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[GitHubAPI]:
    """An authenticated GitHubAPI for the configured org (App installation token preferred over GITHUB_TOKEN)."""
    settings = ctx.settings
    problem = credentials_error(settings)
    if problem:
        raise ProviderError(problem)
    headers = _api_headers()
    auth: httpx.Auth | None = None
    if _uses_app(settings):
        auth = InstallationAuth(settings, ctx.backoff_base)
    else:
        headers["Authorization"] = f"Bearer {settings.github.token}"
    async with ProviderClient(
        PROVIDER,
        settings.github.api_url,
        label=_credential_label(settings),
        headers=headers,
        auth=auth,
        pacing_seconds=settings.pacing_seconds(PROVIDER),
        backoff_base=ctx.backoff_base,
        transport=transport,
    ) as client:
        yield GitHubAPI(client, settings.github.org or "")


# --------------------------------------------------------------------------------------------------------------
# Parse (pure)


def iso_z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: Any, *, where: str) -> datetime:
    """ISO 8601 (with `Z`, an offset, or none = UTC) → aware UTC datetime."""
    if not isinstance(value, str):
        raise ProviderError(f"{where}: timestamp {value!r} is not a string")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ProviderError(f"{where}: {value!r} is not an ISO 8601 timestamp") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _attributions(
    message: str, author_name: str | None, author_email: str | None
) -> tuple[CommitAttributionRecord, ...]:
    return tuple(
        CommitAttributionRecord(tool=a.tool, model=a.model, source=a.source, confidence=a.confidence)
        for a in attribute_commit(message, author_name or "", author_email or "")
    )


def _object(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    """`data[key]` when it is a JSON object, else None."""
    value = data.get(key)
    return value if isinstance(value, dict) else None


def is_api_merge(item: dict[str, Any]) -> bool:
    """A G3/G4 item with two or more parents."""
    parents = item.get("parents")
    return is_merge_commit(parents if isinstance(parents, list) else [])


def parse_api_commit(repo_full_name: str, item: dict[str, Any]) -> CommitRecord:
    """A G3/G4 commit → CommitRecord (committed_at = author date in UTC; stats when the item carries them)."""
    sha = require(item, "sha", where="github commits")
    where = f"github commit {repo_full_name}@{str(sha)[:12]}"
    message = require(item, "commit", "message", where=where)
    git_author = require(item, "commit", "author", where=where)
    committed_at = parse_timestamp(require(git_author, "date", where=where), where=where)
    name, email = git_author.get("name"), git_author.get("email")
    account = _object(item, "author")
    author_id = account.get("id") if account else None
    login = account.get("login") if account else None
    stats = _object(item, "stats") or {}
    return CommitRecord(
        repo_full_name=repo_full_name,
        sha=str(sha),
        message=str(message or ""),
        committed_at=committed_at,
        author_name=name,
        author_raw_email=email,
        author_id=str(author_id) if author_id is not None else None,
        author_login=login,
        is_bot=is_bot_author(login, account.get("type") if account else None),
        additions=_int_or_none(stats.get("additions")),
        deletions=_int_or_none(stats.get("deletions")),
        attributions=_attributions(str(message or ""), name, email),
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def pushed_to_default_branch(payload: dict[str, Any]) -> bool:
    """True when a push payload's `ref` is `refs/heads/<repository.default_branch>` (tags and branches: False)."""
    repository = _object(payload, "repository") or {}
    branch = repository.get("default_branch")
    return bool(branch) and payload.get("ref") == f"refs/heads/{branch}"


def parse_push(payload: dict[str, Any]) -> list[CommitRecord]:
    """Webhook push payload → CommitRecords (docs/providers.md §4.4); [] unless the push is to the default branch.

    Author id: the noreply address's number, else `sender.id` when `sender.login` equals the commit's
    `author.username`, else None. Timestamps with an offset become UTC. Stats stay None (the payload has none).
    """
    if not pushed_to_default_branch(payload):
        return []
    where = "github push payload"
    full_name = require(payload, "repository", "full_name", where=where)
    sender = _object(payload, "sender") or {}
    records = []
    for commit in require(payload, "commits", where=where) or []:
        sha = require(commit, "id", where=where)
        message = str(commit.get("message") or "")
        author = _object(commit, "author") or {}
        name, email, username = author.get("name"), author.get("email"), author.get("username")
        author_id: str | None = None
        if (from_noreply := noreply_user_id(email)) is not None:
            author_id = str(from_noreply)
        elif (
            username
            and sender.get("id") is not None
            and str(sender.get("login", "")).casefold() == str(username).casefold()
        ):
            author_id = str(sender["id"])
        records.append(
            CommitRecord(
                repo_full_name=full_name,
                sha=str(sha),
                message=message,
                committed_at=parse_timestamp(require(commit, "timestamp", where=where), where=where),
                author_name=name,
                author_raw_email=email,
                author_id=author_id,
                author_login=username,
                is_bot=is_bot_author(username, None),
                attributions=_attributions(message, name, email),
            )
        )
    return records


def with_commit_detail(record: CommitRecord, detail: dict[str, Any]) -> CommitRecord:
    """A push record completed with its G4 detail: line stats, and GitHub's own author link when it has one."""
    stats = _object(detail, "stats") or {}
    account = _object(detail, "author")
    author_id, login = record.author_id, record.author_login
    is_bot = record.is_bot
    if account and account.get("id") is not None:
        author_id = str(account["id"])
        login = account.get("login") or login
        is_bot = is_bot or is_bot_author(account.get("login"), account.get("type"))
    return replace(
        record,
        additions=_int_or_none(stats.get("additions")),
        deletions=_int_or_none(stats.get("deletions")),
        author_id=author_id,
        author_login=login,
        is_bot=is_bot,
    )


# --------------------------------------------------------------------------------------------------------------
# Orchestration


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime


def backfill_target(ctx: SyncContext) -> date:
    """The oldest UTC day the backfill reads: today − GITHUB_BACKFILL_DAYS."""
    return (ctx.now() - timedelta(days=ctx.settings.github.backfill_days)).date()


def next_backfill_window(oldest: date | None, now: datetime, target: date) -> Window | None:
    """The next window below what a repo's backfill has read, or None when it has reached `target`.

    The first window ends where the incremental window starts (now − 48 h); every window starts at a UTC midnight
    30 days further back (never before `target`), so `backfill_oldest_date` is exact.
    """
    floor = day_start(target)
    if oldest is not None:
        if oldest <= target:
            return None
        upper = day_start(oldest)
    else:
        upper = now - timedelta(hours=INCREMENTAL_HOURS)
        if upper <= floor:
            return None
    return Window(max(day_start((upper - timedelta(days=BACKFILL_WINDOW_DAYS)).date()), floor), upper)


async def _store_window(
    ctx: SyncContext, full_name: str, records: Sequence[CommitRecord], advance: Callable[[SyncState], None]
) -> int:
    async with ctx.sessionmaker() as db, db.begin():
        state = await lock_state(db, repo_state_id(full_name))
        repo_id = await get_or_create_repository(db, full_name)
        written = await store_commits(db, repo_id, records, work_domains=ctx.settings.sign_in.allowed_domains)
        advance(state)
        stamp = datetime.now(UTC)
        state.last_success_at = stamp
        state.last_sync_at = stamp
        state.records_last_run = written
        return written


async def _fetch_window(ctx: SyncContext, api: GitHubAPI, full_name: str, window: Window) -> list[CommitRecord]:
    """G2 → G3 → G4 for new commits (or stored ones without stats); merge commits dropped."""
    branch = await api.default_branch(full_name)
    items = [i for i in await api.branch_commits(full_name, branch, window.since, window.until) if not is_api_merge(i)]
    async with ctx.sessionmaker() as db:
        known = await shas_with_stats(db, full_name, (str(require(i, "sha", where="github commits")) for i in items))
    records = []
    for item in items:
        if item["sha"] not in known:
            item = await api.commit(full_name, item["sha"])
            if is_api_merge(item):
                continue
        records.append(parse_api_commit(full_name, item))
    return records


async def sync_window(
    ctx: SyncContext,
    api: GitHubAPI,
    full_name: str,
    window: Window,
    advance: Callable[[SyncState], None] = lambda _state: None,
) -> int:
    """Read one repo window and store it with its state advance in one transaction; returns commits written."""
    records = await _fetch_window(ctx, api, full_name, window)
    return await _store_window(ctx, full_name, records, advance)


async def _fail_repo(ctx: SyncContext, result: SyncResult, full_name: str, exc: Exception) -> None:
    message = f"{full_name}: {exc}"
    log.warning("github repo sync failed", repo=full_name, error=str(exc))
    result.errors.append(message)
    await record_error(ctx.sessionmaker, repo_state_id(full_name), str(exc))


async def _repo_list(ctx: SyncContext, api: GitHubAPI, result: SyncResult) -> list[str] | None:
    try:
        return await api.active_repo_names()
    except ProviderError as exc:
        result.errors.append(f"repository list: {exc}")
        await record_error(ctx.sessionmaker, org_state_id, str(exc))
        log.warning("github repository list failed", error=str(exc))
        return None


async def _mark_org_success(ctx: SyncContext, records: int) -> None:
    async with ctx.sessionmaker() as db, db.begin():
        state = await lock_state(db, org_state_id)
        stamp = datetime.now(UTC)
        state.last_success_at = stamp
        state.last_sync_at = stamp
        state.records_last_run = records


async def sync_incremental(ctx: SyncContext) -> SyncResult:
    """Re-read every active repo's last 48 h (or back to its last incremental read, when older) and store them.

    Idempotent; one transaction per repo; a failing repo is recorded and listed in `errors` without stopping the
    others; a rate limit stops the run with the remaining repos untouched.
    """
    result = SyncResult(PROVIDER, ctx.settings.github.org or "")
    now = ctx.now()
    floor = now - timedelta(days=ctx.settings.github.backfill_days)
    try:
        async with github_api(ctx) as api:
            repos = await _repo_list(ctx, api, result)
            if repos is None:
                return result
            ctx.progress.start("GitHub repositories", len(repos))
            for full_name in repos:
                async with ctx.sessionmaker() as db:
                    state = await read_state(db, repo_state_id(full_name))
                since = now - timedelta(hours=INCREMENTAL_HOURS)
                if state is not None and state.last_synced_hour_end is not None:
                    since = max(min(since, state.last_synced_hour_end - timedelta(hours=1)), floor)

                def advance(s: SyncState, until: datetime = now) -> None:
                    if s.last_synced_hour_end is None or s.last_synced_hour_end < until:
                        s.last_synced_hour_end = until

                try:
                    result.records += await sync_window(ctx, api, full_name, Window(since, now), advance)
                    result.windows += 1
                except RateLimited as exc:
                    await _fail_repo(ctx, result, full_name, exc)
                    break
                except ProviderError as exc:
                    await _fail_repo(ctx, result, full_name, exc)
                ctx.progress.advance(note=full_name)
    except ProviderError as exc:  # credentials or token exchange
        result.errors.append(str(exc))
        await record_error(ctx.sessionmaker, org_state_id, str(exc))
        return result
    if result.ok:
        await _mark_org_success(ctx, result.records)
    result.detail = f"{result.windows} repositories read"
    return result


def _range_bound(value: date | datetime, *, end: bool) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return day_start(value + timedelta(days=1)) if end else day_start(value)


async def sync_range(
    ctx: SyncContext, start: date | datetime, end: date | datetime, repo: str | None = None
) -> SyncResult:
    """Read [start, end] (dates are whole UTC days) for one repo (`owner/repo` or `repo`) or every active repo.

    Stored in 30-day windows, each in its own transaction; incremental/backfill markers are left as they are.
    """
    result = SyncResult(PROVIDER, ctx.settings.github.org or "")
    since, until = _range_bound(start, end=False), _range_bound(end, end=True)
    if until <= since:
        result.errors.append(f"empty range {since.isoformat()} – {until.isoformat()}")
        return result
    windows = []
    upper = until
    while upper > since:
        lower = max(upper - timedelta(days=BACKFILL_WINDOW_DAYS), since)
        windows.append(Window(lower, upper))
        upper = lower
    try:
        async with github_api(ctx) as api:
            if repo:
                repos = [repo if "/" in repo else f"{ctx.settings.github.org}/{repo}"]
            else:
                found = await _repo_list(ctx, api, result)
                if found is None:
                    return result
                repos = found
            ctx.progress.start("GitHub windows", len(repos) * len(windows))
            for full_name in repos:
                try:
                    for window in windows:
                        result.records += await sync_window(ctx, api, full_name, window)
                        result.windows += 1
                        ctx.progress.advance(note=f"{full_name} {window.since.date()}")
                except RateLimited as exc:
                    await _fail_repo(ctx, result, full_name, exc)
                    break
                except ProviderError as exc:
                    await _fail_repo(ctx, result, full_name, exc)
    except ProviderError as exc:
        result.errors.append(str(exc))
        await record_error(ctx.sessionmaker, org_state_id, str(exc))
    return result


async def backfill_step(ctx: SyncContext, *, max_windows: int = 24) -> SyncResult:
    """Walk each active repo backwards in 30-day windows down to today − GITHUB_BACKFILL_DAYS, at most
    `max_windows` windows in this call; `complete` is True only when every repo has reached the target.

    Per-repo progress survives interruptions (state advanced with each window's data). A rate limit stops the step;
    any other error leaves only that repo incomplete. A repo that appears later gets its own history.
    """
    result = SyncResult(PROVIDER, ctx.settings.github.org or "", complete=False)
    now = ctx.now()
    target = backfill_target(ctx)
    budget = max_windows
    incomplete = 0
    try:
        async with github_api(ctx) as api:
            repos = await _repo_list(ctx, api, result)
            if repos is None:
                return result
            ctx.progress.start("GitHub backfill", len(repos))
            stopped = False
            for full_name in repos:
                if stopped:
                    incomplete += 1
                    continue
                state_id = repo_state_id(full_name)
                while True:
                    async with ctx.sessionmaker() as db:
                        state = await read_state(db, state_id)
                    window = next_backfill_window(state.backfill_oldest_date if state else None, now, target)
                    if window is None:
                        if state is None or not state.backfill_complete:
                            await _mark_backfill_complete(ctx, state_id, target)
                        break
                    if budget <= 0:
                        incomplete += 1
                        break

                    def advance(s: SyncState, w: Window = window) -> None:
                        s.backfill_oldest_date = w.since.date()
                        s.backfill_complete = w.since.date() <= target

                    try:
                        result.records += await sync_window(ctx, api, full_name, window, advance)
                    except RateLimited as exc:
                        await _fail_repo(ctx, result, full_name, exc)
                        incomplete += 1
                        stopped = True
                        break
                    except ProviderError as exc:
                        await _fail_repo(ctx, result, full_name, exc)
                        incomplete += 1
                        break
                    budget -= 1
                    result.windows += 1
                ctx.progress.advance(note=full_name)
    except ProviderError as exc:
        result.errors.append(str(exc))
        await record_error(ctx.sessionmaker, org_state_id, str(exc))
        return result
    result.complete = incomplete == 0 and result.ok
    result.detail = f"target {target.isoformat()}; {incomplete} repositories incomplete"
    return result


async def _mark_backfill_complete(ctx: SyncContext, state_id: str, target: date) -> None:
    async with ctx.sessionmaker() as db, db.begin():
        state = await lock_state(db, state_id)
        if state.backfill_oldest_date is None:
            state.backfill_oldest_date = target
        state.backfill_complete = True


async def sync_mappings(ctx: SyncContext, *, force: bool = False) -> int:
    """G7 → (github, databaseId) → first verified-domain email for members without a mapping (manual mappings
    win), re-pointing their commits; returns the mappings created. Skips G7 unless some commit author id is
    unmapped (or `force`). One transaction; failures are recorded on the `github` state and raised."""
    if not force:
        async with ctx.sessionmaker() as db:
            if await author_ids_without_mapping(db) == 0:
                return 0
    try:
        async with github_api(ctx) as api:
            members = await api.verified_member_emails()
    except ProviderError as exc:
        await record_error(ctx.sessionmaker, org_state_id, f"member emails: {exc}")
        raise
    created = 0
    async with ctx.sessionmaker() as db, db.begin():
        existing = await github_mappings(db, (member_id for member_id, _, emails in members if emails))
        for member_id, _login, emails in members:
            if not emails:
                continue
            try:
                await set_mapping(db, "github", member_id, emails[0], updated_by="sync:github", only_if_absent=True)
            except MappingError as exc:
                log.warning("github member email refused", member=member_id, error=str(exc))
                continue
            created += member_id not in existing
        state = await lock_state(db, org_state_id)
        stamp = datetime.now(UTC)
        state.last_success_at = stamp
        state.last_sync_at = stamp
        state.records_last_run = created
    return created


def parse_team(item: Any) -> tuple[str, str]:
    """(slug, name) of one G9 team; a team without a usable slug is a ProviderError naming the field."""
    where = "github teams"
    if not isinstance(item, dict):
        raise ProviderError(f"{where}: expected a JSON object per team")
    slug = require(item, "slug", where=where)
    if not isinstance(slug, str):
        raise ProviderError(f"{where}: slug is not a string")
    try:
        slug = validate_slug(slug)
    except TeamError as exc:
        raise ProviderError(f"{where}: {exc}") from exc
    name = item.get("name")
    return slug, name.strip()[:200] if isinstance(name, str) and name.strip() else slug


def parse_team_members(slug: str, members: list[Any], maintainers: list[Any]) -> tuple[FetchedMember, ...]:
    """G10 answers → members with role `lead` for GitHub maintainers, `member` otherwise (pure)."""
    where = f"github team {slug} members"

    def key(item: Any) -> tuple[str, str]:
        if not isinstance(item, dict):
            raise ProviderError(f"{where}: expected a JSON object per member")
        login, user_id = require(item, "login", where=where), require(item, "id", where=where)
        if not isinstance(login, str) or not login or isinstance(user_id, bool) or not isinstance(user_id, int):
            raise ProviderError(f"{where}: login must be a string and id an integer")
        return login, str(user_id)

    leads = {key(m) for m in maintainers}
    out: dict[tuple[str, str], FetchedMember] = {}
    for item in members:
        login, user_id = key(item)
        out[(login, user_id)] = FetchedMember(login, user_id, "lead" if (login, user_id) in leads else "member")
    for login, user_id in leads - out.keys():  # a maintainer missing from role=all (listed between the two reads)
        out[(login, user_id)] = FetchedMember(login, user_id, "lead")
    return tuple(sorted(out.values(), key=lambda m: m.login.lower()))


async def sync_teams(ctx: SyncContext) -> int:
    """G9 + G10 → teams and memberships (maintainers are leads), logins → emails by the github identity mappings;
    unmapped logins are kept and listed. Everything is fetched first, then stored in one transaction with the
    `github-teams` state: a failed fetch stores nothing. Idempotent; never touches an admin's rows.
    When members no mapping knows differ from the last run's, a G7 mapping refresh (verified-domain emails) comes
    first, so a first run — before any commit brought its authors' mappings — already resolves them, and an
    unchanged org asks nothing more. Returns the rows changed."""
    try:
        async with github_api(ctx) as api:
            fetched: list[FetchedTeam] = []
            for item in await api.teams():
                slug, name = parse_team(item)
                members = await api.team_members(slug)
                maintainers = await api.team_members(slug, "maintainer")
                fetched.append(FetchedTeam(slug, name, parse_team_members(slug, members, maintainers)))
    except ProviderError as exc:
        await record_error(ctx.sessionmaker, org_state_id, f"teams: {exc}")
        await record_error(ctx.sessionmaker, TEAMS_STATE_ID, str(exc))
        raise
    everyone = [m for team in fetched for m in team.members]

    async def unresolved_digest() -> str:
        async with ctx.sessionmaker() as db:
            known = await emails_for_github_users(db, everyone)
        unresolved = sorted({m.user_id for m in everyone if m.user_id not in known and m.login not in known})
        return hashlib.sha256(",".join(unresolved).encode()).hexdigest()[:32] if unresolved else ""

    digest = await unresolved_digest()
    async with ctx.sessionmaker() as db:
        previous = await read_state(db, TEAMS_STATE_ID)
    if digest and (previous is None or previous.last_cursor != digest):
        try:
            await sync_mappings(ctx, force=True)
            digest = await unresolved_digest()
        except ProviderError as exc:  # the teams still sync; the unresolved logins are listed as unmapped
            log.warning("github member emails unavailable for the team sync", error=str(exc))
    async with ctx.sessionmaker() as db, db.begin():
        counts = await store_github_teams(db, fetched)
        state = await lock_state(db, TEAMS_STATE_ID)
        stamp = datetime.now(UTC)
        state.last_success_at = stamp
        state.last_sync_at = stamp
        state.last_error = None
        state.last_cursor = digest  # the unmapped members G7 was last asked about
        state.records_last_run = counts.changes
    log.info(
        "github teams synced",
        teams=len(fetched),
        teams_added=counts.teams_added,
        teams_removed=counts.teams_removed,
        members_written=counts.members_written,
        members_removed=counts.members_removed,
        unmapped=counts.unmapped[:20],
    )
    return counts.changes


async def list_org_members(ctx: SyncContext) -> list[dict[str, Any]]:
    """G5 (CLI listing): org members with `id` and `login`."""
    async with github_api(ctx) as api:
        return await api.members()


async def get_user(ctx: SyncContext, user_id: int | str) -> dict[str, Any]:
    """G6 (CLI listing): one GitHub user by numeric id."""
    async with github_api(ctx) as api:
        return await api.user(user_id)


async def set_delivery_status(db: AsyncSession, delivery_id: str, status: str, error: str | None) -> None:
    """Mark a push delivery finished (`processed` / `failed`); inserts the row when the job runs without one."""
    stmt = insert(WebhookDelivery).values(
        delivery_id=delivery_id, event="push", status=status, error=error, processed_at=func.now()
    )
    await db.execute(
        stmt.on_conflict_do_update(
            index_elements=["delivery_id"],
            set_={"status": status, "error": error, "processed_at": func.now()},
        )
    )


async def process_push(ctx: SyncContext, delivery_id: str, payload: dict[str, Any]) -> SyncResult:
    """Webhook follow-up: parse the push, G4 per commit (stats, parents, author link), drop merges, store; the
    delivery is marked `processed` in the same transaction, or `failed` with the error (nothing stored).

    A rate limit is raised as RateLimited with nothing stored and the delivery left as it was: the caller (the
    follow-up job) retries later."""
    result = SyncResult(PROVIDER, "webhook", detail=delivery_id)
    try:
        records = parse_push(payload)
        detailed: list[CommitRecord] = []
        if records:
            async with github_api(ctx) as api:
                for record in records:
                    detail = await api.commit(record.repo_full_name, record.sha)
                    if is_api_merge(detail):
                        continue
                    detailed.append(with_commit_detail(record, detail))
    except RateLimited:
        raise
    except ProviderError as exc:
        result.errors.append(str(exc))
        log.warning("github push follow-up failed", delivery=delivery_id, error=str(exc))
        async with ctx.sessionmaker() as db, db.begin():
            await set_delivery_status(db, delivery_id, "failed", str(exc)[:2000])
        return result
    async with ctx.sessionmaker() as db, db.begin():
        # a push arrives every few seconds in a busy org: cached pages take its commits within a minute (like live
        # telemetry, db.live_write), the hourly sync's writes at once
        await live_write(db)
        if detailed:
            repo_id = await get_or_create_repository(db, detailed[0].repo_full_name)
            domains = ctx.settings.sign_in.allowed_domains
            result.records = await store_commits(db, repo_id, detailed, work_domains=domains)
        await set_delivery_status(db, delivery_id, "processed", None)
    result.windows = 1
    return result


# --------------------------------------------------------------------------------------------------------------
# Registration (providers/registry.py lists this)

ORG_KEY = ProviderKey("org", "")  # GitHub has one set of credentials: a pseudo key, so operations look alike


def configured_keys(settings: Settings) -> tuple[ProviderKey, ...]:
    return (ORG_KEY,) if settings.github.configured else ()


def status_rows(settings: Settings, state_ids: Iterable[str]) -> list[StatusRow]:
    """One row per synced repository (`github:<repo>`), or the org row before any repository was synced."""
    if not configured_keys(settings):
        return []
    ids = sorted(i for i in state_ids if i.startswith(f"{org_state_id}:")) or [org_state_id]
    return [
        StatusRow(i, i.removeprefix(f"{org_state_id}:") if i != org_state_id else settings.github.org or "org")
        for i in ids
    ]


DESCRIPTION = Provider(
    name=PROVIDER,
    display_name="GitHub Commits",
    tool=None,
    key_noun="Key",
    keys=configured_keys,
    state_id=lambda _key: org_state_id,
    sync_incremental=lambda ctx, _key: sync_incremental(ctx),
    sync_range=lambda ctx, _key, start, end: sync_range(ctx, start, end),
    backfill_step=lambda ctx, _key, _target: backfill_step(ctx),
    sync_mappings=lambda ctx, _key: sync_mappings(ctx),
    sync_teams=lambda ctx, _key: sync_teams(ctx),
    jobs=(
        Job("sync_github", "forward", "Hourly (last 48 h)", minute=15),
        Job("sync_github_mappings", "mappings", "Hourly", minute=30, run_at_startup=False, timeout_seconds=600),
        Job("sync_github_teams", "teams", "Hourly", minute=40, timeout_seconds=600),
        Job("backfill_github", "backfill", "Every 6 hours until complete", minute=35, hours=frozenset({3, 9, 15, 21})),
    ),
    fresh_within=timedelta(hours=2),
    status_rows=status_rows,
    emulator_module="abacus.emulators.github",
)
