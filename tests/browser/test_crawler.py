"""Crawl the signed-in app breadth-first from `/` and follow every same-origin link, htmx GET and GET form: nothing a
user can reach may answer with an error, CSV exports must be CSV, and every response carries Server-Timing."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import httpx

from tests.browser.browser_support import ADMIN, SCREENSHOTS
from tests.support import sign_in

REPORT = SCREENSHOTS.parent / "crawler-report.txt"  # every URL fetched and every failure, for after a red run
MAX_REQUESTS = 400
# Range/sort/column variants of one page, and all pages of one family (/users/*), are capped so that the budget
# also reaches pages seen late in the breadth-first order.
MAX_PER_PATH = 30
MAX_PER_FAMILY = 100
SKIPPED_PREFIXES = ("/auth/", "/static/")


@dataclass(frozen=True)
class Request:
    """One thing to fetch: a URL, and for htmx triggers the target id the browser would send as HX-Target."""

    url: str
    hx_target: str | None = None


@dataclass
class _Form:
    action: str
    hx_target: str | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)
    select: str | None = None  # name of the <select> being read, its first/selected option wins
    select_value: str | None = None


class LinkCollector(HTMLParser):
    """Collects `<a href>`, `hx-get` (with its target) and GET forms submitted with their default values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.requests: list[Request] = []
        self._form: _Form | None = None
        self._forms: list[_Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        target = None
        if "hx-get" in a:
            target = a.get("hx-target", "")
            target = (a.get("id", "") if target in ("", "this") else target).lstrip("#") or None
        if tag == "a" and "href" in a:
            self.requests.append(Request(a["href"]))
        if tag == "form" and a.get("method", "get").lower() == "get":
            self._form = _Form(a.get("hx-get") or a.get("action", ""), target)
        elif "hx-get" in a:
            self.requests.append(Request(a["hx-get"], target))
        elif self._form is not None:
            self._form_field(tag, a)

    def _form_field(self, tag: str, a: dict[str, str]) -> None:
        assert self._form is not None
        name = a.get("name")
        if tag == "input" and name and a.get("type", "text") not in ("submit", "button", "file", "checkbox", "radio"):
            self._form.fields.append((name, a.get("value", "")))
        elif tag == "input" and name and a.get("type") in ("checkbox", "radio") and "checked" in a:
            self._form.fields.append((name, a.get("value", "on")))
        elif tag == "select" and name:
            self._form.select, self._form.select_value = name, None
        elif tag == "option" and self._form.select and (self._form.select_value is None or "selected" in a):
            self._form.select_value = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        form = self._form
        if form is None:
            return
        if tag == "select" and form.select:
            form.fields.append((form.select, form.select_value or ""))
            form.select = None
        elif tag == "form":
            self._forms.append(form)
            self._form = None

    def close(self) -> None:
        super().close()
        for form in self._forms:
            query = urlencode(form.fields)
            self.requests.append(Request(f"{form.action}?{query}" if query else form.action, form.hx_target))


def same_origin(base: str, page_url: str, href: str) -> str | None:
    """The absolute URL without fragment when `href` stays on the app (and is worth crawling), else None."""
    href = href.strip()
    if not href or href.startswith(("#", "mailto:", "javascript:", "tel:", "data:")):
        return None
    url = urljoin(page_url, href)
    parts, origin = urlsplit(url), urlsplit(base)
    if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
        return None
    if parts.path.startswith(SKIPPED_PREFIXES):
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def family(path: str) -> str:
    """`/users/a@x` and `/users/b@x` are one family; every other path is its own."""
    first = path.split("/")[1]
    return f"/{first}/*" if first in ("users", "repositories") else path


def is_export(url: str) -> bool:
    path = urlsplit(url).path
    return path.startswith("/export/") or path.endswith(".csv")


def check(request: Request, response: httpx.Response) -> str | None:
    """The problem with one response, or None."""
    if response.status_code >= 400:
        return f"HTTP {response.status_code}"
    if "server-timing" not in response.headers:
        return f"HTTP {response.status_code} without a Server-Timing header"
    if is_export(request.url):
        kind = response.headers.get("content-type", "")
        if response.status_code != 200 or not kind.startswith("text/csv"):
            return f"export answered HTTP {response.status_code} {kind!r}, expected 200 text/csv"
    return None


def crawl(client: httpx.Client, base: str) -> tuple[dict[Request, str], list[str], int]:
    """Breadth-first from `/` within the caps above.

    Returns every request fetched → its first referrer, the failures as text lines, and the number of pages parsed.
    """
    start = Request(f"{base}/")
    seen: dict[Request, str] = {start: "(start)"}
    per_path: Counter[str] = Counter({"/": 1})
    per_family: Counter[str] = Counter({"/": 1})
    queue = deque([start])
    failures: list[str] = []
    parsed = 0
    while queue:
        request = queue.popleft()
        headers = (
            {"HX-Request": "true", "HX-Target": request.hx_target, "HX-Current-URL": seen[request]}
            if request.hx_target
            else {}
        )
        try:
            response = client.get(request.url, headers=headers)
        except httpx.HTTPError as exc:
            failures.append(f"{request.url} → {type(exc).__name__}: {exc}  (from {seen[request]})")
            continue
        problem = check(request, response)
        if problem:
            target = f" [HX-Target: {request.hx_target}]" if request.hx_target else ""
            failures.append(f"{request.url}{target} → {problem}  (from {seen[request]})")
        found: list[Request] = []
        if response.is_redirect and "location" in response.headers:
            found.append(Request(response.headers["location"]))
        elif "text/html" in response.headers.get("content-type", ""):
            collector = LinkCollector()
            collector.feed(response.text)
            collector.close()
            found = collector.requests
            parsed += 1
        for link in found:
            url = same_origin(base, request.url, link.url)
            if url is None:
                continue
            candidate, path = Request(url, link.hx_target), urlsplit(url).path
            if candidate in seen or len(seen) >= MAX_REQUESTS:
                continue
            if per_path[path] >= MAX_PER_PATH or per_family[family(path)] >= MAX_PER_FAMILY:
                continue
            seen[candidate] = request.url
            per_path[path] += 1
            per_family[family(path)] += 1
            queue.append(candidate)
    return seen, failures, parsed


def test_every_reachable_url_answers_without_error(demo_app):
    client = sign_in(demo_app.url, ADMIN)
    try:
        started = time.monotonic()
        seen, failures, parsed = crawl(client, demo_app.url)
        elapsed = time.monotonic() - started
    finally:
        client.close()
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    fetched = [f"{r.url}" + (f" [HX-Target: {r.hx_target}]" if r.hx_target else "") for r in seen]
    REPORT.write_text("\n".join([f"{len(failures)} failures", *failures, "", f"{len(seen)} fetched", *fetched]) + "\n")
    paths = {urlsplit(r.url).path.split("/")[1] for r in seen}
    print(f"crawled {len(seen)} requests ({parsed} HTML pages) in {elapsed:.1f}s; sections: {sorted(paths)}")
    # The crawl must actually have reached the app's page families, not stopped at a sign-in redirect.
    for section in ("", "team", "usage", "commits", "users", "repositories", "status", "tips", "mappings", "export"):
        assert section in paths, f"the crawl never reached /{section}: {sorted(paths)}"
    assert not failures, f"{len(failures)} failing URLs of {len(seen)}:\n" + "\n".join(failures)
