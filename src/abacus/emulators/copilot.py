"""Loopback emulator of GitHub Copilot's metrics reports and seats (docs/providers.md §9): P1 per-user daily
reports handed out as signed, expiring download links to NDJSON files, and P2 seats.

The API answers under `/github` (the GitHub emulator's prefix, so one GitHub base URL serves both); the download
links point at `/copilot-downloads/…` with `expires` (wall-clock epoch seconds) and an HMAC `sig`. A tampered link
answers 403 "Signature mismatch", an expired one 403 "Request has expired" — what a sync must answer by asking for the
report again. `EmulatorState.copilot_link_ttl` sets the lifetime of the links it hands out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, get

from abacus.emulators.dataset import DEMO_GITHUB_TOKEN
from abacus.emulators.faults import EmulatorState, Reply, query_params

API_VERSION = "2026-03-10"
RECORDS_PER_FILE = 4  # small files so a day spans several download links
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
DOCS = "https://docs.github.com/rest/copilot"


def _message(status: int, message: str) -> Reply:
    return Reply(status, {"message": message, "documentation_url": DOCS, "status": str(status)})


def signature(secret: bytes, org: str, day: str, part: int, expires: int) -> str:
    return hmac.new(secret, f"{org}/{day}/{part}:{expires}".encode(), hashlib.sha256).hexdigest()


def create_router(state: EmulatorState) -> Router:
    """`/github/orgs/{org}/copilot/…` (P1, P2) and `/copilot-downloads/…` (the report files)."""
    dataset = state.dataset
    secret = hashlib.sha256(f"copilot-links:{state.config.seed}".encode()).digest()

    def authorize(request: Request[Any, Any, Any], org: str) -> Reply | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        issued = state.github_tokens.get(token)
        if scheme.lower() not in ("bearer", "token") or not (
            token == DEMO_GITHUB_TOKEN or (issued is not None and issued > time.time())
        ):
            return _message(401, "Bad credentials")
        version = request.headers.get("x-github-api-version")
        if version is not None and version != API_VERSION:
            return _message(400, f"API version '{version}' is not supported.")
        if org.lower() != dataset.github_org.lower():
            return _message(404, "Not Found")
        return None

    def files(day: date) -> list[list[dict[str, Any]]]:
        records = dataset.copilot_report(day)
        return [records[i : i + RECORDS_PER_FILE] for i in range(0, len(records), RECORDS_PER_FILE)] or [[]]

    @get("/orgs/{org:str}/copilot/metrics/reports/users-1-day")
    async def users_report(request: Request[Any, Any, Any], org: str) -> Response[bytes]:
        async def produce() -> Reply:
            raw = query_params(request).get("day", "")
            try:
                day = date.fromisoformat(raw)
            except ValueError:
                return _message(400, f"Invalid day {raw!r}: expected YYYY-MM-DD")
            if not dataset.copilot_report_published(day):
                return _message(404, "Not Found")
            base = f"{request.url.scheme}://{request.url.netloc}"
            expires = math.floor(time.time() + state.copilot_link_ttl)
            links = [
                f"{base}/copilot-downloads/{dataset.github_org}/{day.isoformat()}/{part}.ndjson?"
                + urlencode(
                    {"expires": expires, "sig": signature(secret, dataset.github_org, day.isoformat(), part, expires)}
                )
                for part in range(len(files(day)))
            ]
            return Reply(200, {"download_links": links, "report_day": day.isoformat()})

        return await state.serve(request, "copilot", "report", produce, authorize=lambda: authorize(request, org))

    @get("/orgs/{org:str}/copilot/billing/seats")
    async def seats(request: Request[Any, Any, Any], org: str) -> Response[bytes]:
        async def produce() -> Reply:
            params = query_params(request)
            try:
                per_page = min(max(int(params.get("per_page", DEFAULT_PER_PAGE)), 1), MAX_PER_PAGE)
                page = max(int(params.get("page", 1)), 1)
            except ValueError:
                return _message(400, "per_page and page must be numbers")
            per_page = state.page_size(per_page)
            every = dataset.copilot_seat_list()
            chunk = every[(page - 1) * per_page : page * per_page]
            pages = max(1, math.ceil(len(every) / per_page))
            headers = {}
            if page < pages:
                headers["link"] = f'<{request.url.path}?per_page={per_page}&page={page + 1}>; rel="next"'
            return Reply(200, {"total_seats": len(every), "seats": chunk}, headers)

        return await state.serve(request, "copilot", "seats", produce, authorize=lambda: authorize(request, org))

    @get("/copilot-downloads/{org:str}/{day:str}/{name:str}")
    async def download(request: Request[Any, Any, Any], org: str, day: str, name: str) -> Response[bytes]:
        def check() -> Reply | None:
            params = query_params(request)
            part_text = name.removesuffix(".ndjson")
            try:
                expires = int(params.get("expires", ""))
                part = int(part_text)
            except ValueError:
                return Reply(403, {"message": "Signature mismatch"})
            wanted = signature(secret, org, day, part, expires)
            if not hmac.compare_digest(wanted, params.get("sig", "")):
                return Reply(403, {"message": "Signature mismatch"})
            if expires < time.time():
                return Reply(403, {"message": "Request has expired"})
            return None

        async def produce() -> Reply:
            chunks = files(date.fromisoformat(day))
            part = int(name.removesuffix(".ndjson"))
            if part >= len(chunks):
                return Reply(404, {"message": "Not Found"})
            body = "".join(json.dumps(record, separators=(",", ":")) + "\n" for record in chunks[part])
            return Reply(200, body.encode(), media_type="application/x-ndjson")

        return await state.serve(request, "copilot", "download", produce, authorize=check)

    return Router(
        path="/",
        route_handlers=[
            Router(path="/github", route_handlers=[users_report, seats]),
            Router(path="/", route_handlers=[download]),
        ],
    )
