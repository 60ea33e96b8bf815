"""Loopback emulator of the GitHub REST/GraphQL endpoints Abacus calls (docs/providers.md §4, §6.1, G1–G8).

Installation tokens and the primary rate limit run on the real wall clock (the sync signs JWTs and caches tokens
with it); only data visibility follows the emulator's injectable clock.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import secrets
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from litestar import Request, Response, Router, get, post

from abacus.emulators.dataset import (
    DEMO_GITHUB_APP_ID,
    DEMO_GITHUB_APP_PRIVATE_KEY,
    DEMO_GITHUB_INSTALLATION_ID,
    DEMO_GITHUB_TOKEN,
    Commit,
    Repo,
)
from abacus.emulators.faults import EmulatorState, Reply, query_params

API_VERSION = "2022-11-28"
DOCS = "https://docs.github.com/rest"
INSTALLATION_TOKEN_TTL = 3600
JWT_MAX_LIFETIME = 600
JWT_LEEWAY = 60
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
_WEB_FLOW_LOGIN, _WEB_FLOW_ID = "web-flow", 19864447


def _message(status: int, message: str, docs: str = DOCS) -> Reply:
    return Reply(status, {"message": message, "documentation_url": docs, "status": str(status)})


def _not_found() -> Reply:
    return _message(404, "Not Found")


@cache
def demo_app_public_key() -> rsa.RSAPublicKey:
    """Public half of the demo GitHub App key; G8 verifies JWT signatures with it."""
    key = serialization.load_pem_private_key(DEMO_GITHUB_APP_PRIVATE_KEY.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key()


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def verify_app_jwt(token: str, app_id: int | str, now: float | None = None) -> str | None:
    """None when `token` is a valid RS256 GitHub App JWT for `app_id`, else the reason it is refused."""
    now = time.time() if now is None else now
    parts = token.split(".")
    if len(parts) != 3:
        return "A JSON web token could not be decoded"
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
        signature = _b64url(parts[2])
    except (ValueError, binascii.Error):
        return "A JSON web token could not be decoded"
    if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "RS256":
        return "A JSON web token could not be decoded"
    try:
        demo_app_public_key().verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return "A JSON web token could not be decoded"
    if str(claims.get("iss")) != str(app_id):
        return "Integration not found"
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int | float) or isinstance(iat, bool) or iat > now + JWT_LEEWAY:
        return "'Issued at' claim ('iat') must be an Integer representing a time in the past."
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now:
        return (
            "'Expiration time' claim ('exp') must be a numeric value representing the future time at which "
            "the assertion expires."
        )
    if exp > now + JWT_MAX_LIFETIME + JWT_LEEWAY:
        return "'Expiration time' claim ('exp') is too far in the future."
    return None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(raw: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        raise _Refusal(_message(422, f"Invalid value for parameter '{name}': {raw!r}")) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class _Refusal(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    try:
        return int(params.get(name, default))
    except ValueError:
        return default


def create_router(state: EmulatorState) -> Router:
    """The `/github` router: org repos, repo, commits (list/detail), members, teams and their members, users,
    GraphQL, App tokens."""
    dataset = state.dataset
    org_login = dataset.github_org

    def api_base(request: Request[Any, Any, Any]) -> str:
        return f"{request.url.scheme}://{request.url.netloc}/github"

    def paginate(request: Request[Any, Any, Any], items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        params = query_params(request)
        per_page = state.page_size(min(max(_int_param(params, "per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE))
        page = max(_int_param(params, "page", 1), 1)
        last = max(math.ceil(len(items) / per_page), 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        pairs = parse_qsl(request.url.query, keep_blank_values=True)

        def link(number: int, rel: str) -> str:
            query = urlencode([(k, v) for k, v in pairs if k != "page"] + [("page", str(number))])
            return f'<{request.url.scheme}://{request.url.netloc}{request.url.path}?{query}>; rel="{rel}"'

        if page > 1:
            links.append(link(min(page - 1, last), "prev"))
        if page < last:
            links.append(link(page + 1, "next"))
            links.append(link(last, "last"))
        if page > 1:
            links.append(link(1, "first"))
        return chunk, ({"link": ", ".join(links)} if links else {})

    # ---- auth and rate limit -----------------------------------------------------------------------------------

    def bearer(request: Request[Any, Any, Any]) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token.strip():
            return None
        return token.strip()

    def identity(token: str | None) -> str | None:
        if token is None:
            return None
        if token == DEMO_GITHUB_TOKEN:
            return "pat"
        expiry = state.github_tokens.get(token)
        return "installation" if expiry is not None and expiry > time.time() else None

    def rate_headers(who: str | None, resource: str, used: int) -> dict[str, str]:
        window = int(time.time() // 3600)
        limit = state.config.github_rate_limit if who else 60
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(limit - used, 0)),
            "x-ratelimit-used": str(min(used, limit)),
            "x-ratelimit-reset": str((window + 1) * 3600),
            "x-ratelimit-resource": resource,
        }

    async def answer(
        request: Request[Any, Any, Any], endpoint: str, build: Any, *, resource: str = "core"
    ) -> Response[bytes]:
        token = bearer(request)
        who = identity(token)
        counted = {"used": 0}

        def authorize() -> Reply | None:
            version = request.headers.get("x-github-api-version")
            if who is None:
                if resource == "graphql" and token is None:
                    return _message(
                        401,
                        "This endpoint requires you to be authenticated.",
                        "https://docs.github.com/graphql/guides/forming-calls-with-graphql",
                    )
                return _message(401, "Bad credentials")
            if version is not None and version != API_VERSION:
                return _message(400, f"API version '{version}' is not supported.")
            key = (who, resource, int(time.time() // 3600))
            with state.lock:
                state.github_usage[key] = state.github_usage.get(key, 0) + 1
                counted["used"] = state.github_usage[key]
            if counted["used"] > state.config.github_rate_limit:
                reply = _message(
                    403,
                    f"API rate limit exceeded for {who}.",
                    "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api",
                )
                return reply
            return None

        def decorate(reply: Reply) -> None:
            for name, value in rate_headers(who, resource, counted["used"]).items():
                reply.headers.setdefault(name, value)
            reply.headers.setdefault("x-github-api-version-selected", API_VERSION)
            reply.headers.setdefault("x-github-request-id", secrets.token_hex(8).upper())

        async def produce() -> Reply:
            try:
                return await build(request)
            except _Refusal as exc:
                return exc.reply

        return await state.serve(request, "github", endpoint, produce, authorize=authorize, decorate=decorate)

    # ---- wire shapes ---------------------------------------------------------------------------------------------

    def user_wire(base: str, login: str, user_id: int, kind: str = "User") -> dict[str, Any]:
        return {
            "login": login,
            "id": user_id,
            "node_id": f"U_kgDO{user_id}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
            "url": f"{base}/users/{login}",
            "html_url": f"https://github.com/{login}",
            "type": kind,
            "site_admin": False,
        }

    def commit_wire(base: str, c: Commit, *, detail: bool = False) -> dict[str, Any]:
        url = f"{base}/repos/{c.repo}/commits/{c.sha}"
        author = user_wire(base, c.author_login, c.author_id, c.author_type) if c.author_id and c.author_login else None
        if c.committer_email == "noreply@github.com":
            committer: dict[str, Any] | None = user_wire(base, _WEB_FLOW_LOGIN, _WEB_FLOW_ID)
        else:
            committer = author
        tree = dataset.stable_sha("tree", c.sha)
        item: dict[str, Any] = {
            "sha": c.sha,
            "node_id": f"C_kwDO{c.sha[:24]}",
            "commit": {
                "author": {"name": c.author_name, "email": c.author_email, "date": _iso(c.author_date)},
                "committer": {"name": c.committer_name, "email": c.committer_email, "date": _iso(c.committer_date)},
                "message": c.message,
                "tree": {"sha": tree, "url": f"{base}/repos/{c.repo}/git/trees/{tree}"},
                "url": f"{base}/repos/{c.repo}/git/commits/{c.sha}",
                "comment_count": 0,
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
            "url": url,
            "html_url": f"https://github.com/{c.repo}/commit/{c.sha}",
            "comments_url": f"{url}/comments",
            "author": author,
            "committer": committer,
            "parents": [
                {
                    "sha": p,
                    "url": f"{base}/repos/{c.repo}/commits/{p}",
                    "html_url": f"https://github.com/{c.repo}/commit/{p}",
                }
                for p in c.parents
            ],
        }
        if detail:
            item["stats"] = {"total": c.additions + c.deletions, "additions": c.additions, "deletions": c.deletions}
            item["files"] = [
                {
                    "sha": dataset.stable_sha("blob", c.sha),
                    "filename": "src/app/module.py",
                    "status": "modified",
                    "additions": c.additions,
                    "deletions": c.deletions,
                    "changes": c.additions + c.deletions,
                }
            ]
        return item

    def repo_or_refuse(owner: str, name: str) -> Repo:
        repo = dataset.repo(f"{owner}/{name}")
        if repo is None:
            raise _Refusal(_not_found())
        return repo

    def check_org(org: str) -> None:
        if org.lower() != org_login.lower():
            raise _Refusal(_not_found())

    def known_users() -> dict[int, tuple[str, str]]:
        users = {m.id: (m.login, "User") for m in dataset.github_members}
        for person in dataset.people:
            if person.github_id and person.github_login:
                users[person.github_id] = (person.github_login, "User")
        users[49699333] = ("dependabot[bot]", "Bot")
        users[198982749] = ("Copilot", "Bot")
        return users

    # ---- REST ----------------------------------------------------------------------------------------------------

    @get("/orgs/{org:str}/repos")
    async def org_repos(request: Request[Any, Any, Any], org: str) -> Response[bytes]:
        async def build(req: Request[Any, Any, Any]) -> Reply:
            check_org(org)
            chunk, headers = paginate(req, [r.wire(dataset.github_org_id) for r in dataset.repos])
            return Reply(200, chunk, headers)

        return await answer(request, "repos", build)

    @get("/repos/{owner:str}/{name:str}")
    async def get_repo(request: Request[Any, Any, Any], owner: str, name: str) -> Response[bytes]:
        async def build(_req: Request[Any, Any, Any]) -> Reply:
            repo = repo_or_refuse(owner, name)
            return Reply(
                200,
                repo.wire(dataset.github_org_id)
                | {
                    "permissions": {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True},
                },
            )

        return await answer(request, "repo", build)

    @get("/repos/{owner:str}/{name:str}/commits")
    async def list_commits(request: Request[Any, Any, Any], owner: str, name: str) -> Response[bytes]:
        async def build(req: Request[Any, Any, Any]) -> Reply:
            repo = repo_or_refuse(owner, name)
            params = query_params(req)
            since = _parse_time(params["since"], "since") if params.get("since") else None
            until = _parse_time(params["until"], "until") if params.get("until") else None
            ref = params.get("sha") or repo.default_branch
            commits = dataset.commits(repo.full_name, since, until)
            if ref != repo.default_branch:
                head = dataset.commit(repo.full_name, ref) if re.fullmatch(r"[0-9a-fA-F]{7,40}", ref) else None
                if head is None:
                    return _not_found()
                history = dataset.commits(repo.full_name)  # linear history, newest first
                ancestors = {c.sha for c in history[history.index(head) :]}
                commits = [c for c in commits if c.sha in ancestors]
            if author := params.get("author"):
                wanted = author.lower()
                commits = [
                    c for c in commits if (c.author_login or "").lower() == wanted or c.author_email.lower() == wanted
                ]
            chunk, headers = paginate(req, commits)
            base = api_base(req)
            return Reply(200, [commit_wire(base, c) for c in chunk], headers)

        return await answer(request, "commits", build)

    @get("/repos/{owner:str}/{name:str}/commits/{ref:str}")
    async def get_commit(request: Request[Any, Any, Any], owner: str, name: str, ref: str) -> Response[bytes]:
        async def build(req: Request[Any, Any, Any]) -> Reply:
            repo = repo_or_refuse(owner, name)
            if ref == repo.default_branch:
                newest = dataset.commits(repo.full_name)
                found = newest[0] if newest else None
            else:
                found = dataset.commit(repo.full_name, ref)
            if found is None:
                return _message(422, f"No commit found for SHA: {ref}")
            return Reply(200, commit_wire(api_base(req), found, detail=True))

        return await answer(request, "commit", build)

    @get("/orgs/{org:str}/members")
    async def org_members(request: Request[Any, Any, Any], org: str) -> Response[bytes]:
        async def build(req: Request[Any, Any, Any]) -> Reply:
            check_org(org)
            base = api_base(req)
            chunk, headers = paginate(req, [user_wire(base, m.login, m.id) for m in dataset.github_members])
            return Reply(200, chunk, headers)

        return await answer(request, "members", build)

    def team_or_refuse(slug: str) -> Any:
        team = next((t for t in dataset.github_teams if t.slug == slug.lower()), None)
        if team is None:
            raise _Refusal(_not_found())
        return team

    @get("/orgs/{org:str}/teams")
    async def org_teams(request: Request[Any, Any, Any], org: str) -> Response[bytes]:
        async def build(req: Request[Any, Any, Any]) -> Reply:
            check_org(org)
            base = api_base(req)
            wire = [
                {
                    "id": t.id,
                    "node_id": f"T_{t.id}",
                    "slug": t.slug,
                    "name": t.name,
                    "description": f"The {t.name} team",
                    "privacy": "closed",
                    "permission": "pull",
                    "url": f"{base}/organizations/{dataset.github_org_id}/team/{t.id}",
                    "members_url": f"{base}/organizations/{dataset.github_org_id}/team/{t.id}/members{{/member}}",
                    "parent": None,
                }
                for t in dataset.github_teams
            ]
            chunk, headers = paginate(req, wire)
            return Reply(200, chunk, headers)

        return await answer(request, "teams", build)

    @get("/orgs/{org:str}/teams/{slug:str}/members")
    async def team_members(request: Request[Any, Any, Any], org: str, slug: str) -> Response[bytes]:
        async def build(req: Request[Any, Any, Any]) -> Reply:
            check_org(org)
            team = team_or_refuse(slug)
            role = query_params(req).get("role", "all")
            if role not in ("all", "maintainer", "member"):
                return _message(422, f"role {role!r} is not one of all, maintainer, member")
            chosen = [
                (login, user_id)
                for login, user_id in team.members
                if role == "all" or (login in team.maintainers) == (role == "maintainer")
            ]
            chunk, headers = paginate(req, [user_wire(api_base(req), login, user_id) for login, user_id in chosen])
            return Reply(200, chunk, headers)

        return await answer(request, "team members", build)

    @get("/user/{user_id:int}")
    async def get_user(request: Request[Any, Any, Any], user_id: int) -> Response[bytes]:
        async def build(req: Request[Any, Any, Any]) -> Reply:
            found = known_users().get(user_id)
            if found is None:
                return _not_found()
            login, kind = found
            person = next((p for p in dataset.people if p.github_id == user_id), None)
            return Reply(
                200,
                user_wire(api_base(req), login, user_id, kind)
                | {
                    "name": person.name if person else login,
                    "company": "@acme" if person else None,
                    "email": None,
                    "public_repos": 3,
                    "followers": 12,
                    "following": 4,
                },
            )

        return await answer(request, "user", build)

    @get("/rate_limit")
    async def rate_limit(request: Request[Any, Any, Any]) -> Response[bytes]:
        who = identity(bearer(request))
        window = int(time.time() // 3600)
        resources = {}
        for resource in ("core", "graphql"):
            used = state.github_usage.get((who or "", resource, window), 0) if who else 0
            headers = rate_headers(who, resource, used)
            resources[resource] = {
                "limit": int(headers["x-ratelimit-limit"]),
                "remaining": int(headers["x-ratelimit-remaining"]),
                "used": used,
                "reset": int(headers["x-ratelimit-reset"]),
            }
        body = json.dumps({"resources": resources, "rate": resources["core"]}).encode()
        return Response(content=body, media_type="application/json", status_code=200)

    # ---- GraphQL -------------------------------------------------------------------------------------------------

    @post("/graphql")
    async def graphql(request: Request[Any, Any, Any]) -> Response[bytes]:
        async def build(req: Request[Any, Any, Any]) -> Reply:
            try:
                body = json.loads(await req.body() or b"null")
            except ValueError:
                return _message(400, "Problems parsing JSON")
            if not isinstance(body, dict) or not isinstance(body.get("query"), str):
                return _message(400, "A query attribute must be specified and must be a string.")
            return graphql_members(body["query"], body.get("variables") or {})

        return await answer(request, "graphql", build, resource="graphql")

    def graphql_members(query: str, variables: dict[str, Any]) -> Reply:
        if "membersWithRole" not in query:
            return Reply(
                200,
                {"errors": [{"message": "The GitHub emulator only answers the organization membersWithRole query."}]},
            )
        login = _graphql_argument(query, "login", variables)
        if login is None or str(login).lower() != org_login.lower():
            return Reply(
                200,
                {
                    "data": {"organization": None},
                    "errors": [
                        {
                            "type": "NOT_FOUND",
                            "path": ["organization"],
                            "message": f"Could not resolve to an Organization with the login of '{login}'.",
                        }
                    ],
                },
            )
        members_args = query[query.index("membersWithRole") :]
        first = _graphql_argument(members_args, "first", variables)
        if not isinstance(first, int) or not 1 <= first <= 100:
            return Reply(
                200,
                {
                    "errors": [
                        {
                            "message": "You must provide a `first` or `last` value between 1 and "
                            "100 to properly paginate the `membersWithRole` connection."
                        }
                    ]
                },
            )
        after = _graphql_argument(members_args, "after", variables)
        start = 0
        if after:
            try:
                start = int(base64.b64decode(str(after)).decode().removeprefix("cursor:v2:")) + 1
            except (ValueError, binascii.Error, UnicodeDecodeError):
                return Reply(200, {"errors": [{"message": f"`{after}` does not appear to be a valid cursor."}]})
        size = state.page_size(first)
        members = dataset.github_members
        chunk = members[start : start + size]
        end_cursor = base64.b64encode(f"cursor:v2:{start + len(chunk) - 1}".encode()).decode() if chunk else None
        nodes = [
            {"login": m.login, "databaseId": m.id, "organizationVerifiedDomainEmails": list(m.verified_emails)}
            for m in chunk
        ]
        connection: dict[str, Any] = {
            "nodes": nodes,
            "pageInfo": {"hasNextPage": start + size < len(members), "endCursor": end_cursor},
        }
        if "totalCount" in members_args:
            connection["totalCount"] = len(members)
        return Reply(200, {"data": {"organization": {"membersWithRole": connection}}})

    # ---- GitHub App installation tokens --------------------------------------------------------------------------

    @post("/app/installations/{installation_id:int}/access_tokens")
    async def access_tokens(request: Request[Any, Any, Any], installation_id: int) -> Response[bytes]:
        jwt = bearer(request)

        def authorize() -> Reply | None:
            reason = verify_app_jwt(jwt, DEMO_GITHUB_APP_ID) if jwt else "A JSON web token could not be decoded"
            return _message(401, reason) if reason else None

        async def produce() -> Reply:
            if installation_id != DEMO_GITHUB_INSTALLATION_ID:
                return _not_found()
            token = "ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")[:36]
            expiry = time.time() + INSTALLATION_TOKEN_TTL
            with state.lock:
                state.github_tokens[token] = expiry
            return Reply(
                201,
                {
                    "token": token,
                    "expires_at": _iso(datetime.fromtimestamp(expiry, UTC)),
                    "permissions": {"contents": "read", "members": "read", "metadata": "read"},
                    "repository_selection": "all",
                },
            )

        def decorate(reply: Reply) -> None:
            reply.headers.setdefault("x-github-api-version-selected", API_VERSION)

        return await state.serve(request, "github", "access_tokens", produce, authorize=authorize, decorate=decorate)

    return Router(
        path="/github",
        route_handlers=[
            org_repos,
            get_repo,
            list_commits,
            get_commit,
            org_members,
            org_teams,
            team_members,
            get_user,
            rate_limit,
            graphql,
            access_tokens,
        ],
    )


def _graphql_argument(query: str, name: str, variables: dict[str, Any]) -> Any:
    """The value of the first `name:` argument in `query`: a `$variable`, a string/number literal or null."""
    match = re.search(rf"\b{name}\s*:\s*(?:\$(\w+)|\"([^\"]*)\"|(-?\d+)|(null))", query)
    if match is None:
        return None
    variable, text, number, _null = match.groups()
    if variable:
        return variables.get(variable)
    if text is not None:
        return text
    return int(number) if number is not None else None
